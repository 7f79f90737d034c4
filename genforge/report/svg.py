"""Plots as inline SVG text: line charts, grouped bars and histograms, with no plotting library and no
script, so that a report opens offline anywhere and its figures stay sharp when zoomed."""

from __future__ import annotations

import html
import math
from typing import Sequence

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
_W, _H = 460, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 40, 40


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _legend(names: Sequence[str], left: float, top: float) -> list[str]:
    """One row of coloured names above the plot area (never over the lines)."""
    parts, x = [], left
    for index, name in enumerate(names):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<rect x="{x:.0f}" y="{top - 15}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{x + 13:.0f}" y="{top - 11}" font-size="10" fill="{colour}">{_esc(name)}</text>')
        x += 22 + 5.6 * len(str(name))
    return parts


def _frame(title: str, x_label: str, y_label: str, width: int, height: int) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{_esc(title)}</text>',
            f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" font-size="11">{_esc(x_label)}</text>',
            f'<text x="12" y="{height / 2}" text-anchor="middle" font-size="11" '
            f'transform="rotate(-90 12 {height / 2})">{_esc(y_label)}</text>']


def line_chart(series: dict[str, Sequence[tuple[float, float]]], title: str, x_label: str, y_label: str,
               width: int = _W, height: int = _H, marks: Sequence[tuple[float, str]] = (),
               x_labels: dict[float, str] | None = None) -> str:
    """One panel of lines (with dots) for each named series of (x, y) points; non-finite points are left
    out. ``marks`` are vertical lines at x with a label (events); ``x_labels`` names tick positions."""
    clean = {name: [(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)]
             for name, points in series.items()}
    xs = [x for pts in clean.values() for x, _ in pts] + [x for x, _ in marks]
    ys = [y for pts in clean.values() for _, y in pts]
    parts = _frame(title, x_label, y_label, width, height)
    if not ys:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12">no finite values</text></svg>')
        return "".join(parts)
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    left, right, top, bottom = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM

    def px(x: float) -> float:
        return left + (right - left) * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return bottom - (bottom - top) * (y - y0) / (y1 - y0)

    parts.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#999"/>')
    for tick in _ticks(y0, y1):
        parts.append(f'<line x1="{left}" x2="{right}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end" font-size="10">{_fmt(tick)}</text>')
    ticks = sorted(x_labels) if x_labels else _ticks(x0, x1)
    for tick in ticks:
        label = x_labels[tick] if x_labels else _fmt(tick)
        parts.append(f'<text x="{px(tick):.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{_esc(label)}</text>')
    for x, label in marks:
        parts.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{bottom}" stroke="#d62728" '
                     f'stroke-dasharray="4 3"/><text x="{px(x) + 3:.1f}" y="{top + 10}" font-size="9" '
                     f'fill="#d62728">{_esc(label)}</text>')
    for index, (name, points) in enumerate(clean.items()):
        colour = COLOURS[index % len(COLOURS)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        if len(points) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>' for x, y in points)
    parts += _legend(list(clean), left, top)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(categories: Sequence[str], groups: dict[str, Sequence[float]], title: str, y_label: str,
              flagged: Sequence[str] = (), width: int = 640, height: int = _H) -> str:
    """Grouped bars: one group per category, one bar per named series; flagged categories in red."""
    parts = _frame(title, "", y_label, width, height)
    values = [v for series in groups.values() for v in series if math.isfinite(v)]
    top_value = max(values + [1e-9]) * 1.1
    left, right, top, bottom = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM
    parts.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#999"/>')
    for tick in _ticks(0, top_value):
        y = bottom - (bottom - top) * tick / top_value
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_fmt(tick)}</text>')
    slot = (right - left) / max(1, len(categories))
    bar = slot * 0.8 / max(1, len(groups))
    for c, name in enumerate(categories):
        for g, (_, series) in enumerate(groups.items()):
            value = series[c] if math.isfinite(series[c]) else 0.0
            h = (bottom - top) * value / top_value
            x = left + c * slot + slot * 0.1 + g * bar
            parts.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[g % len(COLOURS)]}"/>')
        colour = "#d62728" if name in flagged else "#000"
        parts.append(f'<text x="{left + (c + 0.5) * slot:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10" '
                     f'fill="{colour}">{_esc(name)}{" !" if name in flagged else ""}</text>')
    parts += _legend(list(groups), left, top)
    parts.append("</svg>")
    return "".join(parts)


def histogram(samples: dict[str, Sequence[float]], title: str, x_label: str, bins: int = 30,
              marks: Sequence[tuple[float, str]] = (), width: int = _W, height: int = _H) -> str:
    """Overlaid histograms (as share of each sample per bin, drawn as step lines) of named samples."""
    values = [float(v) for s in samples.values() for v in s if math.isfinite(float(v))]
    if not values:
        return line_chart({}, title, x_label, "share")
    low, high = min(values + [x for x, _ in marks]), max(values + [x for x, _ in marks])
    if high <= low:
        high = low + 1.0
    edges = [low + (high - low) * i / bins for i in range(bins + 1)]
    series = {}
    for name, sample in samples.items():
        finite = [float(v) for v in sample if math.isfinite(float(v))]
        counts = [0] * bins
        for v in finite:
            counts[min(bins - 1, int((v - low) / (high - low) * bins))] += 1
        total = max(1, len(finite))
        points = []
        for i, count in enumerate(counts):
            points += [(edges[i], count / total), (edges[i + 1], count / total)]
        series[name] = points
    return line_chart(series, title, x_label, "share of images", width, height, marks=marks)
