"""The decode cache: imported images kept as a memory-mapped uint8 ``.npy`` file, decoded only once.

Each entry is a folder named by a hash of the source files (path, size, modification time) and the
import options. It is built under a temporary name and renamed into place only when complete, so an
import killed halfway leaves a ``.tmp-*`` folder that is never taken for a valid entry (and is cleared
a day later). Readers that decode image files write straight into the memory map, so a dataset larger
than RAM can be imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from genforge.data.context import Loaded
from genforge.errors import DataError

FORMAT = 1  # bump when decoding changes, so that older entries are not reused
_DECODED = "decoded.npy"  # where readers decode into
_PIXELS = "pixels.npy"  # the entry's final images
_STALE_SECONDS = 24 * 3600


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$GENFORGE_CACHE``, else ``~/.cache/genforge``; entries go in its ``frames/``."""
    base = cache_dir or os.environ.get("GENFORGE_CACHE") or Path.home() / ".cache" / "genforge"
    return Path(base).expanduser() / "frames"


def entry_key(identity: str, files: list[Path], options: dict[str, Any]) -> str:
    """A hash of what determines the decoded images: the source, its files' stats and the options."""
    stats = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue  # a vanished file changes the listing, hence the key, by its absence
        # abspath, not resolve(): one string operation instead of an lstat per path component.
        stats.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    payload = json.dumps({"format": FORMAT, "source": identity, "files": stats, "options": options},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def load(entry: Path) -> tuple[Loaded, dict] | None:
    """A complete entry as ``(Loaded with memory-mapped images, meta)``, or None if absent or damaged."""
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            return None
        images = np.load(entry / _PIXELS, mmap_mode="r", allow_pickle=False)
        if list(images.shape) != meta["shape"] or images.dtype != np.uint8:
            return None
        labels = np.load(entry / "labels.npy", allow_pickle=False) if meta["has_labels"] else None
        if labels is not None and labels.shape != (len(images),):
            return None
        sources = meta["sources"]
        if sources == "@file":
            sources = json.loads((entry / "sources.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Loaded(images, labels, meta["class_names"], sources), meta


class Builder:
    """Builds one entry in a temporary folder; ``commit`` moves it into place atomically."""

    def __init__(self, root: Path, key: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        _clear_stale(root)
        self.root, self.key = root, key
        self.entry = root / key
        self.tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
        self._decoded: np.ndarray | None = None

    def allocate(self, shape: tuple[int, ...]) -> np.ndarray:
        """The readers' output array: a writable memory map in the temporary folder."""
        if self._decoded is not None:
            raise DataError("internal: a reader asked for two output arrays")  # one per import
        self._decoded = np.lib.format.open_memmap(self.tmp / _DECODED, mode="w+", dtype=np.uint8, shape=shape)
        return self._decoded

    def commit(self, loaded: Loaded, skipped: list[tuple[str, str]]) -> Path:
        """Write pixels, labels and meta, then rename the folder into place; returns the entry."""
        images = loaded.images
        if images is self._decoded:
            images.flush()
            del images
            self._decoded = None
            os.replace(self.tmp / _DECODED, self.tmp / _PIXELS)
        else:
            _copy_to_npy(images, self.tmp / _PIXELS)
            self._decoded = None
            (self.tmp / _DECODED).unlink(missing_ok=True)
        shape = list(loaded.images.shape)
        if loaded.labels is not None:
            np.save(self.tmp / "labels.npy", np.asarray(loaded.labels, np.int64))
        sources: Any = loaded.sources
        if isinstance(sources, list):
            (self.tmp / "sources.json").write_text(json.dumps(sources))
            sources = "@file"
        meta = {"format": FORMAT, "shape": shape, "has_labels": loaded.labels is not None,
                "class_names": loaded.class_names, "sources": sources,
                "skipped": [list(s) for s in skipped], "created": time.time()}
        # meta.json is written last: an entry without it is never loaded.
        (self.tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(self.tmp, self.entry)
        except OSError:
            # Another import finished the same entry first (or a damaged one is in the way).
            if load(self.entry) is None:
                shutil.rmtree(self.entry, ignore_errors=True)
                os.rename(self.tmp, self.entry)
            else:
                self.abort()
        return self.entry

    def abort(self) -> None:
        self._decoded = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def _copy_to_npy(images: np.ndarray, path: Path, chunk: int = 4096) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=images.shape)
    for start in range(0, len(images), chunk):
        out[start : start + chunk] = images[start : start + chunk]
    out.flush()
    del out


def _clear_stale(root: Path) -> None:
    """Remove temporary folders of imports that died more than a day ago."""
    now = time.time()
    for tmp in root.glob(".tmp-*"):
        try:
            if now - tmp.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def discard(entry: Path) -> None:
    shutil.rmtree(entry, ignore_errors=True)
