"""Writing over existing files: never without being asked.

Every genforge write to a path the user names (a PNG grid, an ONNX file, a CSV, a JSON of scores, a
downloaded model) goes through ``claim_path``: an existing target is refused unless ``force`` is given,
and when it is, a ``ReplacedWarning`` says what was replaced (the CLI prints it as a note).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from genforge.errors import OverwriteError


class ReplacedWarning(UserWarning):
    """An existing file or folder was replaced because ``force`` / ``--force`` / ``overwrite`` said so."""


def claim_path(path: str | Path, force: bool = False, what: str = "file") -> Path:
    """``path`` as a Path, ready to be written: refused (OverwriteError) when it exists and ``force`` is
    False; with ``force`` an existing one is reported with a ReplacedWarning. The caller writes it."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not force:
            kind = "folder" if path.is_dir() else what
            raise OverwriteError(f"{path} already exists; pass force=True to replace that {kind}, or write "
                                 "to another path.", suggests={"force": True})
        say_replaced(path)
    return path


def say_replaced(path: str | Path, detail: str = "") -> None:
    """Report that ``path`` was (or is about to be) replaced, as asked."""
    warnings.warn(f"replaced {path}{detail}", ReplacedWarning, stacklevel=3)
