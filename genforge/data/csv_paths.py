"""CSV files that list image files: one row per image, a path column and an optional label column.

Paths are relative to the CSV's folder and must stay inside it: absolute paths, ``..`` and symbolic
links that lead out are refused (a CSV from elsewhere must not make the server read /etc/passwd).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from genforge.data.context import Loaded, ReadContext
from genforge.data.csv_table import CsvTable, is_number, label_column
from genforge.data.decode import decode_images
from genforge.data.paths import resolve_inside
from genforge.errors import DataError

_PATH_FIX = "Give paths relative to the CSV's folder, inside it."


def read_paths(table: CsvTable, ctx: ReadContext, path_col: int) -> Loaded:
    """Decode the images a CSV lists; labels come from a label column when there is one."""
    label = _label(table, ctx, path_col)
    targets, sources, raw_labels = _plan(table, ctx, path_col, label)
    if not targets:
        first = f" The first: {ctx.skipped[0][0]}: {ctx.skipped[0][1]}." if ctx.skipped else ""
        raise DataError(f"{table.path}: no row names a readable image.{first}")
    images, kept = decode_images(sources, lambda i: open(targets[i], "rb"), ctx, str(table.path))
    labels = class_names = None
    if label is not None:
        labels, class_names = _indices([raw_labels[i] for i in kept])
    return Loaded(images, labels, class_names, [sources[i] for i in kept])


def path_files(table: CsvTable, ctx: ReadContext, path_col: int) -> list[Path]:
    """The CSV and every image it names that exists inside its folder (they key the cache)."""
    root = table.path.parent.resolve()
    found = [table.path]
    for _, row in table.rows():
        if path_col < len(row):
            target, reason = resolve_inside(root, row[path_col].strip())
            if reason is None and target is not None and target.is_file():
                found.append(target)
    return found


def _label(table: CsvTable, ctx: ReadContext, path_col: int) -> int | None:
    given = ctx.option("label_column")
    label = label_column(table, given, anywhere=True)
    if label is None and given is None and not table.has_header and len(table.columns) == 2:
        label = 1 - path_col  # headerless "path,label" rows
    if label == path_col:
        raise DataError(f"{table.path}: the label column and the path column are both "
                        f"{table.columns[label]!r}; pass label_column=... or path_column=....")
    return label


def _plan(table: CsvTable, ctx: ReadContext, path_col: int, label: int | None):
    root = table.path.parent.resolve()
    limit = ctx.options.limit
    targets: list[Path] = []
    sources: list[str] = []
    labels: list[str] = []
    for line, row in table.rows():
        if limit is not None and len(targets) >= limit:
            break
        if len(row) != len(table.columns):
            ctx.bad(table.where(line), f"the row has {len(row)} values where the "
                    f"{'header' if table.has_header else 'first row'} has {len(table.columns)}",
                    "Fix or delete the row.")
            continue
        relative = row[path_col].strip()
        target, reason = resolve_inside(root, relative)
        if reason is not None:
            ctx.bad(table.where(line, path_col), f"the path is refused: {reason}", _PATH_FIX)
            continue
        if not target.is_file():
            ctx.bad(table.where(line, path_col), f"{relative!r} does not exist in {table.path.parent}",
                    "Fix the path or delete the row.")
            continue
        if label is not None:
            value = row[label].strip()
            if not value:
                ctx.bad(table.where(line, label), "the label is empty", "Fill it in or delete the row.")
                continue
            labels.append(value)
        targets.append(target)
        # The path as written, under the CSV's folder: what the user will look for.
        sources.append(str(table.path.parent / relative))
    return targets, sources, labels


def _indices(values: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Whole-number labels are class indices; anything else is a class name (sorted)."""
    if values and all(_whole(v) for v in values):
        return np.array([int(float(v)) for v in values], np.int64), None
    names = sorted(set(values))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in values], np.int64), names


def _whole(text: str) -> bool:
    if not is_number(text):
        return False
    value = float(text)
    return math.isfinite(value) and value >= 0 and value == int(value)
