"""Checkpoints that resume exactly: a model folder (``model_folder``) plus the training state.

The training state is what the model folder does not hold: every optimizer's state, the loop's counters
and history (``LoopState``) and the RNG states of torch, NumPy and Python, written as JSON + safetensors
(never pickle). ``Checkpointer`` writes ``run_dir/checkpoint`` every ``every`` epochs and at the end of a
run that did not fail; ``restore`` puts a checkpoint's state back into a task and returns the loop state
to continue from. A killed run resumed from its last checkpoint ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from genforge.model_folder import find_model_folder, read_meta, read_training_state, write_model_folder
from genforge.serialization import flatten_state, unflatten_state
from genforge.training.loop import Callback, LoopState, TrainingLoop, TrainingTask
from genforge.training.runtime import restore_rng, rng_snapshot

CHECKPOINT_DIR = "checkpoint"

# () -> (model.json entries, flat weights): what the estimator saves of itself.
Describe = Callable[[], tuple[dict, dict[str, torch.Tensor]]]


class Checkpointer(Callback):
    """Writes ``folder`` (the model and the training state) on the main process after every ``every``-th
    epoch, and after the last epoch of a run that ends without an error."""

    order = 10

    def __init__(self, folder: Path, describe: Describe, every: int = 1) -> None:
        self.folder, self.describe, self.every = Path(folder), describe, max(1, int(every))
        self.written_epoch: int | None = None

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        if loop.state.epoch % self.every == 0:
            self.write(loop)

    def on_train_end(self, loop: TrainingLoop) -> None:
        if loop.error is None and loop.state.epoch > 0 and self.written_epoch != loop.state.epoch:
            self.write(loop)

    def write(self, loop: TrainingLoop) -> None:
        if not loop.is_main_process:
            return
        meta, tensors = self.describe()
        meta = {**meta, "history": loop.state.history}
        optimizers, optimizer_tensors = flatten_state({n: o.state_dict() for n, o in loop.task.optimizers.items()},
                                                      "optimizers")
        rng, rng_tensors = flatten_state(rng_snapshot(), "rng")
        state = {"loop": loop.state.to_dict(), "optimizers": optimizers, "rng": rng}
        write_model_folder(self.folder, meta, tensors, (state, {**optimizer_tensors, **rng_tensors}))
        self.written_epoch = loop.state.epoch


def saved_loop_state(folder: Path, history: list[dict]) -> tuple[LoopState, dict | None]:
    """The loop state to continue from, and the checkpoint's training state (None for a plain saved model,
    which continues from its history with fresh optimizers)."""
    saved = read_training_state(folder)
    if saved is None:
        return LoopState.from_dict({"epoch": len(history), "history": list(history),
                                    "step": history[-1]["step"] if history else 0}), None
    state, tensors = saved
    return LoopState.from_dict(state["loop"]), {**state, "tensors": tensors}


def restore(task: TrainingTask, training_state: dict | None) -> None:
    """Load a checkpoint's optimizer states into ``task`` and put the RNGs back where the run left them."""
    if training_state is None:
        return
    tensors = training_state["tensors"]
    optimizers = unflatten_state(training_state["optimizers"], tensors)
    for name, optimizer in task.optimizers.items():
        optimizer.load_state_dict(optimizers[name])
    restore_rng(unflatten_state(training_state["rng"], tensors))


def checkpoint_epoch(run_dir: str | Path) -> int:
    """Epochs recorded in a run folder's checkpoint (0 when there is none or it cannot be read)."""
    folder = find_model_folder(Path(run_dir) / CHECKPOINT_DIR)
    if folder is None:
        return 0
    try:
        return len(read_meta(folder).get("history", []))
    except Exception:  # noqa: BLE001 - any unreadable checkpoint counts as none
        return 0
