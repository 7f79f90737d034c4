"""The loop's own callbacks: the finite-loss check, the time limit and early stopping.

The protocol they follow (``Callback``, four hooks called with the running ``TrainingLoop``) is in
``loop.py``; checkpoints are in ``checkpoint.py``, grids and plots in ``plots.py``, progress in
``progress.py``, scores during training in ``scoring.py`` and DDP in ``distributed.py``.
"""

from __future__ import annotations

import math
import time

import torch

from genforge.errors import ParameterError, TrainingError
from genforge.training.loop import Callback, TrainingLoop


class FiniteCheck(Callback):
    """Stops a diverged run with a TrainingError naming the losses that became NaN or infinite, before the
    epoch's checkpoint is written (so the last good one is kept)."""

    order = -30

    def on_step_end(self, loop: TrainingLoop, metrics: dict[str, torch.Tensor]) -> None:
        if loop.running_means is not None:
            self._check(loop, loop.running_means, epoch=loop.state.epoch + 1, good=loop.state.epoch)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        # At an epoch's end ``running_means`` holds the epoch's means of the step metrics.
        self._check(loop, loop.running_means or {}, epoch=loop.state.epoch, good=loop.state.epoch - 1)

    @staticmethod
    def _check(loop: TrainingLoop, means: dict[str, float], epoch: int, good: int) -> None:
        bad = [name for name, value in means.items() if isinstance(value, float) and not math.isfinite(value)]
        if not bad:
            return
        run_dir = loop.config.run_dir
        where = f"the last good checkpoint (epoch {good}) is in {run_dir}" if good else "no checkpoint was written yet"
        raise TrainingError(
            f"Training diverged: {', '.join(bad)} became NaN or infinite in epoch {epoch} "
            f"(step {loop.state.step}); {where}. Lower the learning rates, or try another loss or spectral_norm=True."
        )


class TimeLimit(Callback):
    """Stops after ``seconds`` of training (``max_runtime_secs``), in the middle of an epoch if need be."""

    order = -15
    stops_mid_epoch = True
    reason = "max_runtime_secs"

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)

    def on_step_end(self, loop: TrainingLoop, metrics: dict[str, torch.Tensor]) -> None:
        if time.monotonic() - loop.started >= self.seconds:
            loop.request_stop(self.reason)


class EarlyStopping(Callback):
    """Stops when ``metric`` has not improved by ``tolerance`` (relative) for ``rounds`` epochs that record it.

    The best value and the count live in ``loop.state`` so that a resumed run continues the count."""

    def __init__(self, metric: str, rounds: int, tolerance: float = 1e-3, minimize: bool = True) -> None:
        self.metric, self.rounds, self.tolerance, self.minimize = metric, int(rounds), float(tolerance), minimize

    def on_train_start(self, loop: TrainingLoop) -> None:
        if self.metric not in loop.history_columns:
            raise ParameterError(
                f"stopping_metric {self.metric!r} is not recorded by this estimator; "
                f"choose one of: {', '.join(loop.history_columns)}."
            )

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        if self.metric not in row:
            return
        state = loop.state
        value = float(row[self.metric])
        best = state.best_metric
        sign = 1.0 if self.minimize else -1.0
        if best is None or sign * (best - value) > self.tolerance * max(abs(best), 1e-12):
            state.best_metric = value
            state.rounds_without_improvement = 0
            return
        state.rounds_without_improvement += 1
        if state.rounds_without_improvement >= self.rounds:
            loop.request_stop("early_stopping")
