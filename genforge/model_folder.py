"""The saved-model folder as plain data: ``model.json`` (metadata) beside ``weights.safetensors``.

A training checkpoint is the same folder plus ``training_state.json`` / ``training_state.safetensors``
(optimizer states, loop counters, RNG states). These functions know the format (its name and version, the
entries model.json must hold, where the weights are) and nothing of estimators: they read and write dicts
and named tensors, so that the estimators (which fill them), the artifacts layer (save, load, export) and
the training checkpoints all share one reader and one writer.

Nothing here unpickles, and no name read from model.json can make a reader open, hash or even stat a file
outside the model's folder: the weights file must be a plain file name, checked before the disk is touched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from genforge._version import __version__
from genforge.errors import ModelFormatError
from genforge.serialization import (
    META_FILE, STATE_META_FILE, STATE_TENSORS_FILE, WEIGHTS_FILE, existing_folder, read_json, read_tensors,
    replace_folder, staging_folder, write_json, write_tensors,
)

FORMAT = "genforge.model"
FORMAT_VERSION = 1
REQUIRED_ENTRIES = ("estimator", "params", "frame_schema", "info", "weights")
# A weights file is named by a plain file name inside the folder: no separators, no "..", no hidden files.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.safetensors$")

__all__ = [
    "FORMAT", "FORMAT_VERSION", "META_FILE", "WEIGHTS_FILE", "find_model_folder", "read_meta", "read_weights",
    "write_model_folder", "update_meta", "read_training_state", "group_tensors",
]


def find_model_folder(path: str | Path) -> Path | None:
    """The saved model at ``path`` (or the ``.old`` copy an interrupted replace leaves); None when neither."""
    return existing_folder(Path(path))


def read_meta(folder: Path) -> dict:
    """Read and check ``model.json``: genforge's format, a version this package reads, the required entries
    and a weights entry that stays inside ``folder``."""
    meta = read_json(folder / META_FILE)
    if meta.get("format") != FORMAT:
        raise ModelFormatError(f"{folder / META_FILE} is not a genforge model (format {meta.get('format')!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{folder} was saved in model format {version!r}, newer than this genforge ({__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade genforge to load it."
        )
    for key in REQUIRED_ENTRIES:
        if key not in meta:
            raise ModelFormatError(f"{folder / META_FILE} lacks the {key!r} entry; the file was edited or cut short.")
    weights_file_name(meta)  # refuse a foreign path now, before anything reads it
    return meta


def weights_file_name(meta: dict) -> str:
    """The weights file named by ``meta``, refused unless it is a plain ``*.safetensors`` name."""
    weights = meta.get("weights")
    name = weights.get("file") if isinstance(weights, dict) else None
    if not isinstance(name, str) or not _PLAIN_NAME.match(name) or ".." in name:
        shown = name[:80] if isinstance(name, str) else type(name).__name__
        raise ModelFormatError(
            f"model.json names the weights file {shown!r}; it must be a plain file name inside the model folder "
            f"(such as {WEIGHTS_FILE!r}). The file was edited; restore it from the original save."
        )
    return name


def read_weights(folder: Path, meta: dict) -> dict[str, torch.Tensor]:
    """The weights named by ``meta`` (checked against their recorded sha256) as a flat ``{name: tensor}``."""
    return read_tensors(folder / weights_file_name(meta), meta["weights"].get("sha256"))


def write_model_folder(target: Path, meta: dict, tensors: dict[str, torch.Tensor],
                       training_state: tuple[dict, dict[str, torch.Tensor]] | None = None) -> Path:
    """Write ``meta`` (format, version and weights entry filled in) and ``tensors`` to ``target`` atomically:
    a process killed mid-write leaves the previous folder intact. ``training_state`` (JSON-ready dict and its
    tensors) makes the folder a checkpoint."""
    staging = staging_folder(target)
    sha = write_tensors(staging / WEIGHTS_FILE, tensors)
    modules = sorted({key.split(".", 1)[0] for key in tensors})
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, "genforge_version": __version__, **meta,
            "weights": {"file": WEIGHTS_FILE, "sha256": sha, "modules": modules}}
    write_json(staging / META_FILE, full)
    if training_state is not None:
        state, state_tensors = training_state
        state_sha = write_tensors(staging / STATE_TENSORS_FILE, state_tensors)
        write_json(staging / STATE_META_FILE, {**state, "sha256": state_sha})
    replace_folder(staging, target)
    return target


def update_meta(folder: Path, **entries: Any) -> None:
    """Replace top-level ``entries`` of ``folder``'s model.json (after checking it), leaving the weights as
    they are. The new file is written beside the old one and renamed over it: a reader sees either version."""
    meta = read_meta(folder)
    meta.update(entries)
    path = folder / META_FILE
    tmp = path.with_name(f".{META_FILE}.tmp-{os.getpid()}")
    try:
        write_json(tmp, meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_training_state(folder: Path) -> tuple[dict, dict[str, torch.Tensor]] | None:
    """A checkpoint's training state (its JSON and tensors), or None for a plain saved model."""
    if not (folder / STATE_META_FILE).is_file():
        return None
    state = read_json(folder / STATE_META_FILE)
    return state, read_tensors(folder / STATE_TENSORS_FILE, state.get("sha256"))


def group_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``{"generator.conv.weight": t}`` -> ``{"generator": {"conv.weight": t}}``: one state dict per network."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        module, _, rest = key.partition(".")
        groups.setdefault(module, {})[rest] = value
    return groups


def describe_shape(schema: dict[str, Any]) -> tuple[int, int, int]:
    """A frame schema's image shape as (H, W, C)."""
    return (schema["height"], schema["width"], schema["channels"])
