"""Scores computed during training (FID every K epochs) as extra history columns.

``ScoreEvery`` is the callback: every ``every`` epochs it adds ``scorer()``'s values to the epoch's row,
so that early stopping works on them unchanged (``stopping_metric="fid"``). Epochs in between have no value
in those columns, and early stopping counts only the epochs that have one.

The scorers themselves belong to ``genforge.metrics``, a layer above the estimators. It registers a
factory per score name here (``register_scorer``), and an estimator asked for ``score_every`` or
``stopping_metric="fid"`` builds its callback through ``score_callback(name, ...)`` without importing the
metrics; a caller may as well build the callback itself and pass it to ``train(callbacks=[...])``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from genforge.errors import ParameterError
from genforge.training.loop import Callback, TrainingLoop

# score name -> factory(model, reference, every=..., samples=..., extractor=..., seed=...) -> Callback
SCORERS: dict[str, Callable[..., Callback]] = {}


class ScoreEvery(Callback):
    """Adds ``scorer()`` (a dict of floats) to every ``every``-th epoch's row, without moving the training
    RNG stream."""

    order = -20

    def __init__(self, scorer: Callable[[], dict[str, float]], every: int, columns: Sequence[str] = ("fid",)) -> None:
        self.scorer = scorer
        self.every = max(1, int(every))
        self.columns = tuple(columns)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        if loop.state.epoch % self.every == 0:
            with torch.random.fork_rng(devices=[]):
                row.update(self.scorer())


def register_scorer(name: str, factory: Callable[..., Callback]) -> None:
    """Make ``name`` (e.g. "fid") available to estimators' ``score_every`` / ``stopping_metric``."""
    SCORERS[name] = factory


def score_callback(name: str, model: Any, reference: Any, **options: Any) -> Callback:
    """The callback that records score ``name`` of ``model`` against ``reference`` during training."""
    if name not in SCORERS:
        known = ", ".join(sorted(SCORERS)) or "none (import genforge.metrics to register them)"
        raise ParameterError(f"no score {name!r} can be computed during training; known scores: {known}.")
    return SCORERS[name](model, reference, **options)
