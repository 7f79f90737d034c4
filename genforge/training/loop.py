"""The one training loop every estimator runs.

An estimator describes *what* one optimisation step is (its phases) through a ``TrainingTask``; the loop
steps it over batches of in-memory uint8 tensors and keeps the per-epoch history. Everything else that
happens around the steps (early stopping, ``max_runtime_secs``, the finite-loss check, checkpoints, sample
grids and ``history.png``, the progress bar and progress reports, scores such as FID, DDP) is a callback
that the estimator or the caller hands in.

Callbacks (``Callback``) are called at four points with the running loop (``TrainingLoop``):

    on_train_start(loop)           once, before the first step (after a checkpoint was restored)
    on_step_end(loop, metrics)     after every optimisation step; ``metrics`` are the step's detached
                                   tensors (reading them syncs the device: use ``loop.running_means``,
                                   set every ``REFRESH_STEPS`` steps, instead)
    on_epoch_end(loop, row)        after each epoch; ``row`` is already the last entry of
                                   ``loop.state.history`` and a callback may add columns to it
    on_train_end(loop)             always, last; ``loop.error`` is set when training failed

They run in ascending ``order`` (then in the order given): the finite-loss check or the divergence guard
(-30), scores that add columns (-20) and the time limit (-15) come before DDP (-10: it averages the row and
holds back a rank's mid-epoch stop until the ranks agree), then early stopping (0), checkpoints and grids
(10), progress (20) and the guard's snapshots (25). A callback stops training with
``loop.request_stop(reason)``; one that has put ``loop.state`` (and the task) back to an earlier point, as
the divergence guard's rollback does, calls ``loop.rewind()``: the loop drops the rest of the epoch (the
callbacks after it included) and carries on from the state as it now is. The finite-loss check, the time
limit and early stopping are in ``callbacks.py``, checkpoints in ``checkpoint.py``, grids and plots in
``plots.py``, progress in ``progress.py``, scores during training in ``scoring.py``, DDP in
``distributed.py``, the divergence guard in ``guard.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Protocol

import numpy as np
import torch
from torch import nn

from genforge.frame import Frame
from genforge.training.batches import BatchSource

# Running means of the step metrics are computed every this many steps: each costs one host-device sync.
REFRESH_STEPS = 20


class Callback:
    """Base class: every hook is a no-op. ``columns``: history columns this callback adds to epoch rows."""

    order: ClassVar[int] = 0
    columns: tuple[str, ...] = ()
    # True for callbacks that may stop in the middle of an epoch: ranks of a DDP job must agree on it.
    stops_mid_epoch: ClassVar[bool] = False

    def on_train_start(self, loop: "TrainingLoop") -> None:
        """Once, before the first step."""

    def on_step_end(self, loop: "TrainingLoop", metrics: dict[str, torch.Tensor]) -> None:
        """After each optimisation step."""

    def on_epoch_end(self, loop: "TrainingLoop", row: dict) -> None:
        """After each epoch; ``row`` may be extended."""

    def on_train_end(self, loop: "TrainingLoop") -> None:
        """Always, at the end (``loop.error`` tells whether training failed)."""


@dataclass(frozen=True)
class TrainingPlan:
    """What the loop will run, handed to the task before the first step: schedules that depend on the
    length of training (KL warm-up, cosine learning rates) read it rather than counting images themselves,
    so that they follow the same course on one process and on several."""

    epochs: int
    steps_per_epoch: int
    images_per_step: int  # over all ranks
    rank: int = 0
    world_size: int = 1

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def progress(self, step: int) -> float:
        """How far ``step`` is through the planned steps, 0..1."""
        return min(step, self.total_steps) / max(self.total_steps, 1)


class TrainingTask(Protocol):
    """What an estimator hands the loop. ``train_step`` returns detached scalar tensors (no host sync)."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def start(self, plan: TrainingPlan) -> None: ...

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]: ...

    def end_epoch(self, epoch: int) -> dict[str, float]: ...

    def sample_grid(self) -> np.ndarray | None: ...

    def history_columns(self) -> list[str]: ...

    def wrap_modules(self, wrap) -> None: ...


@dataclass
class LoopConfig:
    epochs: int
    batch_size: int
    seed: int
    device: torch.device
    run_dir: Path | None = None
    drop_last: bool = True
    # This process's place in a DDP job (see training.distributed): rank r takes every world_size-th image.
    rank: int = 0
    world_size: int = 1

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0


@dataclass
class LoopState:
    """Counters that a checkpoint stores and a resumed run continues from."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimisation steps completed
    images_seen: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    rounds_without_improvement: int = 0
    stopped_reason: str | None = None
    # What callbacks must carry over a resume (plain JSON values keyed by the callback's name).
    callback_state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "epoch": self.epoch, "step": self.step, "images_seen": self.images_seen, "history": self.history,
            "best_metric": self.best_metric, "rounds_without_improvement": self.rounds_without_improvement,
            "stopped_reason": self.stopped_reason, "callback_state": self.callback_state,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LoopState":
        state = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        state.stopped_reason = None  # a resumed run goes on; old stop reasons do not carry over
        return state


class TrainingLoop:
    """A run of ``task`` on ``frame``, as the callbacks see it: ``task``, ``config``, ``state``, ``plan``,
    ``history_columns``, ``started`` (monotonic seconds), ``images_done`` (this run, all ranks),
    ``running_means`` and ``error``."""

    def __init__(self, task: TrainingTask, frame: Frame, config: LoopConfig,
                 callbacks: Iterable[Callback] = (), state: LoopState | None = None) -> None:
        self.task, self.frame, self.config = task, frame, config
        self.state = state or LoopState()
        self.callbacks = sorted(callbacks, key=lambda callback: callback.order)
        columns = list(task.history_columns())
        self.history_columns = columns + [c for cb in self.callbacks for c in cb.columns if c not in columns]
        self.batches = BatchSource(frame, config.batch_size, config.seed, config.device, drop_last=config.drop_last,
                                   rank=config.rank, world_size=config.world_size)
        self.plan = TrainingPlan(config.epochs, len(self.batches), self.batches.images_per_step,
                                 config.rank, config.world_size)
        self.started = time.monotonic()
        self.resumed_epochs = self.state.epoch  # epochs done before this run (a resumed checkpoint's)
        self.images_done = 0
        self.last_step_images = 0
        self.running_means: dict[str, float] | None = None
        self.error: BaseException | None = None
        self._rewound = False

    @property
    def is_main_process(self) -> bool:
        return self.config.is_main_process

    def request_stop(self, reason: str) -> None:
        """End training after the current step (or epoch); ``reason`` becomes ``stopped_reason``."""
        self.state.stopped_reason = reason

    def rewind(self) -> None:
        """Drop the rest of the current epoch, the callbacks still to run included: the caller has put
        ``state`` (and the task) back to an earlier point, from which the loop carries on."""
        self._rewound = True
        self.running_means = None

    def _take_rewind(self) -> bool:
        rewound, self._rewound = self._rewound, False
        return rewound

    def run(self) -> LoopState:
        """Train until ``config.epochs`` epochs are done or a callback stops it; returns the final state."""
        state, task = self.state, self.task
        task.start(self.plan)
        self.started = time.monotonic()
        try:
            for callback in self.callbacks:
                callback.on_train_start(self)
            while state.epoch < self.config.epochs and state.stopped_reason is None:
                if not self._run_epoch():
                    break
        except BaseException as error:
            self.error = error
            raise
        finally:
            for callback in self.callbacks:
                callback.on_train_end(self)
        return state

    def _run_epoch(self) -> bool:
        """One epoch (or its part up to a stop); False when it had no step at all."""
        state, task = self.state, self.task
        epoch_started = time.monotonic()
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}  # per metric: some phases (G under n_critic) skip steps
        steps = 0
        for images, labels in self.batches.epoch(state.epoch):
            metrics = task.train_step(images, labels, state.step)
            for name, value in metrics.items():
                sums[name] = sums[name] + value if name in sums else value.detach().clone()
                counts[name] = counts.get(name, 0) + 1
            state.step += 1
            steps += 1
            self.last_step_images = len(images) * self.config.world_size
            self.images_done += self.last_step_images
            self.running_means = _means(sums, counts) if state.step % REFRESH_STEPS == 0 else None
            for callback in self.callbacks:
                callback.on_step_end(self, metrics)
                if self._rewound:
                    break
            if self._take_rewind():
                return True
            if state.stopped_reason is not None:
                break
        if steps == 0:
            return False
        self.running_means = _means(sums, counts)
        state.epoch += 1
        seconds = time.monotonic() - epoch_started
        images = steps * self.batches.images_per_step
        row = {"epoch": state.epoch, "step": state.step, **self.running_means, **task.end_epoch(state.epoch),
               "seconds": round(seconds, 3), "images_per_sec": round(images / max(seconds, 1e-9), 1)}
        state.images_seen += images
        state.history.append(row)
        for callback in self.callbacks:
            callback.on_epoch_end(self, row)
            if self._take_rewind():
                break
        return True


def _means(sums: dict[str, torch.Tensor], counts: dict[str, int]) -> dict[str, float]:
    if not sums:
        return {}
    names = list(sums)
    values = torch.stack([sums[n].float() for n in names]).tolist()  # one host sync for all metrics
    return {n: round(v / counts[n], 6) for n, v in zip(names, values)}
