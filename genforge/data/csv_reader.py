"""CSV files: pixel columns (MNIST-CSV style) or a column of image paths, told apart by their content."""

from __future__ import annotations

from pathlib import Path

from genforge.data.context import Loaded, ReadContext
from genforge.data.csv_paths import path_files, read_paths
from genforge.data.csv_pixels import read_pixels
from genforge.data.csv_table import CsvTable, path_column, sniff

OPTIONS = frozenset({"path_column", "label_column", "delimiter"})


def files(path: Path, ctx: ReadContext) -> list[Path]:
    table, path_col = _layout(path, ctx)
    return [path] if path_col is None else path_files(table, ctx, path_col)


def read(path: Path, ctx: ReadContext) -> Loaded:
    """Read a CSV of pixels (``label_column=``, ``image_size=``) or of image paths (``path_column=``).

    A column whose values all end in an image extension (``.png``, ``.jpg``, ...) is taken as the path
    column unless ``path_column=`` names one; otherwise every column but the label holds pixel values.
    """
    table, path_col = _layout(path, ctx)
    if path_col is None:
        return read_pixels(table, ctx)
    return read_paths(table, ctx, path_col)


def _layout(path: Path, ctx: ReadContext) -> tuple[CsvTable, int | None]:
    table = sniff(path, ctx.option("delimiter"))
    return table, path_column(table, ctx.option("path_column"))
