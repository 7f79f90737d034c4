"""What a CSV file holds: its header (or lack of one), its columns, and which hold labels or image paths.

Shared by the pixel-CSV and path-CSV readers. Only the first rows are read here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from genforge.data.paths import is_image_name
from genforge.errors import DataError, ParameterError

LABEL_NAMES = ("label", "labels", "class", "y", "target", "category")
PATH_NAMES = ("path", "file", "filename", "file_name", "filepath", "file_path", "image", "image_path",
              "img", "img_path", "image_file")
_SAMPLE_ROWS = 50
# Raise the csv module's 128 KiB field limit only as far as a long path or label could need.
csv.field_size_limit(1 << 24)


@dataclass
class CsvTable:
    """A CSV file's layout: ``columns`` are the header's names, or "column 1", ... when it has none."""

    path: Path
    delimiter: str
    columns: list[str]
    has_header: bool
    sample: list[list[str]]

    def where(self, line: int, column: int | None = None) -> str:
        """``"data.csv line 7, column 'pixel3'"``: the place named in messages (lines count from 1)."""
        text = f"{self.path} line {line}"
        return text if column is None else f"{text}, column {self.columns[column]!r}"

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line number, fields)`` for each data row; blank lines are skipped."""
        with _open(self.path) as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            try:
                if self.has_header:
                    next(reader, None)
                for row in reader:
                    if row and any(field.strip() for field in row):
                        yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError) as exc:
                raise DataError(f"{self.path} line {reader.line_num}: not valid CSV ({exc}).") from None

    def index(self, given: str | int, option: str) -> int:
        """The position of a column given by name or 0-based number in an option."""
        if isinstance(given, bool):
            raise ParameterError(f"{option} must be a column name or number, got {given!r}.")
        if isinstance(given, int):
            if 0 <= given < len(self.columns):
                return given
        elif given in self.columns:
            return self.columns.index(given)
        elif self.has_header:
            lowered = [c.strip().lower() for c in self.columns]
            if str(given).strip().lower() in lowered:
                return lowered.index(str(given).strip().lower())
        raise DataError(
            f"{self.path}: {option}={given!r} names no column; the columns are "
            f"{_preview(self.columns)}."
        )


def sniff(path: Path, delimiter: str | None = None) -> CsvTable:
    """Read the first rows of a CSV: header or not, column names, a sample of data rows."""
    delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    rows: list[list[str]] = []
    try:
        with _open(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if row and any(field.strip() for field in row):
                    rows.append(row)
                if len(rows) > _SAMPLE_ROWS:
                    break
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (it is not UTF-8). Export it as UTF-8 CSV.") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not valid CSV ({exc}).") from None
    if not rows:
        raise DataError(f"{path}: the file is empty. Export the data with a header and one row per image.")
    # A header is a first row with any non-number in it (MNIST's own CSVs have none at all).
    has_header = not all(is_number(field) for field in rows[0])
    columns = [c.strip() for c in rows[0]] if has_header else [f"column {i + 1}" for i in range(len(rows[0]))]
    sample = rows[1:] if has_header else rows
    if not sample:
        raise DataError(f"{path}: has a header but no data rows. Add one row per image.")
    return CsvTable(path, delimiter, columns, has_header, sample)


def label_column(table: CsvTable, given: str | int | bool | None, anywhere: bool) -> int | None:
    """The label column: ``given`` (False for none), else a column named "label" or, by name, the first
    column (``anywhere``: any column with one of the usual label names).
    """
    if given is False:
        return None
    if given is not None and given is not True:
        return table.index(given, "label_column")
    if not table.has_header:
        return None
    lowered = [c.lower() for c in table.columns]
    if "label" in lowered:
        return lowered.index("label")
    if anywhere:
        return next((lowered.index(name) for name in LABEL_NAMES if name in lowered), None)
    return 0 if lowered and lowered[0] in LABEL_NAMES else None


def path_column(table: CsvTable, given: str | int | None) -> int | None:
    """The image-path column: ``given``, else a column whose sampled values all end in an image extension."""
    if given is not None:
        return table.index(given, "path_column")
    candidates = []
    for i in range(len(table.columns)):
        values = [row[i].strip() for row in table.sample if i < len(row)]
        if values and all(v and is_image_name(v) for v in values):
            candidates.append(i)
    named = [i for i in candidates if table.columns[i].lower() in PATH_NAMES]
    return (named or candidates or [None])[0]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _open(path: Path):
    # utf-8-sig drops the byte-order mark that spreadsheet programs put before the header.
    return open(path, newline="", encoding="utf-8-sig")


def _preview(names: list[str], count: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:count])
    return shown + (f", ... ({len(names)} in all)" if len(names) > count else "")
