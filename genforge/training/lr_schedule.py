"""Learning-rate schedules: the factor every given learning rate is multiplied by at a step.

``"constant"`` keeps the rates; ``"cosine"`` decays them to 0 over the loop's planned steps (all the
epochs, a checkpoint's included) or, when ``max_runtime_secs`` ends this ``train()`` sooner, over those
seconds from its start. The time form is what lets a run with a deadline and no known length (a time-limited
run, AutoML's exploited leader) still end annealed. The factor is a function of the step (and, under a time
limit, the clock), so there is no scheduler state to save: resuming a step-planned run continues its decay
exactly; a time-limited resume decays over its own seconds.
"""

from __future__ import annotations

import math
import time

import torch

from genforge.training.loop import TrainingPlan

LR_SCHEDULES = ("constant", "cosine")


class LRSchedule:
    """``factor(step)`` for ``kind`` (one of ``LR_SCHEDULES``); ``start(plan)`` when the loop begins."""

    def __init__(self, kind: str, max_runtime_secs: float = 0.0) -> None:
        if kind not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {kind!r}")
        self.kind = kind
        self.max_runtime_secs = float(max_runtime_secs or 0.0)
        self.plan: TrainingPlan | None = None
        self._started: float | None = None

    @property
    def active(self) -> bool:
        """Whether the rates change during training (a constant schedule leaves the optimizers alone)."""
        return self.kind != "constant"

    def start(self, plan: TrainingPlan) -> None:
        self.plan = plan

    def progress(self, step: int) -> float:
        """How far training is, 0..1: by the plan's steps, or by ``max_runtime_secs`` from this run's start
        when that ends it sooner."""
        done = self.plan.progress(step) if self.plan is not None else 0.0
        # Not under DDP: each rank's clock differs, and their learning rates must not.
        if self.max_runtime_secs and not torch.distributed.is_initialized():
            if self._started is None:
                self._started = time.monotonic()
            done = max(done, min(1.0, (time.monotonic() - self._started) / self.max_runtime_secs))
        return done

    def factor(self, step: int) -> float:
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * self.progress(step)))
        return 1.0
