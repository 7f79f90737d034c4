"""Training health: the loss curves, D(x) and D(G(z)), FID over time, and the events found in them.

``find_events(history)`` reads a scoring history (one dict per epoch) and returns what went wrong, each
with the epoch and the evidence:

- ``nan``: a loss or score that is NaN, infinite or missing where earlier epochs had a number;
- ``divergence``: a loss that jumps far above its run so far (above ``max(10 x its median absolute
  deviation, 2 x |median|, 1)`` over the median of the earlier epochs), or an FID that climbs back above
  1.5 x its best;
- ``mode_collapse``: a diversity score in the history (``diversity``, ``recall`` or ``coverage``) falling
  under half its best;
- ``plateau``: the main loss (``valid_loss``, else ``loss``; FID for GANs) that improved by less than 0.5%
  over the last ``PLATEAU_EPOCHS`` epochs.

The section adds a check of the final model's samples (mode collapse: their spread in feature space, or the
share of distinct images, under half the real data's) and the divergence guard's own events, from
``model.training_events()`` when the model has it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from genforge.report.context import ReportContext
from genforge.report.svg import line_chart

BOOKKEEPING = {"epoch", "step", "seconds", "images_per_sec", "lr", "learning_rate"}
DIVERSITY = ("diversity", "recall", "coverage")
PLATEAU_EPOCHS = 5
COLLAPSE_RATIO = 0.5


def _number(value: Any) -> float | None:
    """A finite float, NaN for a non-finite or missing one, None for what is not a number at all."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return math.nan
    return None


def _epoch(row: dict, index: int) -> int:
    epoch = row.get("epoch")
    return int(epoch) if isinstance(epoch, (int, float)) and not isinstance(epoch, bool) and math.isfinite(epoch) else index + 1


def _columns(history: Sequence[dict]) -> list[str]:
    """The history's columns that hold a number in at least one epoch (bookkeeping left out)."""
    seen: list[str] = []
    for row in history:
        seen.extend(c for c in row if c not in seen and c not in BOOKKEEPING)
    return [c for c in seen if any(isinstance(r.get(c), (int, float, np.integer, np.floating))
                                   and not isinstance(r.get(c), bool) for r in history)]


def find_events(history: Sequence[dict]) -> list[dict[str, Any]]:
    """The events of a scoring history, in epoch order: dicts ``{"epoch", "kind", "column", "evidence"}``."""
    rows = list(history or [])
    events: list[dict[str, Any]] = []
    columns = _columns(rows)
    series = {c: [(_epoch(r, i), _number(r.get(c)) if c in r else None) for i, r in enumerate(rows)] for c in columns}
    for column, points in series.items():
        events += _nan_events(column, points)
        finite = [(e, v) for e, v in points if v is not None and math.isfinite(v)]
        if column.endswith("loss"):
            events += _loss_divergence(column, finite)
        if column == "fid":
            events += _fid_divergence(finite)
        if column in DIVERSITY or column.endswith("diversity"):
            events += _collapse(column, finite)
    main = next((c for c in ("valid_loss", "loss", "fid") if c in series), None)
    if main is not None:
        events += _plateau(main, [(e, v) for e, v in series[main] if v is not None and math.isfinite(v)])
    return sorted(events, key=lambda e: (e["epoch"], e["kind"]))


def _nan_events(column: str, points: list[tuple[int, float | None]]) -> list[dict]:
    had_number = False
    for epoch, value in points:
        if value is None:
            continue
        if math.isfinite(value):
            had_number = True
        elif had_number or column.endswith("loss"):
            return [{"epoch": epoch, "kind": "nan", "column": column,
                     "evidence": f"{column} is not a finite number at epoch {epoch}."}]
    return []


def _loss_divergence(column: str, points: list[tuple[int, float]]) -> list[dict]:
    for i in range(3, len(points)):
        earlier = np.array([v for _, v in points[:i]])
        median = float(np.median(earlier))
        spread = float(np.median(np.abs(earlier - median)))
        epoch, value = points[i]
        limit = median + max(10 * spread, 2 * abs(median), 1.0)
        if value > limit:
            return [{"epoch": epoch, "kind": "divergence", "column": column,
                     "evidence": f"{column} jumped to {value:.4g} at epoch {epoch}; its median over epochs "
                                 f"{points[0][0]}-{points[i - 1][0]} was {median:.4g} (limit {limit:.4g})."}]
    return []


def _fid_divergence(points: list[tuple[int, float]]) -> list[dict]:
    best_epoch, best = None, math.inf
    for epoch, value in points:
        if value < best:
            best_epoch, best = epoch, value
        elif value > 1.5 * best and value - best > 1e-6:
            return [{"epoch": epoch, "kind": "divergence", "column": "fid",
                     "evidence": f"FID rose to {value:.4g} at epoch {epoch}, over 1.5 x its best of {best:.4g} "
                                 f"(epoch {best_epoch})."}]
    return []


def _collapse(column: str, points: list[tuple[int, float]]) -> list[dict]:
    best_epoch, best = None, -math.inf
    for epoch, value in points:
        if value > best:
            best_epoch, best = epoch, value
        elif best > 0 and value < COLLAPSE_RATIO * best:
            return [{"epoch": epoch, "kind": "mode_collapse", "column": column,
                     "evidence": f"{column} fell to {value:.4g} at epoch {epoch}, under half its best of {best:.4g} "
                                 f"(epoch {best_epoch})."}]
    return []


def _plateau(column: str, points: list[tuple[int, float]]) -> list[dict]:
    window = 3 if column == "fid" else PLATEAU_EPOCHS
    if len(points) < 2 * window:
        return []
    before = min(v for _, v in points[:-window])
    after = min(v for _, v in points[-window:])
    gain = (before - after) / (abs(before) or 1.0)
    if gain < 0.005:
        start = points[-window][0]
        return [{"epoch": start, "kind": "plateau", "column": column,
                 "evidence": f"{column} improved by {100 * gain:.2f}% over epochs {start}-{points[-1][0]} "
                             f"(best {before:.4g} before, {after:.4g} since); more epochs of the same will not help much."}]
    return []


def sample_collapse(ctx: ReportContext, epoch: int | None) -> tuple[dict[str, float], list[dict]]:
    """How spread the final samples are against the real images (feature space), and a collapse event."""
    rng = np.random.default_rng(ctx.seed)
    n = min(500, len(ctx.gen), len(ctx.ref))
    gen = ctx.gen.features[rng.choice(len(ctx.gen), n, replace=False)]
    ref = ctx.ref.features[rng.choice(len(ctx.ref), n, replace=False)]
    spread = _mean_distance(gen) / max(_mean_distance(ref), 1e-12)
    images = ctx.generated.images[:n].reshape(n, -1)
    distinct = len({row.tobytes() for row in images}) / n
    figures = {"feature_spread_ratio": float(spread), "distinct_share": float(distinct)}
    if spread < COLLAPSE_RATIO or distinct < COLLAPSE_RATIO:
        evidence = (f"the final samples spread {spread:.2f} x as far apart as real images in feature space, and "
                    f"{100 * distinct:.0f}% of {n} samples are distinct images.")
        return figures, [{"epoch": epoch, "kind": "mode_collapse", "column": "samples", "evidence": evidence,
                          "source": "final samples"}]
    return figures, []


def _mean_distance(features: np.ndarray) -> float:
    x = features.astype(np.float64)
    squared = (x * x).sum(1)
    d = np.sqrt(np.clip(squared[:, None] - 2 * x @ x.T + squared[None, :], 0, None))
    n = len(x)
    return float(d.sum() / max(1, n * (n - 1)))


def guard_events(model: Any) -> list[dict]:
    """The divergence guard's records (``model.training_events()``), when the model keeps them."""
    reader = getattr(model, "training_events", None)
    if not callable(reader):
        return []
    events = []
    for event in reader() or []:
        if isinstance(event, dict):
            events.append({"epoch": event.get("epoch"), "step": event.get("step"), "kind": str(event.get("kind")),
                           "evidence": str(event.get("evidence", "")), "action": event.get("action"),
                           "source": "divergence guard"})
    return events


def health_section(ctx: ReportContext) -> dict[str, Any]:
    history = [dict(r) for r in ctx.model.scoring_history().rows] if hasattr(ctx.model, "scoring_history") else []
    events = [{**e, "source": "history"} for e in find_events(history)]
    last = _epoch(history[-1], len(history) - 1) if history else None
    spread, collapse = sample_collapse(ctx, last)
    events += collapse + guard_events(ctx.model)
    out: dict[str, Any] = {"epochs": len(history), "events": events, "samples": spread,
                           "columns": _columns(history)}
    marks = [(e["epoch"], e["kind"]) for e in events if isinstance(e.get("epoch"), (int, float))]
    figures = []
    if history:
        curves = {}
        for title, names in (("Losses", [c for c in out["columns"] if c.endswith("loss")]),
                             ("D(x) and D(G(z))", [c for c in ("d_real", "d_fake", "valid_d_real") if c in out["columns"]]),
                             ("FID over time", ["fid"] if "fid" in out["columns"] else [])):
            if not names:
                continue
            lines = {n: [(_epoch(r, i), _number(r.get(n)) if n in r else math.nan) for i, r in enumerate(history)]
                     for n in names}
            curves[title] = {n: [[e, v if v is not None and math.isfinite(v) else None] for e, v in pts]
                             for n, pts in lines.items()}
            clean = {n: [(e, v) for e, v in pts if v is not None] for n, pts in lines.items()}
            figures.append((title, line_chart(clean, title, "epoch", title.split(" ")[0], marks=marks)))
        out["curves"] = curves
    else:
        out["note"] = "this model keeps no training history (an uploaded or exported model)."
    figures.append(("Events", _events_table(events)))
    out["html"] = figures
    return out


def _events_table(events: list[dict]) -> str:
    import html

    if not events:
        return '<p class="ok">No events: no NaN, divergence, collapse or plateau was found.</p>'
    rows = "".join(
        f"<tr class=\"event {html.escape(e['kind'])}\"><td>{html.escape(str(e.get('epoch', '–')))}</td>"
        f"<td>{html.escape(e['kind'])}</td><td>{html.escape(e['evidence'])}</td>"
        f"<td>{html.escape(str(e.get('source', '')))}</td><td>{html.escape(str(e.get('action') or ''))}</td></tr>"
        for e in events)
    return ("<table class=\"data events\"><thead><tr><th>epoch</th><th>event</th><th>evidence</th><th>found by</th>"
            f"<th>action</th></tr></thead><tbody>{rows}</tbody></table>")
