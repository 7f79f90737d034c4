"""Parquet files with a column of encoded images (PNG/JPEG bytes, or Hugging Face's ``{"bytes", "path"}``
structs) and an optional label column. Needs pyarrow, the optional extra ``genforge[parquet]``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from genforge.data.context import Loaded, ReadContext
from genforge.data.csv_table import LABEL_NAMES
from genforge.data.decode import decode_images
from genforge.errors import DataError

OPTIONS = frozenset({"image_column", "label_column"})
IMAGE_NAMES = ("image", "img", "image_bytes", "bytes", "png", "jpeg", "jpg", "picture")


def files(path: Path, ctx: ReadContext) -> list[Path]:
    return [path]


def read(path: Path, ctx: ReadContext) -> Loaded:
    """Decode the image column (``image_column=``) of a Parquet file; labels from ``label_column=`` or
    a column named label, class, ... Class names come from Hugging Face's ClassLabel metadata when present.
    """
    pa, pq = _pyarrow(path)
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc}).") from None
    image_col = _image_column(schema, ctx.option("image_column"), path, pa)
    label_col = _label_column(schema, ctx.option("label_column"), image_col, path, pa)
    _check_uncompressed(parquet, [image_col] + ([label_col] if label_col else []), ctx, path)
    try:
        # Dictionary-encoded image bytes stay encoded (one copy per distinct value) until they are counted:
        # 50 rows of one 100 KB value are 100 KB in the file but 5 MB decoded.
        struct = pa.types.is_struct(schema.field(image_col).type)
        parquet = pq.ParquetFile(path, read_dictionary=[f"{image_col}.bytes" if struct else image_col])
        table = parquet.read(columns=[image_col] + ([label_col] if label_col else []))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read the columns {image_col!r}/{label_col!r} ({exc}).") from None
    if ctx.options.limit is not None:
        table = table.slice(0, ctx.options.limit)
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows.")
    ctx.limits.check_frame((_decoded_bytes(table.column(image_col), pa),), where=f"{path} (column {image_col!r})")

    blobs, paths = _blobs(table.column(image_col), pa)
    raw_labels = table.column(label_col).to_pylist() if label_col else None
    rows: list[int] = []
    for i, blob in enumerate(blobs):
        if blob is None:
            extra = f" (only the path {paths[i]!r}; genforge does not follow it)" if paths and paths[i] else ""
            ctx.bad(f"{path} row {i}", f"the row has no image bytes{extra}", "Save the images embedded.")
        elif raw_labels is not None and raw_labels[i] is None:
            ctx.bad(f"{path} row {i}", f"the label {label_col!r} is missing", "Fill it in or drop the row.")
        else:
            rows.append(i)
    if not rows:
        raise DataError(f"{path}: no row holds an image. The first: {ctx.skipped[0][1]}.")
    sources = [f"{path} row {i}" for i in rows]
    images, kept = decode_images(sources, lambda j: io.BytesIO(blobs[rows[j]]), ctx, str(path))
    labels = class_names = None
    if raw_labels is not None:
        labels, class_names = _labels([raw_labels[rows[j]] for j in kept], _class_names(schema, label_col))
    return Loaded(images, labels, class_names, [sources[j] for j in kept])


def _decoded_bytes(column, pa) -> int:
    """The bytes the image column takes once every row holds its own value (dictionaries expanded)."""
    import pyarrow.compute as pc

    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if pa.types.is_struct(column.type):
        if column.type.get_field_index("bytes") < 0:
            return 0
        column = column.field("bytes")
    if pa.types.is_dictionary(column.type):
        lengths = pc.binary_length(column.dictionary).take(column.indices)
    elif _is_bytes(column.type, pa):
        lengths = pc.binary_length(column)
    else:
        return 0
    total = pc.sum(lengths).as_py()
    return int(total or 0)


def _check_uncompressed(parquet, columns: list[str], ctx: ReadContext, path: Path) -> None:
    """Refuse columns whose pages inflate past ``max_frame_bytes`` (as the file's metadata declares them)."""
    try:
        meta = parquet.metadata
        total = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                if column.path_in_schema.split(".")[0] in columns:
                    total += max(int(column.total_uncompressed_size), 0)
    except Exception:  # noqa: BLE001 - unusual metadata: the read below reports real damage
        return
    ctx.limits.check_frame((total,), np.uint8, f"{path} (columns {', '.join(columns)})")


def _pyarrow(path: Path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"Reading {path} needs pyarrow, which is not installed. Run: pip install genforge[parquet]"
        ) from None
    return pa, pq


def _is_bytes(kind: Any, pa) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _image_column(schema, given: str | None, path: Path, pa) -> str:
    if given is not None:
        if given not in schema.names:
            raise DataError(f"{path}: image_column={given!r} names no column; it has {schema.names}.")
        return given
    candidates = [f.name for f in schema if _is_bytes(f.type, pa)
                  or (pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0)]
    named = [n for n in candidates if n.lower() in IMAGE_NAMES]
    if not candidates:
        raise DataError(f"{path}: no column of image bytes (columns: {schema.names}). "
                        "Pass image_column=... naming a column of PNG/JPEG bytes.")
    return (named or candidates)[0]


def _label_column(schema, given: str | bool | None, image_col: str, path: Path, pa) -> str | None:
    if given is False:
        return None
    if given is not None:
        if given not in schema.names:
            raise DataError(f"{path}: label_column={given!r} names no column; it has {schema.names}.")
        return str(given)
    for name in LABEL_NAMES:
        for field in schema:
            if field.name.lower() == name and field.name != image_col and (
                pa.types.is_integer(field.type) or pa.types.is_string(field.type)
                or pa.types.is_large_string(field.type) or pa.types.is_dictionary(field.type)
            ):
                return field.name
    return None


def _blobs(column, pa) -> tuple[list[bytes | None], list[str | None] | None]:
    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if pa.types.is_struct(column.type):
        paths = column.field("path").to_pylist() if column.type.get_field_index("path") >= 0 else None
        return column.field("bytes").to_pylist(), paths
    return column.to_pylist(), None


def _class_names(schema, label_col: str) -> list[str] | None:
    """Hugging Face datasets store ClassLabel names in the schema metadata under b"huggingface"."""
    try:
        meta = json.loads((schema.metadata or {}).get(b"huggingface", b"{}"))
        features = meta.get("info", {}).get("features") or meta.get("features") or {}
        feature = features.get(label_col, {})
        names = feature.get("names") if feature.get("_type") == "ClassLabel" else None
        return [str(n) for n in names] if names else None
    except (ValueError, AttributeError, TypeError):
        return None  # unusual metadata is no reason to refuse the data


def _labels(values: list, names: list[str] | None) -> tuple[np.ndarray, list[str] | None]:
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        labels = np.array(values, np.int64)
        if names is not None and len(labels) and (labels.max() >= len(names) or labels.min() < 0):
            names = None  # metadata that does not match the data is ignored, not trusted
        return labels, names
    strings = [str(v) for v in values]
    names = sorted(set(strings))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in strings], np.int64), names
