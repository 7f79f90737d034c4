"""``import_file``: one entry point that turns a path or a dataset name into a Frame.

It finds what it was given (a built-in name, a path, a name under ``$GENFORGE_DATA``), checks the
options, runs the reader for that kind of file, then applies the steps common to all: resizing,
channel conversion, the decode cache and the warning about skipped input.
"""

from __future__ import annotations

import difflib
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from genforge.data import (
    archive,
    arrays,
    builtin,
    cache,
    csv_reader,
    folder,
    idx,
    parquet,
)
from genforge.data.context import (
    Loaded,
    ReadContext,
    ReadOptions,
    check_class_indices,
    check_size,
    located,
)
from genforge.data.limits import OPTIONS as LIMIT_OPTIONS
from genforge.data.limits import Limits
from genforge.data.paths import is_image_name
from genforge.errors import DataError, GenforgeError, ParameterError
from genforge.frame import Frame

COMMON_OPTIONS = frozenset({"image_size", "channels", "on_error", "limit", "name", "cache", "cache_dir", *LIMIT_OPTIONS})
READERS: dict[str, ModuleType] = {
    "folder": folder, "zip": archive, "csv": csv_reader, "numpy": arrays, "idx": idx, "parquet": parquet,
}
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".zip": "zip", ".npy": "numpy", ".npz": "numpy",
             ".parquet": "parquet", ".pq": "parquet"}
_CHUNK = 4096


@dataclass(frozen=True)
class Source:
    """What ``import_file`` was pointed at: a reader kind plus a path, or a built-in dataset name."""

    kind: str
    path: Path | None = None
    builtin: str | None = None

    @property
    def label(self) -> str:
        return self.builtin or str(self.path)

    @property
    def default_name(self) -> str:
        if self.builtin:
            return self.builtin
        assert self.path is not None
        return self.path.name if self.path.is_dir() else self.path.name.removesuffix(".gz").rsplit(".", 1)[0]


def import_file(path_or_name: str | os.PathLike, **options: Any) -> Frame:
    """Import images into a Frame from a built-in name, a path, or a name under ``$GENFORGE_DATA``.

    Paths: a folder of images (sub-folders are classes), a ``.zip`` of one, a CSV of pixels or of image
    paths, ``.npy``/``.npz``, IDX (``.gz`` too), Parquet with an image-bytes column, or one image file.
    Built-in names: ``digits``, ``fashion-mnist``, ``fashion-mnist:test``. A name that is also an existing
    local path (or ``$GENFORGE_DATA`` entry) is ambiguous and an error: write ``./digits`` for the folder
    or ``builtin:digits`` for the dataset.

    Options: ``image_size`` (int or ``(h, w)``: resize everything to it), ``channels`` (1 or 3; default:
    what most images have), ``on_error`` (``"raise"`` or ``"skip"``: drop bad images and rows, list
    them in ``frame.skipped`` and warn once), ``limit`` (at most this many images), ``name``, ``cache``
    / ``cache_dir`` (decode once into a memory-mapped file and reuse it), ``max_image_pixels`` (default
    16.7 M pixels per decoded image) and ``max_frame_bytes`` (default 4 GiB of decoded pixels), checked before
    anything is decoded (None turns one off; see genforge.data.limits). Reader options:
    ``path_column``, ``label_column``, ``delimiter`` (CSV); ``max_inflated_bytes``, ``max_ratio`` (zip);
    ``images_key``, ``labels_key`` (npz); ``labels`` (IDX labels file); ``image_column``,
    ``label_column`` (Parquet).
    """
    source = find_source(path_or_name)
    read_options, name, cache_dir = _options(source, options)
    if cache_dir is not None:
        frame, skipped = _import_cached(source, read_options, cache_dir, name)
    else:
        ctx = ReadContext(read_options)
        frame = _frame(_finish(_read(source, ctx), read_options), source, name)
        skipped = ctx.skipped
    frame.skipped = list(skipped)
    if skipped:
        first, reason = skipped[0]
        warnings.warn(
            f"{source.label}: skipped {len(skipped)} bad image(s) or row(s) (on_error='skip'); "
            f"frame.skipped lists them with reasons. The first: {first}: {reason}",
            UserWarning,
            stacklevel=2,
        )
    return frame


# ------------------------------------------------------------------------------------- finding the source
def find_source(path_or_name: str | os.PathLike) -> Source:
    """Resolve a built-in name, an existing path, or a name under ``$GENFORGE_DATA`` (in that order)."""
    if isinstance(path_or_name, os.PathLike):
        return _path_source(Path(path_or_name))
    if not isinstance(path_or_name, str):
        raise ParameterError(f"import_file takes a path or a dataset name, got {type(path_or_name).__name__}.")
    if not path_or_name.strip():
        raise ParameterError("import_file got an empty name; pass a path or a dataset name such as 'digits'.")
    name = builtin.canonical(path_or_name)
    if name is not None:
        if not builtin.is_prefixed(path_or_name):
            _refuse_ambiguous(path_or_name, name)
        return Source("builtin", builtin=name)
    path = Path(path_or_name).expanduser()
    if path.exists() or path.is_symlink():
        return _path_source(path)
    found = builtin.find_in_data_dir(path_or_name)
    if found is not None:
        return _path_source(found)
    raise _not_found(path_or_name)


def _refuse_ambiguous(text: str, name: str) -> None:
    """A built-in name that is also an existing local path (or a ``$GENFORGE_DATA`` entry) is ambiguous:
    genforge does not choose silently, it says how to pick each one."""
    path = Path(text).expanduser()
    local = path if (path.exists() or path.is_symlink()) else None
    if local is None:
        try:
            local = builtin.find_in_data_dir(text)
        except DataError:
            local = builtin.data_dir()  # several entries of that name: ambiguous all the more
    if local is None:
        return
    spelled = f"./{text}" if local == path and not path.is_absolute() else str(local)
    raise DataError(
        f"{text!r} is both the built-in dataset {name!r} and the local path {str(local)!r}. Write "
        f"{spelled!r} for the path, or {builtin.PREFIX + name!r} for the built-in dataset."
    )


def _path_source(path: Path) -> Source:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder. Check the path (relative paths start at "
                        f"{Path.cwd()}).")
    if path.is_dir():
        return Source("folder", path)
    if not path.is_file():
        raise DataError(f"{path}: not a regular file or folder.")
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind:
        return Source(kind, path)
    if idx.looks_like_idx(path) or (path.suffix.lower() == ".gz" and _holds_idx(path)):
        return Source("idx", path)
    if is_image_name(path.name):
        return Source("folder", path)  # one image file
    raise DataError(
        f"{path}: unknown file type {path.suffix or '(no extension)'!r}. genforge imports a folder of images, "
        ".zip, .csv/.tsv, .npy/.npz, IDX (-ubyte, .gz), .parquet, an image file, or a built-in name."
    )


def _holds_idx(path: Path) -> bool:
    import gzip

    try:
        with gzip.open(path, "rb") as f:
            head = f.read(4)
    except (OSError, EOFError):
        return False
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] == 0x08


def _not_found(text: str) -> DataError:
    names = builtin.builtin_names()
    root = builtin.data_dir()
    extra = builtin.data_dir_names()
    if root is None:
        where = "$GENFORGE_DATA is not set (set it to a folder of datasets to import them by name)"
    else:
        where = f"$GENFORGE_DATA ({root}) holds: {', '.join(extra) or 'nothing'}"
    close = difflib.get_close_matches(text, names + extra, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataError(
        f"{text!r}: no such file, folder or dataset.{hint} Built-in datasets: {', '.join(names)}; {where}. "
        f"Relative paths start at {Path.cwd()}."
    )


# ------------------------------------------------------------------------------------- options
def _options(source: Source, options: dict[str, Any]) -> tuple[ReadOptions, str | None, Path | None]:
    reader_options = frozenset() if source.builtin else READERS[source.kind].OPTIONS
    allowed = COMMON_OPTIONS | reader_options
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            what = "a built-in dataset" if source.builtin else f"a {source.kind} source"
            raise ParameterError(
                f"import_file got an unknown option {key!r} for {what}.{hint} "
                f"It takes: {', '.join(sorted(allowed))}."
            )
    channels = options.get("channels")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ParameterError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}.")
    on_error = options.get("on_error", "raise")
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    limit = options.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ParameterError(f"limit must be a positive int, got {limit!r}.")
    name = options.get("name")
    if name is not None and not isinstance(name, str):
        raise ParameterError(f"name must be a string, got {name!r}.")
    cache_dir = options.get("cache_dir")
    use_cache = options.get("cache", cache_dir is not None)
    if not isinstance(use_cache, bool):
        raise ParameterError(f"cache must be True or False, got {use_cache!r}.")
    extra = {k: v for k, v in options.items() if k in reader_options}
    read_options = ReadOptions(check_size(options.get("image_size")), channels, on_error,
                               None if limit is None else int(limit), extra, Limits.from_options(options))
    return read_options, name, cache.cache_root(cache_dir) if use_cache else None


# ------------------------------------------------------------------------------------- reading
def _read(source: Source, ctx: ReadContext) -> Loaded:
    try:
        if source.builtin:
            return builtin.read(source.builtin, ctx)
        assert source.path is not None
        loaded = READERS[source.kind].read(source.path, ctx)
        # Readers of undecoded data (CSV, .npy) allocate no more than they read; this net covers them too.
        ctx.limits.check_frame(_decoded_shape(loaded.images), np.uint8, source.label)
        return loaded
    except GenforgeError:
        raise
    except PermissionError as exc:
        raise DataError(f"{source.label}: permission denied reading {exc.filename or 'it'}.") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{source.label}: cannot be read ({exc}).") from None
    except MemoryError:
        # Either the data is bigger than RAM or a damaged header declares absurd sizes (pyarrow trusts
        # a Parquet file's page headers, for one).
        raise DataError(f"{source.label}: ran out of memory while reading it. If the file is damaged, "
                        "replace it; if it is just big, pass limit=... or cache=True.") from None
    except (ValueError, LookupError, NotImplementedError, struct.error, zlib.error) as exc:
        # A last net under the readers' own checks: user input must not end in a bare traceback.
        raise DataError(f"{source.label}: cannot be read ({type(exc).__name__}: {exc}). Check the file's "
                        "format; if it looks right, please report this as a genforge bug.") from exc


def _decoded_shape(images: np.ndarray) -> tuple[int, ...]:
    return tuple(images.shape) if images.ndim == 4 else (*images.shape, 1)


def _finish(loaded: Loaded, options: ReadOptions) -> Loaded:
    """Resize to ``image_size`` and convert to ``channels`` where the reader has not done so already."""
    images = loaded.images
    if options.image_size and tuple(images.shape[1:3]) != options.image_size:
        from genforge.imaging import resize_batch

        shape = (len(images), *options.image_size, images.shape[3])
        options.limits.check_frame(shape)  # image_size=(100000, 100000) must not allocate first
        resized = np.empty(shape, np.uint8)
        for start in range(0, len(images), _CHUNK):
            # A writable copy per chunk: torch warns on the read-only memory maps of .npy files.
            resized[start : start + _CHUNK] = resize_batch(np.array(images[start : start + _CHUNK]),
                                                           options.image_size)
        images = resized
    if options.channels and images.shape[3] != options.channels:
        from genforge.imaging import convert_channels

        options.limits.check_frame(images.shape[:3] + (options.channels,))
        converted = np.empty(images.shape[:3] + (options.channels,), np.uint8)
        for start in range(0, len(images), _CHUNK):  # in chunks: the float maths would need 12x the bytes
            converted[start : start + _CHUNK] = convert_channels(np.asarray(images[start : start + _CHUNK]),
                                                                 options.channels)
        images = converted
    if images is loaded.images:
        return loaded
    return Loaded(images, loaded.labels, loaded.class_names, loaded.sources)


def _frame(loaded: Loaded, source: Source, name: str | None) -> Frame:
    check_class_indices(loaded.labels, loaded.class_names, source.label)
    try:
        return Frame(loaded.images, loaded.labels, loaded.class_names, loaded.sources,
                     name=name or source.default_name)
    except DataError as exc:
        raise located(source.label, exc) from None


# ------------------------------------------------------------------------------------- caching
def _import_cached(source: Source, options: ReadOptions, root: Path, name: str | None) -> tuple[Frame, list]:
    if source.builtin:
        files, identity = builtin.files(source.builtin), f"builtin:{source.builtin}:{builtin.version(source.builtin)}"
    else:
        assert source.path is not None
        try:
            files = READERS[source.kind].files(source.path, ReadContext(options))
        except OSError as exc:
            raise DataError(f"{source.label}: cannot be read ({exc}).") from None
        identity = f"{source.kind}:{source.path.resolve()}"
    key_options = {"image_size": options.image_size, "channels": options.channels,
                   "on_error": options.on_error, "limit": options.limit, "extra": options.extra}
    key = cache.entry_key(identity, files, key_options)
    hit = cache.load(root / key)
    if hit is None:
        cache.discard(root / key)  # damaged or from an older format
        builder = cache.Builder(root, key)
        try:
            ctx = ReadContext(options, builder.allocate)
            loaded = _finish(_read(source, ctx), options)
            _frame(loaded, source, name)  # validate before anything is committed
            entry = builder.commit(loaded, ctx.skipped)
        except BaseException:
            builder.abort()
            raise
        hit = cache.load(entry)
        if hit is None:
            raise DataError(f"The cache entry {entry} could not be read back; check the disk or pass cache=False.")
    loaded, meta = hit
    return _frame(loaded, source, name), [tuple(s) for s in meta["skipped"]]
