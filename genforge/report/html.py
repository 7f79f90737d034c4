"""The report as one HTML page that stands alone: inline CSS, images as data URIs, plots as inline SVG,
no script and no link to anything outside the file, so it opens offline and in a sandboxed frame."""

from __future__ import annotations

import html
from typing import Any

TITLES = {"samples": "Samples", "copies": "Copies", "bias": "Bias", "health": "Training health",
          "directions": "Latent directions"}

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#cbd5e1}main{padding:8px 24px 32px;max-width:1200px}
section.report-section{background:#fff;border:1px solid #dde;border-radius:8px;margin:16px 0;padding:12px 18px}
section h2{margin:4px 0 8px}figure{margin:8px 0}figure.block>figcaption{font-weight:600;margin-bottom:4px}
.figures{display:flex;flex-wrap:wrap;gap:12px}.plot{border:1px solid #eee;margin:4px}
img{image-rendering:pixelated}table.data{border-collapse:collapse;margin:6px 0}
table.data td,table.data th{border:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:middle}
tr.flagged td,tr.event td{background:#fff1f1}.flag{color:#b91c1c}.muted{color:#667}.ok{color:#166534}
.summary{display:flex;flex-wrap:wrap;gap:8px 24px;margin:6px 0}.summary div b{display:block;font-size:18px}
.pairs{display:flex;flex-wrap:wrap;gap:10px}.pair{margin:0;text-align:center;font-size:12px}
.skipped{color:#92400e;background:#fffbeb;border:1px solid #fde68a;padding:6px 10px;border-radius:6px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _summary(name: str, data: dict) -> str:
    """A line of headline figures for a section."""
    items: list[tuple[str, str]] = []
    if name == "samples" and data.get("sweep"):
        base = next((r for r in data["sweep"] if r["level"] in (None, 1.0)), data["sweep"][0])
        items = [("FID", f"{base['fid']:.3f}"), ("precision", f"{base['precision']:.3f}"),
                 ("recall", f"{base['recall']:.3f}"), ("knob", str(data.get("knob")))]
    elif name == "copies":
        items = [("memorization", f"{100 * data['memorization']:.2f}%"),
                 ("expected for real images", f"{100 * data['expected_rate']:.2f}%"),
                 ("threshold", f"{data['memorization_threshold']:.3f}"), ("exact copies", str(data["exact_copies"]))]
    elif name == "bias":
        items = [("under-produced", ", ".join(data["under_produced"]) or "none"),
                 ("over-produced", ", ".join(data["over_produced"]) or "none"), ("by", data["by"])]
    elif name == "health":
        kinds = sorted({e["kind"] for e in data["events"]})
        items = [("epochs", str(data["epochs"])), ("events", ", ".join(kinds) or "none"),
                 ("sample spread vs real", f"{data['samples']['feature_spread_ratio']:.2f}")]
    elif name == "directions":
        items = [("main directions", str(len(data["main"]))),
                 ("class directions", str(sum(1 for c in data["classes"] if "vector" in c)))]
    return '<div class="summary">' + "".join(f"<div>{_esc(k)}<b>{_esc(v)}</b></div>" for k, v in items) + "</div>"


def section_html(name: str, data: dict, figures: list[tuple[str, str]] | None, seconds: float) -> str:
    """One ``<section>``: its summary, its figures (trusted HTML/SVG made by the sections) or why it was skipped."""
    head = f'<section class="report-section" id="{_esc(name)}" data-section="{_esc(name)}"><h2>{_esc(TITLES[name])}</h2>'
    foot = f'<p class="muted">{seconds:.2f} s</p></section>'
    if "skipped" in data:
        return head + f'<p class="skipped">Skipped: {_esc(data["skipped"])}</p>' + foot
    body = [_summary(name, data)]
    notes = [data[k] for k in ("sweep_skipped", "classes_skipped", "note") if data.get(k)]
    body += [f'<p class="muted">{_esc(n)}</p>' for n in notes]
    body.append('<div class="figures">')
    body += [f'<figure class="block"><figcaption>{_esc(title)}</figcaption>{content}</figure>'
             for title, content in figures or []]
    body.append("</div>")
    return head + "".join(body) + foot


def page(meta: dict, sections: list[str]) -> str:
    timings = "".join(f"<tr><td>{_esc(TITLES.get(k, k))}</td><td>{v:.2f} s</td></tr>" for k, v in meta["seconds"].items())
    header = (f"<header><h1>Model report: {_esc(meta['model_id'])} ({_esc(meta['algo'])})</h1>"
              f"<p>{_esc(meta['samples'])} generated images against {_esc(meta['frame'])} "
              f"({_esc(meta['n_frame'])} images){'; training frame ' + _esc(meta['training']) if meta.get('training') else ''}"
              f" · features: {_esc(meta['extractor'])} · seed {_esc(meta['seed'])} · {_esc(meta['created'])} · "
              f"genforge {_esc(meta['genforge'])}</p></header>")
    toc = " · ".join(f'<a href="#{_esc(k)}">{_esc(TITLES[k])}</a>' for k in TITLES if k in meta["sections"])
    timing = (f'<details><summary>Time per section ({meta["total_seconds"]:.1f} s in all)</summary>'
              f'<table class="data">{timings}</table></details>')
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>genforge report: {_esc(meta['model_id'])}</title><style>{_STYLE}</style></head><body>"
            f"{header}<main><p>{toc}</p>{timing}{''.join(sections)}</main></body></html>")
