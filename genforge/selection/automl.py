"""``gf.AutoML``: a leaderboard of trained generators for a frame and a budget, as H2OAutoML.

    aml = gf.AutoML(max_runtime_secs=1200, seed=1, project_name="fashion")
    aml.train(training_frame=train, validation_frame=valid)
    aml.leaderboard                      # model_id, algo, status, fid, kid, precision, recall, ...
    aml.leader.predict(64).to_png("best.png")

It searches GAN, VAE and, where diffusers is installed, the diffusion estimator over their main settings
(``space``), starting from their tuned defaults, and spends the budget by successive halving
(``schedule``): rounds of ``reduction_factor ** (rungs - 1)`` candidates trained briefly, the best
``1 / reduction_factor`` of each rung resumed from their checkpoints for ``reduction_factor`` times as
long. With a time budget (and no ``min_epochs``) the rungs are seconds of training: one round sized to take
``EXPLORE_SHARE`` of the budget, then the leader is resumed for all the time left; with ``min_epochs`` (or
only ``max_models``) they are epochs, and rounds follow one another while the budget lasts. The search
lives in an Optuna study (``storage``), so ``train`` again resumes it and ``genforge automl worker``
processes can join it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from genforge.errors import ParameterError
from genforge.frame import Frame
from genforge.selection.leaderboard import check_sort_metric
from genforge.selection.results import SearchResults, check_number, default_name
from genforge.selection.space import build_space, choose_algos

DEFAULT_RUNTIME_SECS = 3600.0  # H2OAutoML's when neither max_runtime_secs nor max_models is given
# Of a time budget, the successive-halving round's training is planned to take EXPLORE_SHARE, and exploring
# with the units' scoring may take EXPLORE_CAP. Small, because on short budgets every model is far from
# converged: the default GAN's test FID on fashion-mnist falls as about t ** -0.54 over 6-20 minutes, so
# each second not spent on the leader costs it (docs/automl.md, "Measured").
EXPLORE_SHARE = 1 / 4
EXPLORE_CAP = 1 / 3
MIN_RUNG_SECS = 10.0  # the shortest first rung of a time budget
EPOCH_CAP = 100000  # time rungs: epochs only cap a run, the rung's seconds end it
STEPS_AT_FIRST_RUNG = 300  # min_epochs="auto": about this many optimisation steps (of 64 images) per candidate


class AutoML(SearchResults):
    """Search the platform's generators for a frame; see the module docstring.

    ``max_runtime_secs``: seconds of work summed over the trials (one process: about its wall-clock time);
    ``max_models``: candidates to try. ``memorization_threshold``: a candidate whose memorization (share of
    samples that are near-copies of training images) is above it is flagged ``memorizes`` and cannot lead.
    ``out``: where models, checkpoints and (with ``storage=None``) the study's SQLite file go (default
    ``automl/<project_name>``). ``fixed_params``: estimator parameters every candidate takes (e.g.
    ``{"device": "cpu"}``), left out of the search. ``score_samples``: generated images behind each score.
    """

    def __init__(self, max_runtime_secs: float | None = None, max_models: int | None = None,
                 include_algos: list[str] | None = None, exclude_algos: list[str] | None = None,
                 sort_metric: str = "fid", seed: int | None = None, project_name: str | None = None,
                 storage: str | None = None, out: str | Path | None = None, memorization_threshold: float = 0.1,
                 min_epochs: int | None = None, reduction_factor: int = 3, rungs: int = 3,
                 score_samples: int = 1000, evaluator: str | None = None, fixed_params: dict | None = None,
                 verbose: bool = True) -> None:
        self.max_runtime_secs = check_number(max_runtime_secs, "max_runtime_secs", 0)
        self.max_models = check_number(max_models, "max_models", 1, int)
        if not self.max_runtime_secs and self.max_models is None:
            self.max_runtime_secs = DEFAULT_RUNTIME_SECS
        self.algos = choose_algos(include_algos, exclude_algos)
        self.sort_metric = check_sort_metric(sort_metric)
        self.seed = check_number(seed, "seed", 0, int)
        self.project_name = project_name or default_name("automl")
        self.storage = storage
        self.out = Path(out) if out is not None else Path("automl") / self.project_name
        threshold = check_number(memorization_threshold, "memorization_threshold", 0)
        if threshold > 1:
            raise ParameterError(f"memorization_threshold is a share of samples in [0, 1], got {threshold}.")
        self.memorization_threshold = threshold
        self.min_epochs = check_number(min_epochs, "min_epochs", 1, int)
        self.reduction_factor = check_number(reduction_factor, "reduction_factor", 2, int, nullable=False, high=10)
        self.rungs = check_number(rungs, "rungs", 1, int, nullable=False, high=6)  # rounds of eta ** (rungs - 1)
        self.score_samples = check_number(score_samples, "score_samples", 10, int, nullable=False, high=100000)
        self.evaluator = evaluator
        if fixed_params is not None and not isinstance(fixed_params, dict):
            raise ParameterError(f"fixed_params must be a dict of estimator parameters, got {type(fixed_params).__name__}.")
        self.fixed_params = _check_fixed(dict(fixed_params or {}), self.algos)
        self.verbose = bool(verbose)

    def train(self, x: Any = None, training_frame: Frame | str | None = None, validation_frame: Frame | str | None = None,
              leaderboard_frame: Frame | str | None = None, on_result: Callable[[dict], None] | None = None) -> "AutoML":
        """Run the search (or resume this project's study) until the budget is spent; returns self.

        ``x`` may be the training frame itself (H2O's x names predictors, which images do not have).
        Candidates are scored on ``leaderboard_frame``, else ``validation_frame``, else a held-out tenth
        of the training frame. ``on_result(row)`` is called with each candidate's leaderboard row when it
        is scored or fails (a promoted candidate again at each rung)."""
        self._open(x, training_frame, validation_frame, leaderboard_frame, on_result, run=True)
        return self

    def prepare(self, x: Any = None, training_frame: Frame | str | None = None,
                validation_frame: Frame | str | None = None, leaderboard_frame: Frame | str | None = None) -> "AutoML":
        """Create (or check) the study as ``train`` would, and run nothing: ``run_worker`` processes
        (``genforge automl worker``) then run it. ``storage_url`` says where it is."""
        self._open(x, training_frame, validation_frame, leaderboard_frame, None, run=False)
        return self

    def _open(self, x, training_frame, validation_frame, leaderboard_frame, on_result, run: bool) -> None:
        if training_frame is None and isinstance(x, (Frame, str, Path)):
            training_frame = x
        self._start(self.project_name, self.storage, self.out,
                    {"training": training_frame, "validation": validation_frame, "leaderboard": leaderboard_frame},
                    self._config_for, self._budget(), on_result, self.verbose, run)

    def _budget(self) -> dict:
        return {"max_runtime_secs": self.max_runtime_secs or None, "max_models": self.max_models}

    def _config_for(self, training: Frame) -> dict:
        eta, size = self.reduction_factor, self.reduction_factor ** (self.rungs - 1)
        config = {
            "kind": "automl", "algos": self.algos, "space": build_space(self.algos, self.fixed_params, training),
            "fixed_params": self.fixed_params, "seed": self.seed if self.seed is not None else _new_seed(),
            "sort_metric": self.sort_metric, "memorization_threshold": self.memorization_threshold,
            "score_samples": self.score_samples, "evaluator": self.evaluator, "round_size": size,
            "reduction_factor": eta,
        }
        if self.max_runtime_secs and self.min_epochs is None:
            # Rungs of training seconds: one round taking EXPLORE_SHARE of the budget, then the leader
            # resumed for the rest (see schedule). A small budget gets fewer rungs (fewer candidates)
            # rather than candidates too brief to tell apart.
            rungs = self.rungs
            while True:
                n = min(eta ** (rungs - 1), self.max_models or eta ** (rungs - 1))
                counts = _rung_counts(n, rungs, eta, min(n, len(self.algos)))
                cost = sum(c * (eta ** k - (eta ** (k - 1) if k else 0)) for k, c in enumerate(counts))
                first = EXPLORE_SHARE * self.max_runtime_secs / cost
                if first >= MIN_RUNG_SECS or rungs == 1:
                    break
                rungs -= 1
            config.update(rungs=[None] * rungs, rung_secs=[first * eta ** k for k in range(rungs)], exploit=True,
                          total_candidates=n, round_size=n, epoch_cap=EPOCH_CAP,
                          explore_secs=EXPLORE_CAP * self.max_runtime_secs)
        else:
            epochs = self.min_epochs or max(1, min(50, math.ceil(STEPS_AT_FIRST_RUNG * 64 / max(1, len(training)))))
            config.update(rungs=[epochs * eta ** k for k in range(self.rungs)])
        return config

    def __repr__(self) -> str:
        state = f", {self.leaderboard.summary()}" if self._study is not None else ""
        return f"AutoML(project_name={self.project_name!r}{state})"


def _rung_counts(n: int, rungs: int, eta: int, algos: int) -> list[int]:
    """How many candidates of a round of ``n`` train at each rung: the best ``1 / eta`` of the rung below
    and the best of each other algorithm (the round's first candidates are each algorithm's defaults),
    as ``schedule`` promotes them."""
    counts = [n]
    for _ in range(1, rungs):
        counts.append(min(counts[-1], max(1, counts[-1] // eta) + algos - 1))
    return counts


def _check_fixed(fixed: dict, algos: list[str]) -> dict:
    """Fixed parameters must belong to at least one searched algorithm and pass its checks."""
    import json

    from genforge.estimators import get_estimator

    managed = {"checkpoint", "run_dir", "overwrite", "epochs", "seed"}
    for name, value in fixed.items():
        if name in managed:
            raise ParameterError(f"fixed_params[{name!r}]: AutoML sets {name} itself (rungs of epochs, a seed per "
                                 "candidate from AutoML(seed=...), one run folder per candidate).")
        owners = [a for a in algos if name in get_estimator(a).PARAMS]
        if not owners:
            raise ParameterError(f"fixed_params[{name!r}] is not a parameter of {', '.join(algos)}.")
        for algo in owners:
            get_estimator(algo).PARAMS[name].validate(value)
        try:
            json.dumps(value)
        except TypeError:
            raise ParameterError(f"fixed_params[{name!r}] must be plain data (stored in the study).") from None
    return fixed


def _new_seed() -> int:
    from genforge.training.runtime import new_seed

    return new_seed()
