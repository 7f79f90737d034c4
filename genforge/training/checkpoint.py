"""Checkpoints that resume exactly: a model folder (``model_folder``) plus the training state.

The training state is what the model folder does not hold: every optimizer's state, the loop's counters
and history (``LoopState``) and the RNG states of torch, NumPy and Python, written as JSON + safetensors
(never pickle). ``Checkpointer`` writes ``run_dir/checkpoint`` every ``every`` epochs and at the end of a
run that did not fail; ``restore`` puts a checkpoint's state back into a task and returns the loop state
to continue from. A killed run resumed from its last checkpoint ends with the weights of an uninterrupted one.
``Snapshot`` is the same state held in memory (the divergence guard rolls back to one).
"""

from __future__ import annotations

import copy
import dataclasses
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
        write_model_folder(self.folder, meta, tensors, training_state(loop))
        self.written_epoch = loop.state.epoch


def training_state(loop: TrainingLoop) -> tuple[dict, dict[str, torch.Tensor]]:
    """What a checkpoint holds beside the model: every optimizer's state, the loop state and the RNG states,
    as JSON and named tensors (the tensors are the live ones, not copies)."""
    optimizers, optimizer_tensors = flatten_state({n: o.state_dict() for n, o in loop.task.optimizers.items()},
                                                  "optimizers")
    rng, rng_tensors = flatten_state(rng_snapshot(), "rng")
    state = {"loop": loop.state.to_dict(), "optimizers": optimizers, "rng": rng}
    return state, {**optimizer_tensors, **rng_tensors}


class Snapshot:
    """A checkpoint in memory: copies of every network's weights (EMA copies included) and of the
    ``training_state``, taken from a running loop and put back into it with ``restore``."""

    def __init__(self, loop: TrainingLoop) -> None:
        state, tensors = training_state(loop)
        self.state = copy.deepcopy(state)
        self.tensors = _copies(tensors)
        self.weights = {name: _copies(module.state_dict()) for name, module in loop.task.modules.items()}

    def restore(self, loop: TrainingLoop) -> None:
        """Put the loop and its task back where they were (``loop.state`` is changed in place: the loop holds it)."""
        with torch.no_grad():
            for name, module in loop.task.modules.items():
                module.load_state_dict(self.weights[name], strict=True)  # copies into the live tensors
        # The optimizers would keep the given tensors as their state: hand them copies, keep ours intact.
        restore(loop.task, {**self.state, "tensors": _copies(self.tensors)})
        saved = LoopState.from_dict(copy.deepcopy(self.state["loop"]))
        for field in dataclasses.fields(LoopState):
            setattr(loop.state, field.name, getattr(saved, field.name))


def _copies(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in tensors.items()}


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
