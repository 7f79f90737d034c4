"""Device choice, seeding and RNG snapshots: the machine-facing set-up of a training run."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

from genforge.errors import ParameterError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; explicit names are checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ParameterError(f"device {name!r} is not a device name; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {name!r} was asked for but this machine has no CUDA GPU; use device='auto'.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ParameterError(f"device {name!r} is not supported; use 'auto', 'cpu', 'cuda' or 'mps'.")
    return device


def autocast(device: torch.device) -> AbstractContextManager:
    """bf16 autocast for forward passes on a CUDA GPU that supports bf16 (Ampere and later); elsewhere,
    the CPU included, a no-op, so results there are exactly float32. bf16 keeps float32's range, so no
    loss scaling is needed."""
    if device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def new_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**31))


def rng_snapshot() -> dict:
    """The random state a resumed run must continue from (torch CPU and CUDA, NumPy, Python)."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(legacy=False),
        "python": _python_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]
