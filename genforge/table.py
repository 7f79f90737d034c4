"""A small column table: what ``scoring_history()`` and classifier predictions return.

Rows of plain values, printable as text, convertible to pandas or CSV, so that genforge needs no pandas.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence


class Table:
    """An ordered list of rows (dicts) sharing columns."""

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
        self.rows = [dict(r) for r in rows]
        if columns is None:
            columns = []
            for row in self.rows:
                columns.extend(c for c in row if c not in columns)
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str | int) -> Any:
        """A column as a list (by name) or a row as a dict (by position)."""
        if isinstance(key, str):
            if key not in self.columns:
                raise KeyError(f"no column {key!r}; columns are {self.columns}")
            return [row.get(key) for row in self.rows]
        return self.rows[key]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def to_csv(self, path: str | Path | None = None) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def __repr__(self) -> str:
        if not self.rows:
            return f"<Table: no rows; columns {self.columns}>"
        cells = [[_fmt(row.get(c)) for c in self.columns] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return "" if value is None else str(value)
