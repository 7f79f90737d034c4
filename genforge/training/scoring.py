"""Scores computed during training (FID every K epochs) as extra history columns.

``ScoredTask`` wraps any TrainingTask: it adds the scorer's columns to ``history_columns`` and, every
``every`` epochs, the scorer's values to ``end_epoch``'s row, so that the loop's generic early stopping
(``stopping_metric="fid"``) works on them unchanged. Epochs in between have no value in those columns, and
early stopping counts only the epochs that have one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch


class ScoredTask:
    """A TrainingTask that also records ``scorer()`` (a dict of floats) every ``every`` epochs."""

    def __init__(self, task: Any, scorer: Callable[[], dict[str, float]], every: int,
                 columns: Sequence[str] = ("fid",)) -> None:
        self._task = task
        self._scorer = scorer
        self._every = max(1, int(every))
        self._columns = list(columns)

    def __getattr__(self, name: str) -> Any:  # modules, optimizers, wrap_modules, ... of the wrapped task
        return getattr(self.__dict__["_task"], name)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]:
        return self._task.train_step(images, labels, step)

    def end_epoch(self, epoch: int) -> dict[str, float]:
        row = dict(self._task.end_epoch(epoch))
        if epoch % self._every == 0:
            with torch.random.fork_rng(devices=[]):  # scoring must not move the training RNG stream
                row.update(self._scorer())
        return row

    def sample_grid(self) -> np.ndarray | None:
        return self._task.sample_grid()

    def history_columns(self) -> list[str]:
        return list(self._task.history_columns()) + [c for c in self._columns if c not in self._task.history_columns()]
