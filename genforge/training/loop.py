"""The one training loop every estimator runs.

An estimator describes *what* one optimisation step is (its phases) through a ``TrainingTask``; this loop
owns everything around it: device and seeding, batching over in-memory uint8 tensors, the progress bar,
per-epoch history, sample grids and ``history.png``, early stopping, ``max_runtime_secs``, NaN detection and
checkpoints that resume exactly (weights, optimizer states, step counters and RNG states).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

from genforge.errors import ParameterError, TrainingError
from genforge.frame import Frame
from genforge.training.batches import BatchSource
from genforge.training.progress import Progress


class TrainingTask(Protocol):
    """What an estimator hands the loop. ``train_step`` returns detached scalar tensors (no host sync)."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]: ...

    def end_epoch(self, epoch: int) -> dict[str, float]: ...

    def sample_grid(self) -> np.ndarray | None: ...

    def history_columns(self) -> list[str]: ...


class LoopHook:
    """Extends the loop without changing it (the distributed launcher is one); every method is a no-op here."""

    def on_start(self, task: TrainingTask, state: LoopState) -> None:
        """Once, before the first step (after any checkpoint was loaded)."""

    def on_epoch_end(self, task: TrainingTask, row: dict[str, Any]) -> None:
        """After each epoch, before the row is recorded and rank 0 writes checkpoints and grids."""

    def agree_stop(self, stop: bool) -> bool:
        """Whether to stop for ``max_runtime_secs``; ranks of one job must agree (called every step)."""
        return stop

    def on_end(self, task: TrainingTask, state: LoopState) -> None:
        """After the last epoch and its checkpoint (not when training failed)."""


@dataclass
class LoopConfig:
    epochs: int
    batch_size: int
    seed: int
    device: torch.device
    max_runtime_secs: float = 0.0
    stopping_rounds: int = 0
    stopping_metric: str | None = None
    stopping_tolerance: float = 1e-3
    minimize_metric: bool = True
    verbose: bool = True
    run_dir: Path | None = None
    drop_last: bool = True
    # Extensions called at fixed points of the loop (see LoopHook), e.g. the DDP one of training.distributed.
    hooks: list[LoopHook] = field(default_factory=list)
    # Called with (folder, training_state) to write a checkpoint; the estimator knows its own format.
    save_checkpoint: Callable[[Path, dict], None] | None = None
    # Rank-0-only side effects (checkpoints, grids, logs) are switched off on other ranks under DDP.
    is_main_process: bool = True
    sampler_rank: int = 0
    sampler_world_size: int = 1
    # Called on the main process with a progress snapshot (see ``progress_snapshot``) every few steps and
    # after each epoch's checkpoint is written; the server's workers report job progress through it.
    on_progress: Callable[[dict], None] | None = None


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


def run_training(task: TrainingTask, frame: Frame, config: LoopConfig, state: LoopState | None = None) -> LoopState:
    """Train ``task`` on ``frame`` until ``config.epochs`` epochs are done or a stopping rule fires."""
    state = state or LoopState()
    if config.stopping_rounds and config.stopping_metric not in task.history_columns():
        raise ParameterError(
            f"stopping_metric {config.stopping_metric!r} is not recorded by this estimator; "
            f"choose one of: {', '.join(task.history_columns())}."
        )
    for hook in config.hooks:
        hook.on_start(task, state)
    batches = BatchSource(frame, config.batch_size, config.seed, config.device, drop_last=config.drop_last,
                          rank=config.sampler_rank, world_size=config.sampler_world_size)
    steps_per_epoch = len(batches)
    progress = Progress(
        total_images=config.epochs * steps_per_epoch * batches.images_per_step,
        done_images=state.epoch * steps_per_epoch * batches.images_per_step,
        enabled=config.verbose and config.is_main_process,
    )
    started = time.monotonic()
    total_images = config.epochs * steps_per_epoch * batches.images_per_step
    done_at_start = state.epoch * steps_per_epoch * batches.images_per_step
    done_images = done_at_start
    report = config.on_progress if config.is_main_process else None
    try:
        while state.epoch < config.epochs and state.stopped_reason is None:
            epoch_started = time.monotonic()
            sums: dict[str, torch.Tensor] = {}
            counts: dict[str, int] = {}  # per metric: some phases (G under n_critic) skip steps
            steps_this_epoch = 0
            for images, labels in batches.epoch(state.epoch):
                metrics = task.train_step(images, labels, state.step)
                for name, value in metrics.items():
                    sums[name] = sums[name] + value if name in sums else value.detach().clone()
                    counts[name] = counts.get(name, 0) + 1
                state.step += 1
                steps_this_epoch += 1
                progress.advance(len(images) * config.sampler_world_size)
                done_images += len(images) * config.sampler_world_size
                if state.step % Progress.REFRESH_STEPS == 0:  # one host sync every few steps, not each step
                    means = _means(sums, counts)
                    _check_finite(means, state, config)
                    progress.show(epoch=state.epoch + 1, **means)
                    if report is not None:
                        report(progress_snapshot(state, config, done_images - done_at_start, done_images,
                                                 total_images, started, means))
                if config.max_runtime_secs and _agree_stop(config, time.monotonic() - started >= config.max_runtime_secs):
                    state.stopped_reason = "max_runtime_secs"
                    break
            if steps_this_epoch == 0:
                break
            means = _means(sums, counts)
            _check_finite(means, state, config)
            state.epoch += 1
            seconds = time.monotonic() - epoch_started
            images = steps_this_epoch * batches.images_per_step
            row = {"epoch": state.epoch, "step": state.step, **means}
            row.update(task.end_epoch(state.epoch))
            row.update({"seconds": round(seconds, 3), "images_per_sec": round(images / max(seconds, 1e-9), 1)})
            for hook in config.hooks:
                hook.on_epoch_end(task, row)
            state.images_seen += images
            state.history.append(row)
            _update_early_stopping(state, row, config)
            if config.is_main_process:
                _write_epoch_artifacts(task, state, config)
            if report is not None:
                report(progress_snapshot(state, config, done_images - done_at_start, done_images, total_images,
                                         started, means, row))
        for hook in config.hooks:
            hook.on_end(task, state)
    finally:
        progress.close()
    return state


def progress_snapshot(state: LoopState, config: LoopConfig, images_this_run: int, done_images: int,
                      total_images: int, started: float, metrics: dict[str, float], row: dict | None = None) -> dict:
    """What ``LoopConfig.on_progress`` receives: counters, 0..1 progress, images/s and ETA of this run."""
    elapsed = max(time.monotonic() - started, 1e-9)
    rate = images_this_run / elapsed
    remaining = max(total_images - done_images, 0)
    return {
        "epoch": state.epoch, "epochs": config.epochs, "step": state.step,
        "progress": min(done_images / total_images, 1.0) if total_images else 1.0,
        "images_per_sec": round(rate, 1), "eta_secs": round(remaining / rate, 1) if rate > 0 else None,
        "metrics": metrics, "epoch_end": row is not None, "history": state.history if row is not None else None,
    }


def _agree_stop(config: LoopConfig, stop: bool) -> bool:
    for hook in config.hooks:
        stop = hook.agree_stop(stop)
    return stop


def _means(sums: dict[str, torch.Tensor], counts: dict[str, int]) -> dict[str, float]:
    if not sums:
        return {}
    names = list(sums)
    values = torch.stack([sums[n].float() for n in names]).tolist()  # one host sync for all metrics
    return {n: round(v / counts[n], 6) for n, v in zip(names, values)}


def _check_finite(means: dict[str, float], state: LoopState, config: LoopConfig) -> None:
    bad = [name for name, value in means.items() if not math.isfinite(value)]
    if bad:
        where = f"the last good checkpoint (epoch {state.epoch}) is in {config.run_dir}" if state.epoch else "no checkpoint was written yet"
        raise TrainingError(
            f"Training diverged: {', '.join(bad)} became NaN or infinite in epoch {state.epoch + 1} "
            f"(step {state.step}); {where}. Lower the learning rates, or try another loss or spectral_norm=True."
        )


def _update_early_stopping(state: LoopState, row: dict, config: LoopConfig) -> None:
    if not config.stopping_rounds or config.stopping_metric not in row:
        return
    value = float(row[config.stopping_metric])
    best = state.best_metric
    sign = 1.0 if config.minimize_metric else -1.0
    if best is None or sign * (best - value) > config.stopping_tolerance * max(abs(best), 1e-12):
        state.best_metric = value
        state.rounds_without_improvement = 0
    else:
        state.rounds_without_improvement += 1
        if state.rounds_without_improvement >= config.stopping_rounds:
            state.stopped_reason = "early_stopping"


def _write_epoch_artifacts(task: TrainingTask, state: LoopState, config: LoopConfig) -> None:
    if config.run_dir is None:
        return
    from genforge.imaging import make_grid, save_png
    from genforge.training.plots import plot_history

    config.run_dir.mkdir(parents=True, exist_ok=True)
    grid = task.sample_grid()
    if grid is not None:
        save_png(make_grid(grid), config.run_dir / "samples" / f"epoch_{state.epoch:04d}.png")
    plot_history(state.history, config.run_dir / "history.png")
    if config.save_checkpoint is not None:
        config.save_checkpoint(config.run_dir / "checkpoint", loop_state_to_dict(state))


def loop_state_to_dict(state: LoopState) -> dict:
    return {
        "epoch": state.epoch,
        "step": state.step,
        "images_seen": state.images_seen,
        "history": state.history,
        "best_metric": state.best_metric,
        "rounds_without_improvement": state.rounds_without_improvement,
        "stopped_reason": state.stopped_reason,
    }


def loop_state_from_dict(data: dict) -> LoopState:
    state = LoopState(**{k: data[k] for k in LoopState.__dataclass_fields__ if k in data})
    state.stopped_reason = None  # a resumed run goes on; old stop reasons do not carry over
    state.rounds_without_improvement = data.get("rounds_without_improvement", 0)
    return state
