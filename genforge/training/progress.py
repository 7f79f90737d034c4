"""Progress of a run: the tqdm bar (images/s, ETA, running means) and snapshots for a reporter (the server's
workers write them to the job's row)."""

from __future__ import annotations

import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from genforge.training.loop import Callback, TrainingLoop


def _totals(loop: TrainingLoop) -> tuple[int, int]:
    """Images of the whole run and images done so far (earlier runs of a resumed one included)."""
    per_epoch = loop.plan.steps_per_epoch * loop.plan.images_per_step
    return loop.config.epochs * per_epoch, loop.resumed_epochs * per_epoch + loop.images_done


class ProgressBar(Callback):
    """A tqdm bar on the main process, refreshed with the running means every few steps."""

    order = 20

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_train_start(self, loop: TrainingLoop) -> None:
        if loop.is_main_process:
            total, done = _totals(loop)
            self.bar = tqdm(total=total, initial=done, unit="img", unit_scale=True, dynamic_ncols=True, leave=True)

    def on_step_end(self, loop: TrainingLoop, metrics: dict[str, torch.Tensor]) -> None:
        if self.bar is None:
            return
        self.bar.update(loop.last_step_images)
        if loop.running_means is not None:
            values = {"epoch": loop.state.epoch + 1, **loop.running_means}
            self.bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in values.items()},
                                 refresh=False)

    def on_train_end(self, loop: TrainingLoop) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_snapshot(loop: TrainingLoop, row: dict | None = None) -> dict:
    """What a reporter receives: counters, 0..1 progress, images/s and ETA of this run, the running means,
    and at an epoch's end the history so far."""
    total, done = _totals(loop)
    elapsed = max(time.monotonic() - loop.started, 1e-9)
    rate = loop.images_done / elapsed
    remaining = max(total - done, 0)
    state = loop.state
    return {
        "epoch": state.epoch, "epochs": loop.config.epochs, "step": state.step,
        "progress": min(done / total, 1.0) if total else 1.0,
        "images_per_sec": round(rate, 1), "eta_secs": round(remaining / rate, 1) if rate > 0 else None,
        "metrics": dict(loop.running_means or {}), "epoch_end": row is not None,
        "history": state.history if row is not None else None,
    }


class ProgressReport(Callback):
    """Calls ``report(progress_snapshot(...))`` on the main process every few steps and after each epoch
    (once its checkpoint is written)."""

    order = 20

    def __init__(self, report: Callable[[dict], None]) -> None:
        self.report = report

    def on_step_end(self, loop: TrainingLoop, metrics: dict[str, torch.Tensor]) -> None:
        if loop.is_main_process and loop.running_means is not None:
            self.report(progress_snapshot(loop))

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        if loop.is_main_process:
            self.report(progress_snapshot(loop, row))
