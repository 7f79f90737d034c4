"""Paths inside a dataset: which files are images, keeping every path inside the dataset's folder, and
how a folder layout maps to classes (shared by the folder, zip and path-CSV readers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from genforge.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm")

_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]+")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_hidden(part: str) -> bool:
    # macOS archives carry "__MACOSX/" resource forks and "._x.png" shadows that are not images.
    return part.startswith(".") or part == "__MACOSX"


def unsafe_reason(relative: str) -> str | None:
    """Why ``relative`` may not name a file inside a dataset folder, or None when it may."""
    if not relative or not relative.strip():
        return "the path is empty"
    if "\x00" in relative:
        return "the path holds a NUL character"
    if "://" in relative:
        return f"{relative!r} is a URL; genforge reads only files inside the dataset's folder"
    if relative.startswith(("/", "\\")) or _DRIVE.match(relative):
        return f"{relative!r} is an absolute path; paths must be relative to the dataset's folder"
    if ".." in _SEPARATORS.split(relative):
        return f"{relative!r} climbs out with '..'; paths must stay inside the dataset's folder"
    return None


def resolve_inside(root: Path, relative: str) -> tuple[Path | None, str | None]:
    """``root / relative`` with symbolic links resolved, or ``(None, reason)`` when it leaves ``root``.

    ``root`` must already be resolved. Checking the resolved path (not the text) is what stops a symlink
    inside the folder from pointing at /etc/passwd.
    """
    reason = unsafe_reason(relative)
    if reason:
        return None, reason
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        return None, f"{relative!r} leads outside {root} (to {target}) through a symbolic link"
    return target, None


def walk_images(root: Path) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Image files under ``root`` as sorted POSIX relative paths.

    Returns ``(images, escapes, ignored)``: ``escapes`` are ``(relative path, reason)`` for symbolic links
    that lead outside ``root``; ``ignored`` names files that are not images (for the "no images" error).
    """
    real_root = root.resolve()
    images: list[str] = []
    escapes: list[tuple[str, str]] = []
    ignored: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        # os.walk does not descend into linked folders; say so when one points outside the dataset.
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if os.path.islink(full) and not Path(full).resolve().is_relative_to(real_root):
                escapes.append((rel_dir + d, f"the folder is a symbolic link to {Path(full).resolve()}, "
                                             f"outside {root}"))
        for name in sorted(filenames):
            if is_hidden(name):
                continue
            if not is_image_name(name):
                ignored.append(rel_dir + name)
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                _, reason = resolve_inside(real_root, rel_dir + name)
                if reason:
                    escapes.append((rel_dir + name, reason))
                    continue
            images.append(rel_dir + name)
    images.sort()
    return images, escapes, ignored


def classes_from_layout(relative: list[str], where: str) -> tuple[np.ndarray | None, list[str] | None]:
    """Labels from the first folder level: sub-folders are classes (sorted names), images at the top level
    mean no labels. A lone folder wrapping everything (a zip of ``data/``, a folder holding only ``train/``)
    is not a class and is looked through.
    """
    parts = [p.split("/") for p in relative]
    depth = 0
    while all(len(p) > depth + 1 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    nested = [len(p) > depth + 1 for p in parts]
    if not any(nested):
        return None, None
    if not all(nested):
        flat = relative[nested.index(False)]
        deep = relative[nested.index(True)]
        raise DataError(
            f"{where} has images both directly inside it (e.g. {flat}) and in sub-folders (e.g. {deep}). "
            "Put every image in a class sub-folder (sub-folders are classes), or none (no labels)."
        )
    names = sorted({p[depth] for p in parts})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[p[depth]] for p in parts], np.int64), names
