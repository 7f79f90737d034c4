"""The leaderboard of a grid or an AutoML run: one row per candidate model, ranked by a score.

Rows are plain dicts with the columns below (``params`` is a JSON string, so the table stays flat for CSV).
A row's ``status`` says whether its model may lead: only ``ok`` rows can; ``memorizes`` rows are scored
but copy their training images too often; ``collapsed``, ``diverged`` and ``failed`` rows say why in
``reason``. Sorting keeps that order first (ok, memorizes, collapsed, diverged, failed), then ranks by
the score, best first, rows without the score last.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from genforge.errors import ParameterError
from genforge.table import Table

COLUMNS = ("model_id", "algo", "status", "reason", "fid", "kid", "precision", "recall", "coverage", "memorization",
           "classes_covered", "training_secs", "images_per_sec", "epochs", "rung", "model_path", "params")
STATUSES = ("ok", "memorizes", "collapsed", "diverged", "failed")
SCORES = ("fid", "kid", "precision", "recall", "coverage", "memorization", "classes_covered", "training_secs",
          "images_per_sec", "epochs")
# Scores where larger is better; the others (fid, kid, memorization, training_secs) are better small.
HIGHER_IS_BETTER = frozenset({"precision", "recall", "coverage", "classes_covered", "images_per_sec", "epochs"})


def check_sort_metric(name: str, what: str = "sort_metric") -> str:
    """``name`` when it is a leaderboard score, else a ParameterError listing them."""
    if name not in SCORES:
        raise ParameterError(f"{what} {name!r} is not a leaderboard score; choose one of: {', '.join(SCORES)}.")
    return name


def better(metric: str, a: float, b: float) -> bool:
    """Whether score ``a`` beats ``b`` on ``metric``."""
    return a > b if metric in HIGHER_IS_BETTER else a < b


class Leaderboard(Table):
    """Candidates ranked by ``sort_metric`` (see the module docstring); a :class:`genforge.Table`."""

    def __init__(self, rows: Iterable[dict[str, Any]], sort_metric: str = "fid", decreasing: bool | None = None) -> None:
        self.sort_metric = check_sort_metric(sort_metric)
        self.decreasing = sort_metric in HIGHER_IS_BETTER if decreasing is None else bool(decreasing)
        rows = [{c: row.get(c) for c in COLUMNS} for row in rows]
        super().__init__(sorted(rows, key=self._key), COLUMNS)

    def _key(self, row: dict) -> tuple:
        status = STATUSES.index(row["status"]) if row.get("status") in STATUSES else len(STATUSES)
        value = row.get(self.sort_metric)
        missing = not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
        score = 0.0 if missing else (-value if self.decreasing else value)
        return (status, missing, score, str(row.get("model_id")))

    def sort(self, by: str = "fid", decreasing: bool | None = None) -> "Leaderboard":
        """The same rows ranked by ``by`` (best first; ``decreasing`` overrides the direction)."""
        return Leaderboard(self.rows, by, decreasing)

    def best_row(self, algorithm: str | None = None, criterion: str | None = None) -> dict[str, Any] | None:
        """The best ``ok`` row (of ``algorithm`` when given) by ``criterion`` (default: the sort metric);
        None when no row qualifies."""
        board = self if criterion is None else self.sort(criterion)
        for row in board.rows:
            if row["status"] == "ok" and (algorithm is None or row["algo"] == algorithm):
                if board._key(row)[1]:  # no value for the criterion
                    continue
                return dict(row)
        return None

    def to_json(self, path: str | Path | None = None) -> str:
        """The rows as a JSON list (``params`` parsed back into objects); written to ``path`` when given."""
        rows = [{**row, "params": json.loads(row["params"]) if row.get("params") else None} for row in self.rows]
        text = json.dumps(rows, indent=2) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    def summary(self) -> str:
        """Counts by status, e.g. ``5 models: 3 ok, 1 memorizes, 1 failed``."""
        counts = {s: sum(1 for r in self.rows if r["status"] == s) for s in STATUSES}
        parts = [f"{n} {s}" for s, n in counts.items() if n]
        return f"{len(self.rows)} model{'s' if len(self.rows) != 1 else ''}" + (": " + ", ".join(parts) if parts else "")

    def __repr__(self) -> str:
        # The paths and parameters make lines too long for a terminal: to_csv / to_json have them.
        shown = [c for c in COLUMNS if c not in ("model_path", "params", "reason")]
        return repr(Table([{**r, "reason": None} for r in self.rows], shown))
