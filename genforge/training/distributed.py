"""Training on several processes: torchrun + DistributedDataParallel (DDP), for every estimator's loop.

How a run is split (see docs/scaling.md):

- ``torchrun`` starts one process per device and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (plus
  ``MASTER_ADDR``/``MASTER_PORT``); :func:`session` reads them and joins the process group: ``nccl`` with
  device ``cuda:LOCAL_RANK`` on GPUs, ``gloo`` on the CPU.
- Once a process group exists, ``Estimator.train`` notices it (``ddp_callback``): rank ``r`` of ``W``
  takes every ``W``-th image of the epoch's shuffled order (DistributedSampler's split, see
  ``BatchSource``), so **the global batch is batch_size x W** images per optimisation step, and DDP
  averages the gradients over the ranks.
- Every rank builds the same model from the same seed (rank 0's seed is broadcast when ``seed`` is None)
  and DDP broadcasts rank 0's parameters anyway. The *noise* differs per rank: rank ``r > 0`` re-seeds
  torch's RNG with ``seed + r`` before its first step and with ``seed + r + 1_000_003 * step`` after each
  epoch (and when it resumes at ``step``), so that a resumed run draws what an uninterrupted one draws;
  rank 0 keeps the stream of a single-process run (its RNG state is in the checkpoint).
- Rank 0 alone writes checkpoints, history and sample grids (the loop gates them on ``is_main_process``);
  a resumed run loads the checkpoint on every rank, so it must sit on a filesystem every node can read.
- Per-epoch history rows are averaged over the ranks, and so are floating-point buffers (batch-norm
  running statistics), before rank 0 writes anything, so every rank ends with identical weights and
  makes the same early-stopping decision.
"""

from __future__ import annotations

import inspect
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn

from genforge.errors import ParameterError
from genforge.training.loop import Callback, TrainingLoop

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# DDP's switch for "do not re-broadcast buffers at every forward" (renamed in recent torch releases).
_NO_FORWARD_BUFFER_SYNC = ({"forward_sync_buffers": False}
                           if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
                           else {"broadcast_buffers": False})
# Weights with a size-1 dimension (a discriminator's last layer) get gradients whose strides differ from
# DDP's bucket only in that dimension, which is the same memory layout; DDP still warns at every step.
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
# The max_runtime_secs decision is agreed between ranks only every this many steps (one collective each).
STOP_CHECK_STEPS = 10


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process sits in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0


def detect() -> DistributedEnv | None:
    """The torchrun environment of this process, or None when it was not started by torchrun."""
    values = [os.environ.get(name) for name in ENV_VARS]
    if any(value is None for value in values):
        return None
    try:
        rank, world_size, local_rank = (int(value) for value in values)
    except ValueError:
        raise ParameterError(f"torchrun variables must be integers, got {dict(zip(ENV_VARS, values))}.") from None
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ParameterError(f"inconsistent torchrun variables {dict(zip(ENV_VARS, values))}.")
    return DistributedEnv(rank, world_size, local_rank)


def is_active() -> bool:
    """True when this process belongs to an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    """Rank 0 of a process group, or any process that is not distributed."""
    return not is_active() or dist.get_rank() == 0


def init(device: str = "auto", timeout_secs: float = 1800.0) -> DistributedEnv:
    """Join the process group described by torchrun's environment variables (once per process).

    ``nccl`` and ``cuda:LOCAL_RANK`` when CUDA is available and ``device`` is not "cpu"; ``gloo`` otherwise.
    """
    env = detect()
    if env is None:
        raise ParameterError(
            "not started by torchrun (RANK, WORLD_SIZE and LOCAL_RANK are unset); launch with "
            "'torchrun --nproc-per-node N -m genforge train ...' or 'genforge train --nproc N ...'."
        )
    if is_active():
        return env
    use_cuda = torch.cuda.is_available() and not str(device).startswith(("cpu", "mps"))
    if use_cuda:
        if env.local_rank >= torch.cuda.device_count():
            raise ParameterError(
                f"LOCAL_RANK {env.local_rank} but this node has {torch.cuda.device_count()} GPUs; "
                "start at most one process per GPU (--nproc-per-node)."
            )
        # "cuda" (device="auto") now means this process's own GPU for every allocation.
        torch.cuda.set_device(env.local_rank)
    # device_id binds nccl to this process's GPU at once (no guessing in the first collective).
    extra = {"device_id": torch.device("cuda", env.local_rank)} if use_cuda else {}
    store = _attempt_store(env, timeout_secs)
    if store is not None:
        extra["store"] = store
    dist.init_process_group("nccl" if use_cuda else "gloo", rank=env.rank, world_size=env.world_size,
                            timeout=timedelta(seconds=timeout_secs), **extra)
    return env


def _attempt_store(env: DistributedEnv, timeout_secs: float):
    """Under torchrun's agent, its store with a prefix per restart, or None (init from the environment).

    torchrun keeps one store (same MASTER_PORT) across the restarts of ``--max-restarts``, and the process
    group's keys from the failed attempt are still in it: the new ranks would read the dead ranks'
    addresses and fail to connect. A prefix per attempt keeps every attempt's keys apart.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), env.world_size,
                          is_master=False, timeout=timedelta(seconds=timeout_secs))
    return dist.PrefixStore(f"genforge/attempt_{attempt}", store)


def shutdown(wait: bool = True) -> None:
    """Leave the process group (every rank calls it at the end).

    ``wait``: first wait for every rank, so none tears its connections down while another still uses
    them (rank 0 saving the model, say); skip it after an error, when the others may never arrive.
    """
    if is_active():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


@contextmanager
def session(device: str = "auto") -> Iterator[DistributedEnv]:
    """``with session() as env:`` train as usual; ``env.is_main_process`` says who saves the model."""
    env = init(device)
    try:
        yield env
    except BaseException:
        shutdown(wait=False)
        raise
    shutdown()


def noise_seed(seed: int, rank: int, step: int) -> int:
    """The seed of rank ``rank``'s noise RNG when training starts (``step`` > 0: resumed)."""
    return seed + rank + 1_000_003 * step


def ddp_callback(device: torch.device, seed: int) -> "DDPCallback | None":
    """The DDP callback of this process's training run, or None when no process group is initialised.

    Called by ``Estimator.train``: it checks the device against the backend and agrees on the seed (rank
    0's), from which every rank shuffles the epochs in the same order (``seed=None`` draws one per rank)."""
    if not is_active():
        return None
    if dist.get_backend() == "nccl" and device.type != "cuda":
        raise ParameterError(f"the process group uses nccl (GPUs) but the model is on {device}; "
                             "use device='auto' or 'cuda'.")
    seeds = [seed]
    dist.broadcast_object_list(seeds, src=0)
    return DDPCallback(device, int(seeds[0]), dist.get_rank(), dist.get_world_size())


class DDPCallback(Callback):
    """Wraps a task's networks in DDP and keeps the ranks in step (metrics, buffers, stop decisions).

    Its ``seed``, ``rank`` and ``world_size`` go into the loop's config (``LoopConfig``), which splits the
    batches between ranks."""

    order = -10

    def __init__(self, device: torch.device, seed: int, rank: int, world_size: int) -> None:
        self.device, self.seed, self.rank, self.world_size = device, seed, rank, world_size
        # Collectives run on the GPU under nccl, on the CPU under gloo.
        self.comm_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
        self._steps = 0
        self._agree_stops: str | None = None  # the reason of a callback that may stop mid-epoch, if any

    def wrap(self, module: nn.Module) -> nn.Module:
        """One DDP wrapper per network (so a GAN's G and D each reduce their own gradients)."""
        if not any(p.requires_grad for p in module.parameters()):
            return module
        device_ids = None
        if self.device.type == "cuda":
            device_ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        # No buffer sync at forward: a GAN calls D several times (real, fake, penalties) before one backward,
        # and DDP's default re-broadcasts every buffer in place at each forward, one collective per call,
        # writing over buffers that autograd may still need. Buffers are averaged once per epoch instead
        # (on_epoch_end). Batch norm therefore normalises over each rank's own batch of batch_size images.
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, **_NO_FORWARD_BUFFER_SYNC)

    def on_train_start(self, loop: TrainingLoop) -> None:
        task = loop.task
        # Same starting point everywhere, including networks DDP does not wrap (the generator's EMA).
        with torch.no_grad():
            for module in task.modules.values():
                for tensor in module.state_dict().values():
                    dist.broadcast(tensor, src=0)
        task.wrap_modules(self.wrap)
        if self.rank > 0:
            torch.manual_seed(noise_seed(self.seed, self.rank, loop.state.step))
        stoppers = [cb for cb in loop.callbacks if cb.stops_mid_epoch]
        self._agree_stops = getattr(stoppers[0], "reason", "stopped") if stoppers else None

    def on_step_end(self, loop: TrainingLoop, metrics: dict) -> None:
        # Runs after the callbacks that may stop mid-epoch (its order is higher): a rank's own decision is
        # held back and the ranks compare notes every few steps (one collective each time), so that all of
        # them stop after the same step.
        if self._agree_stops is None:
            return
        self._steps += 1
        wants = loop.state.stopped_reason is not None
        loop.state.stopped_reason = None
        if self._steps % STOP_CHECK_STEPS:
            return
        flag = torch.tensor([1.0 if wants else 0.0], device=self.comm_device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item():
            loop.request_stop(self._agree_stops)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        task = loop.task
        if self.rank > 0:  # the next epoch's noise depends on the step only, as after a resume from this epoch
            torch.manual_seed(noise_seed(self.seed, self.rank, loop.state.step))
        keys = [k for k, v in row.items() if isinstance(v, float) and k not in ("seconds", "images_per_sec")]
        buffers = [b for m in task.modules.values() for b in m.buffers() if b.is_floating_point()]
        with torch.no_grad():
            if keys:
                values = torch.tensor([row[k] for k in keys], dtype=torch.float64, device=self.comm_device)
                dist.all_reduce(values)
                for key, value in zip(keys, (values / self.world_size).tolist()):
                    row[key] = round(value, 6)
            if buffers:
                flat = torch.cat([b.detach().reshape(-1).to(self.comm_device, torch.float64) for b in buffers])
                dist.all_reduce(flat)
                flat /= self.world_size
                offset = 0
                for buffer in buffers:
                    buffer.copy_(flat[offset : offset + buffer.numel()].view_as(buffer))
                    offset += buffer.numel()

    def on_train_end(self, loop: TrainingLoop) -> None:
        # No rank leaves train() before rank 0 has written the last checkpoint: a next train() on another
        # rank may resume from it. After an error the others may never arrive: no barrier then.
        if loop.error is None:
            dist.barrier()
