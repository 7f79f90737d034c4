"""The on-disk folder format shared by saved models and training checkpoints.

A folder holds ``model.json`` (metadata) and ``weights.safetensors``; a checkpoint adds
``training_state.json`` and ``training_state.safetensors``. Nothing here ever unpickles: tensors go through
safetensors and everything else through JSON. Folders are written under a temporary name and renamed, so a
process killed mid-write leaves the previous folder intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genforge.errors import ModelFormatError

META_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
STATE_META_FILE = "training_state.json"
STATE_TENSORS_FILE = "training_state.safetensors"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    """Write tensors as safetensors (contiguous CPU copies) and return the file's sha256."""
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path))
    return sha256_of(path)


def read_tensors(path: Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, checking its checksum first when one is given."""
    if not path.is_file():
        raise ModelFormatError(f"{path} is missing; the saved model is incomplete. Save it again.")
    if sha256 is not None and sha256_of(path) != sha256:
        raise ModelFormatError(
            f"{path} does not match the checksum recorded in {META_FILE}: the file was truncated or edited. "
            "Restore it from the original save."
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFormatError(f"{path} is not a readable safetensors file ({error}).") from None


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=json_default) + "\n")


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelFormatError(f"{path} is missing; point at a folder written by genforge.save_model.")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFormatError(f"{path} is not valid JSON ({error}).") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} must hold a JSON object.")
    return data


def replace_folder(staging: Path, target: Path) -> None:
    """Move a fully written ``staging`` folder to ``target``, keeping ``target`` valid at every moment
    that can be observed after a crash (a leftover ``target.old`` is the previous version)."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)


def staging_folder(target: Path) -> Path:
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def existing_folder(target: Path) -> Path | None:
    """``target``, or the ``.old`` copy that a crash between two renames can leave; None when neither."""
    for candidate in (target, target.with_name(target.name + ".old")):
        if (candidate / META_FILE).is_file():
            return candidate
    return None


# ------------------------------------------------------------------------------ nested state <-> flat
def flatten_state(state: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure (an optimizer's state_dict, RNG states) into JSON and named tensors.

    Tensors are replaced by ``{"__tensor__": key}`` references; dict keys are kept with their type so that
    optimizer states (int keys) come back exactly.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[path] = node
            return {"__tensor__": path}
        if isinstance(node, dict):
            return {"__dict__": [[_key(k), walk(v, f"{path}.{k}")] for k, v in node.items()]}
        if isinstance(node, (list, tuple)):
            items = [walk(v, f"{path}.{i}") for i, v in enumerate(node)]
            return {"__tuple__": items} if isinstance(node, tuple) else items
        return node

    return walk(state, prefix or "state"), tensors


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of ``flatten_state``."""
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__dict__" in tree:
            return {_unkey(k): unflatten_state(v, tensors) for k, v in tree["__dict__"]}
        if "__tuple__" in tree:
            return tuple(unflatten_state(v, tensors) for v in tree["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    return tree


def _key(key: Any) -> list:
    return ["int", key] if isinstance(key, int) else ["str", str(key)]


def _unkey(key: list) -> Any:
    kind, value = key
    return int(value) if kind == "int" else value


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays and paths (what scores and metadata hold)."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
