"""What GridSearch and AutoML share: starting or resuming their study, and reading its results back."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.selection.candidate import Context
from genforge.selection.frames import frame_spec, load_frame, same_spec
from genforge.selection.leaderboard import Leaderboard, check_sort_metric
from genforge.selection.search import CONFIG_VERSION, check_version, echo_stderr, leaderboard, work
from genforge.selection.study import check_name, create_or_load, open_storage, set_config, storage_url


def default_name(prefix: str) -> str:
    return f"{prefix}_{_dt.datetime.now():%Y%m%d_%H%M%S}"


def check_number(value: Any, what: str, low: float, kind: type = float, nullable: bool = True,
                 high: float | None = None) -> Any:
    """``value`` checked as an int or float in [``low``, ``high``] (None allowed when ``nullable``)."""
    if value is None and nullable:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value != value or value < low or (high is not None and value > high) or value == float("inf"):
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise ParameterError(f"{what} must be {'an int' if kind is int else 'a number'} {bounds}, got {value!r}.")
    return kind(value)


def as_frame(value: Any, role: str) -> Frame | None:
    """A Frame for ``value`` (a Frame, a dataset name or path, or None)."""
    if value is None or isinstance(value, Frame):
        return value
    if isinstance(value, (str, Path)):
        return load_frame({"source": str(value), "options": {}})
    raise DataError(f"{role} must be a Frame or a dataset name or path, got {type(value).__name__}.")


class SearchResults:
    """The results side of a search (``leaderboard``, ``leader``, ``get_best_model``, ``models``)."""

    _study: Any = None
    _config: dict | None = None
    sort_metric: str = "fid"

    # ------------------------------------------------------------------------------ running
    _context: Context | None = None
    storage_url: str | None = None

    def _start(self, name: str, storage: str | None, out: Path, frames: dict[str, Any],
               make_config: Callable[[Frame], dict], budget: dict, on_result, verbose: bool,
               run: bool = True) -> None:
        """Create the study (or resume the existing one of this name), then (``run``) run units until done."""
        check_name(name)
        loaded = {role: as_frame(value, role) for role, value in frames.items()}
        if loaded["training"] is None:
            raise DataError("train() needs a training_frame (a Frame, or a dataset name or path).")
        for role, frame in loaded.items():
            if frame is not None and frame.image_shape != loaded["training"].image_shape:
                raise DataError(f"{role} images are {frame.image_shape}, training images "
                                f"{loaded['training'].image_shape}; resize one to match.")
        out = Path(out).expanduser().resolve()
        url = storage_url(storage, out)
        specs = {role: frame_spec(value if isinstance(value, (str, Path)) else loaded[role], role, out / "frames")
                 for role, value in frames.items()}
        config = {"version": CONFIG_VERSION, "out": str(out), "frames": specs, **make_config(loaded["training"]),
                  **budget}
        study, stored = create_or_load(open_storage(url), name, config)
        if stored is not config:  # resuming: same data, this object's budget
            check_version(stored)
            for role in specs:
                if not same_spec(stored["frames"].get(role), specs[role]):
                    raise ParameterError(f"study {name!r} was started with another {role} frame; pass the same "
                                         "data to resume it, or another project name for a new search.")
            config = {**stored, **budget}
            set_config(study, config)
        self._study, self._config, self.storage_url = study, config, url
        if run:
            context = Context.from_frames(config, loaded["training"], loaded.get("validation"),
                                          loaded.get("leaderboard"))
            work(study, config, on_result, echo_stderr if verbose else None, context)

    def _require(self) -> None:
        if self._study is None:
            raise ParameterError(f"this {type(self).__name__} has not run yet; call train(...) first.")

    # ------------------------------------------------------------------------------ results
    @property
    def leaderboard(self) -> Leaderboard:
        """One row per candidate (every process's), best first by the sort metric."""
        self._require()
        return leaderboard(self._study, self._config).sort(self.sort_metric)

    @property
    def leader(self):
        """The best model that may lead (status ``ok``), loaded; None when there is none."""
        return self.get_best_model()

    def get_best_model(self, algorithm: str | None = None, criterion: str | None = None):
        """The best ``ok`` model of ``algorithm`` (any when None) by ``criterion`` (default: the sort
        metric), loaded from its folder; None when none qualifies."""
        if criterion is not None:
            check_sort_metric(criterion, "criterion")
        row = self.leaderboard.best_row(algorithm=algorithm.lower() if algorithm else None, criterion=criterion)
        if row is None or not row.get("model_path"):
            return None
        from genforge.artifacts import load_model

        return load_model(row["model_path"])

    @property
    def model_ids(self) -> list[str]:
        """The ids of the scored models, in leaderboard order."""
        return [r["model_id"] for r in self.leaderboard.rows if r.get("model_path")]

    @property
    def models(self) -> list:
        """The scored models, loaded, in leaderboard order."""
        from genforge.artifacts import load_model

        return [load_model(r["model_path"]) for r in self.leaderboard.rows if r.get("model_path")]
