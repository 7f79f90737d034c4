"""The divergence guard: training that watches itself and rolls back when it goes wrong.

``DivergenceGuard`` looks for three kinds of trouble (the ``kind`` of an event):

- ``nan``: a step metric became NaN or infinite, or (checked at each epoch's end) a network's weights did;
- ``exploding``: a loss's running mean grew past ``explode`` times its healthy scale (the largest magnitude
  it had on the run's first step and in the epochs that passed the guard), and at least ``explode`` in size;
- ``collapse``: the spread of the task's fixed-noise samples (the square root of the per-pixel variance
  across the images) fell below ``collapse`` times the spread of real training images *and* below
  ``collapse`` times the largest spread this run's generator has shown (its untrained start included), so
  that a generator that has not spread out yet, early in training, is not taken for a collapsed one.

It checks the loop's running means every ``REFRESH_STEPS`` steps (they are computed anyway: no extra
device sync) and, at each epoch's end, the epoch's means and the samples. On trouble it puts the last good
state back (``checkpoint.Snapshot``, taken after every epoch that passed: weights, EMA copies, optimizer
states, loop counters and history, RNG states; copies on the training device, so about the weights' and
optimizer states' memory once more), multiplies every learning rate by ``lr_factor``, records
the event (``events``: the model's ``training_events()``; the history's ``guard_rollbacks`` column counts
them) and trains on from there. After ``max_rollbacks`` rollbacks the next event rolls back and stops the
run (``stopped_reason == "divergence_guard"``, with a warning that says what happened and what to try); a
run that never had a good epoch raises a TrainingError instead.

Under DDP every rank checks its own numbers and the ranks agree (one small all-reduce per check), so all
of them roll back at the same step to identical weights. The guard's counters live in
``loop.state.callback_state`` and so in checkpoints: a killed, resumed run behaves as an uninterrupted one.
It takes the place of ``FiniteCheck`` when enabled (same order, -30: before scores, DDP, early stopping
and the checkpoint of a bad epoch).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from genforge.errors import TrainingError
from genforge.training.callbacks import FiniteCheck
from genforge.training.checkpoint import Snapshot
from genforge.training.loop import Callback, TrainingLoop

NAME = "divergence_guard"  # its key in loop.state.callback_state, and the stopped_reason
KINDS = ("nan", "exploding", "collapse")
COLUMN = "guard_rollbacks"
REAL_SAMPLES = 256  # real images behind the reference spread


@dataclass(frozen=True)
class GuardSettings:
    """The guard's knobs (the estimators' ``guard_*`` parameters)."""

    lr_factor: float = 0.5
    max_rollbacks: int = 3
    collapse: float = 0.1  # 0: no collapse check
    explode: float = 1000.0


def image_spread(images: np.ndarray) -> float:
    """Root mean per-pixel variance across a batch of uint8 images, pixels in [0, 1] (0: all the same)."""
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return float(np.sqrt(flat.var(axis=0).mean())) if len(flat) > 1 else 0.0


def divergence_callbacks(params: dict, info: dict) -> list[Callback]:
    """What an estimator's ``divergence_guard`` parameter asks for: the guard (recording into
    ``info["training_events"]``, the model's ``training_events()``), or, when it is off or the estimator has
    none, ``FiniteCheck``, which ends a diverged run with a TrainingError."""
    if not params.get("divergence_guard"):
        return [FiniteCheck()]
    settings = GuardSettings(lr_factor=params["guard_lr_factor"], max_rollbacks=params["guard_max_rollbacks"],
                             collapse=params["guard_collapse"], explode=params["guard_explode"])
    return DivergenceGuard(settings, info.setdefault("training_events", [])).callbacks()


def event_line(event: dict) -> str:
    """One line for a ``training_events()`` entry (the CLI prints one per event)."""
    return (f"divergence guard: epoch {event['epoch']}, step {event['step']}: {event['kind']} -> {event['action']} "
            f"({event['evidence']})")


class DivergenceGuard(Callback):
    """Detects NaN/inf and exploding losses and a collapse of sample diversity; rolls back and lowers the
    learning rates. Pass ``guard.callbacks()`` to the loop (the guard and the keeper of its snapshots)."""

    order = -30
    columns = (COLUMN,)

    def __init__(self, settings: GuardSettings, events: list[dict]) -> None:
        self.settings = settings
        self.events = events  # appended to as things happen, so that checkpoints hold them
        self.snapshot: Snapshot | None = None
        self.real_spread: float | None = None
        self.spread: float | None = None  # the latest epoch's sample spread
        self.comm_device: torch.device | None = None  # set under DDP

    def callbacks(self) -> list[Callback]:
        return [self, _Keeper(self)]

    # ------------------------------------------------------------------------------ hooks
    def on_train_start(self, loop: TrainingLoop) -> None:
        mine = self._mine(loop)
        if hasattr(loop.task, "lr_scale"):  # a task that sets its learning rate each step (a warm-up)
            loop.task.lr_scale = mine["lr_scale"]
        if loop.config.world_size > 1 and dist.is_available() and dist.is_initialized():
            self.comm_device = loop.config.device if dist.get_backend() == "nccl" else torch.device("cpu")
        if self.settings.collapse > 0:
            frame = loop.frame
            count = min(len(frame), REAL_SAMPLES)
            index = np.sort(np.random.default_rng(0).choice(len(frame), count, replace=False))
            self.real_spread = image_spread(np.asarray(frame.images[index]))

    def on_step_end(self, loop: TrainingLoop, metrics: dict[str, torch.Tensor]) -> None:
        mine = self._mine(loop)
        if not mine["scales"]:  # the run's first step: the losses' starting scale (one sync, once)
            losses = {k: v for k, v in metrics.items() if "loss" in k}
            values = self._max_over_ranks(torch.stack([v.float() for v in losses.values()]).tolist() if losses else [])
            mine["scales"] = {k: abs(v) for k, v in zip(losses, values) if math.isfinite(v)} or {"": 0.0}
        if loop.running_means is not None:
            self._check(loop, loop.running_means, None, epoch_end=False)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        row[COLUMN] = self._mine(loop)["rollbacks"]
        self.spread = self.sample_spread(loop) if self.settings.collapse > 0 else None
        self._check(loop, loop.running_means or {}, self.spread, epoch_end=True)

    @staticmethod
    def broken_networks(loop: TrainingLoop) -> list[str]:
        """Networks with a NaN or infinite weight or buffer. The epoch's last update shows in no loss yet,
        and the snapshot taken after a good epoch must not hold it (one device sync per epoch)."""
        names, norms = [], []
        for name, module in loop.task.modules.items():
            tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
            if tensors:
                names.append(name)
                norms.append(torch.stack(torch._foreach_norm(tensors)).float().sum())
        finite = torch.isfinite(torch.stack(norms)).tolist() if norms else []
        return [name for name, ok in zip(names, finite) if not ok]

    # ------------------------------------------------------------------------------ checks
    def sample_spread(self, loop: TrainingLoop) -> float | None:
        """The spread of the task's fixed-noise sample grid (None for a task that makes no images)."""
        devices = [loop.config.device] if loop.config.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # sampling must not move the training RNG stream
            grid = loop.task.sample_grid()
        return image_spread(grid) if grid is not None else None

    def findings(self, means: dict[str, float], scales: dict[str, float], spread: float | None,
                 peak: float | None) -> dict[str, str]:
        """Each kind of trouble in ``means`` (and ``spread``) with its evidence; empty when healthy."""
        found: dict[str, str] = {}
        bad = [k for k, v in means.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            found["nan"] = f"{', '.join(bad)} became NaN or infinite"
        limit = self.settings.explode
        for name, value in means.items():
            if "loss" in name and name not in bad and isinstance(value, float):
                scale = scales.get(name, 0.0)
                if abs(value) > limit * max(scale, 1.0):
                    found.setdefault("exploding", f"{name} reached {value:.4g}, over {limit:g} times its healthy "
                                                  f"scale {scale:.3g}")
        ratio, real = self.settings.collapse, self.real_spread
        if spread is not None and real and real > 1e-6 and spread < ratio * real and spread < ratio * (peak or 0.0):
            found["collapse"] = (f"fixed-noise samples spread {spread:.4f}, {spread / real:.3f} of the real images' "
                                 f"{real:.4f} and down from {peak:.4f} (limit {ratio:g} of both)")
        return found

    def _check(self, loop: TrainingLoop, means: dict[str, float], spread: float | None, epoch_end: bool) -> None:
        mine = self._mine(loop)
        found = self.findings(means, mine["scales"], spread, mine["peak_spread"])
        broken = self.broken_networks(loop) if epoch_end and "nan" not in found else []
        if broken:
            found["nan"] = f"the weights of the {', '.join(broken)} became NaN or infinite"
        # One reduction carries the flags and, at an epoch's end, the scales this epoch would add.
        # Every rank has the same metric names at the same steps, so the vectors line up.
        names = [k for k, v in means.items() if "loss" in k and isinstance(v, float)] if epoch_end else []
        flags = [1.0 if kind in found else 0.0 for kind in KINDS]
        values = self._max_over_ranks(flags + [abs(means[k]) if math.isfinite(means[k]) else 0.0 for k in names])
        kinds = [kind for kind, flag in zip(KINDS, values) if flag > 0]
        if not kinds:
            if epoch_end:  # a good epoch: its scales and spread count as healthy from now on
                for name, value in zip(names, values[len(KINDS):]):
                    mine["scales"][name] = max(mine["scales"].get(name, 0.0), value)
                if spread is not None:
                    mine["peak_spread"] = max(mine["peak_spread"] or 0.0, spread)
            return
        kind = kinds[0]
        evidence = self._agreed_evidence(found.get(kind, ""))
        epoch = loop.state.epoch if epoch_end else loop.state.epoch + 1
        self._act(loop, kind, evidence, epoch)

    def _act(self, loop: TrainingLoop, kind: str, evidence: str, epoch: int) -> None:
        mine = dict(self._mine(loop))
        stop = mine["rollbacks"] >= self.settings.max_rollbacks
        evidence = f"{evidence}; learning rates at {mine['lr_scale']:g}x the given ones"  # repeated events differ here
        self.events.append({"epoch": int(epoch), "step": int(loop.state.step), "kind": kind, "evidence": evidence,
                            "action": "stop" if stop else "rollback"})
        factor = 1.0 if stop else self.settings.lr_factor
        rates = [[group["lr"] for group in opt.param_groups] for opt in loop.task.optimizers.values()]
        assert self.snapshot is not None, "the keeper takes a snapshot before the first step"
        self.snapshot.restore(loop)
        for optimizer, old in zip(loop.task.optimizers.values(), rates):
            for group, lr in zip(optimizer.param_groups, old):
                group["lr"] = lr * factor
        if not stop:
            mine["rollbacks"] += 1
            mine["lr_scale"] *= factor
            if hasattr(loop.task, "lr_scale"):
                loop.task.lr_scale = mine["lr_scale"]
        loop.state.callback_state[NAME] = mine  # the guard's own counters do not roll back
        loop.rewind()
        if stop:
            self._stop(loop, kind, evidence)

    def _stop(self, loop: TrainingLoop, kind: str, evidence: str) -> None:
        done = self.settings.max_rollbacks
        event = self.events[-1]
        spent = (f"again after {done} rollback{'s' if done != 1 else ''} (guard_max_rollbacks={done})" if done
                 else "(guard_max_rollbacks=0: no rollback allowed)")
        what = f"Training diverged {spent}: {kind} in epoch {event['epoch']} (step {event['step']}): {evidence}."
        advice = ("Lower the learning rates (for a GAN, or try another loss or spectral_norm=True); a larger "
                  "guard_max_rollbacks allows more retries.")
        if loop.state.epoch == 0:
            raise TrainingError(f"{what} No epoch trained without trouble, so there is no model to keep. {advice}")
        warnings.warn(f"{what} Stopped; the model is the last good state, after epoch {loop.state.epoch}. {advice}",
                      UserWarning, stacklevel=2)
        loop.request_stop(NAME)

    # ------------------------------------------------------------------------------ state and ranks
    @staticmethod
    def _mine(loop: TrainingLoop) -> dict[str, Any]:
        return loop.state.callback_state.setdefault(
            NAME, {"rollbacks": 0, "lr_scale": 1.0, "scales": {}, "peak_spread": None})

    def _max_over_ranks(self, values: list[float]) -> list[float]:
        """The element-wise maximum of ``values`` over the ranks of a DDP job (``values`` itself alone)."""
        if self.comm_device is None or not values:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tensor.tolist()

    def _agreed_evidence(self, evidence: str) -> str:
        """The first rank's evidence of the agreed kind, so that every rank records the same event."""
        if self.comm_device is None:
            return evidence
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, evidence)
        return next((text for text in gathered if text), evidence)


class _Keeper(Callback):
    """Takes the guard's snapshot once an epoch has passed every callback (early stopping's counters, the
    scores' columns and DDP's averaged buffers included), and at the start of a run."""

    order = 25

    def __init__(self, guard: DivergenceGuard) -> None:
        self.guard = guard

    def on_train_start(self, loop: TrainingLoop) -> None:
        # After DDP's on_train_start: every rank holds rank 0's weights by now.
        if self.guard.settings.collapse > 0:
            mine = self.guard._mine(loop)
            spread = self.guard.sample_spread(loop)
            if spread is not None:
                mine["peak_spread"] = max(mine["peak_spread"] or 0.0, spread)
        self.guard.snapshot = Snapshot(loop)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        self.guard.snapshot = Snapshot(loop)
