"""The run folder of one ``train()`` call: where checkpoints, sample grids and ``history.png`` go.

Policy, in one place:

- ``run_dir`` not given: a fresh temporary folder, removed when ``train()`` returns (the estimator's
  ``last_run_dir`` is then None). When training fails after a checkpoint was written, the folder is
  kept, since the error names it as the place to resume from (``last_run_dir`` says where).
- ``run_dir`` given: used and kept. If it holds another run's checkpoint, ``train()`` refuses unless
  ``overwrite=True``, which removes that run's checkpoint, sample grids and history.png first (and says
  so with a ReplacedWarning). Resuming from that folder's own checkpoint (``checkpoint=run_dir +
  "/checkpoint"``) continues the run, so it needs no overwrite.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genforge.errors import OverwriteError, ParameterError
from genforge.files import say_replaced
from genforge.model_folder import META_FILE, find_model_folder
from genforge.serialization import read_json
from genforge.training.checkpoint import CHECKPOINT_DIR as CHECKPOINT
# What a run writes into its folder; overwrite=True removes these and nothing else of a user's folder.
RUN_OUTPUTS = (CHECKPOINT, CHECKPOINT + ".old", "samples", "history.png")


@dataclass
class RunFolder:
    """An opened run folder; ``close()`` when training ends (also when it fails)."""

    path: Path
    temporary: bool
    _ambient: Any = field(default=None, repr=False)

    def close(self) -> str | None:
        """Remove a temporary folder (kept when failing with a checkpoint in it); returns what the
        estimator's ``last_run_dir`` should say: the folder's path, or None when it is gone."""
        if not self.temporary:
            return str(self.path)
        # Called from train()'s ``finally``: an exception other than one already being handled when the
        # folder was opened (train() called inside an ``except`` block) is this run failing.
        failing = sys.exc_info()[1] is not None and sys.exc_info()[1] is not self._ambient
        if failing and find_model_folder(self.path / CHECKPOINT) is not None:
            return str(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        return None


def open_run_folder(run_dir: str | Path | None, checkpoint: str | Path | None = None,
                    overwrite: bool = False) -> RunFolder:
    """The run folder for a ``train()`` call with these parameters (see the module's policy)."""
    ambient = sys.exc_info()[1]
    if not run_dir:
        return RunFolder(Path(tempfile.mkdtemp(prefix="genforge-run-")), True, ambient)
    path = Path(run_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ParameterError(f"run_dir {str(path)!r} is a file; run_dir must be a folder (it is created if missing).")
    previous = find_model_folder(path / CHECKPOINT)
    if previous is None:
        return RunFolder(path, False, ambient)
    if checkpoint and _same_path(Path(checkpoint).expanduser(), path / CHECKPOINT, previous):
        return RunFolder(path, False, ambient)  # resuming this very run
    what = _describe(previous)
    if not overwrite:
        raise OverwriteError(
            f"run_dir {str(path)!r} holds the checkpoint of another run ({what}). Pass overwrite=True to replace "
            f"it, another run_dir, or checkpoint={str(path / CHECKPOINT)!r} to continue that run.",
            suggests={"overwrite": True, "checkpoint": str(path / CHECKPOINT)},
        )
    for name in RUN_OUTPUTS:
        target = path / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)  # ignore_errors: under DDP every rank gets here
        elif target.exists():
            target.unlink(missing_ok=True)
    say_replaced(path / CHECKPOINT, f" (the checkpoint of {what}, with its sample grids and history.png)")
    return RunFolder(path, False, ambient)


def _same_path(given: Path, own: Path, found: Path) -> bool:
    try:
        return given.resolve() in (own.resolve(), found.resolve())
    except OSError:
        return False


def _describe(folder: Path) -> str:
    """``model gan-2026... after 3 epochs``, from the checkpoint's model.json, as far as it can be read."""
    try:
        meta = read_json(folder / META_FILE)
    except Exception:  # a damaged checkpoint is still another run's: say less, refuse the same
        return "an unreadable model.json"
    epochs = len(meta.get("history") or [])
    return f"model {meta.get('model_id')!r} after {epochs} epoch{'s' if epochs != 1 else ''}"
