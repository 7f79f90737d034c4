"""Bias: does the model produce each kind of image as often as the real data holds it?

Labelled frames (and an evaluator that classifies their classes): each class's share in the held-out frame
(what the model should match), in the training frame (what it was shown) and among the generated images
(by the domain evaluator's prediction), with per-class precision and recall (generated images predicted as
the class against the real images of the class). Unlabelled frames: the same over k-means clusters of the
evaluator's features of the held-out images.

A class is flagged under- or over-produced when its generated share is below half or above twice the real
share (``UNDER``, ``OVER``: symmetric on a log scale) and the difference is beyond chance (a z-score over 3
for the difference of two binomial shares, at the generated and the real image counts).
A flagged class whose training share deviates the same way is marked as following the training data (a
data bias rather than a model one).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from genforge.errors import DataError
from genforge.metrics.features import Features
from genforge.metrics.prdc import precision_recall
from genforge.report.context import ReportContext, png_uri
from genforge.report.svg import bar_chart

UNDER, OVER, Z_SCORE = 0.5, 2.0, 3.0
NEAREST_K = 5


def bias_section(ctx: ReportContext, clusters: int = 8) -> dict[str, Any]:
    names = list(ctx.extractor.class_names or [])
    labelled = (ctx.frame.labels is not None and ctx.gen.probabilities is not None and names
                and set(ctx.frame.class_names or []) <= set(names))
    return _by_class(ctx, names) if labelled else _by_cluster(ctx, clusters)


def _shares(indices: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(indices, minlength=k).astype(np.float64) / max(1, len(indices))


def _class_indices(frame, names: list[str]) -> np.ndarray:
    mapping = np.array([names.index(n) for n in frame.class_names])
    return mapping[frame.labels]


def flag(expected: float, generated: float, n: int, n_real: int) -> str | None:
    """"under", "over" or None for one class's generated share (of ``n`` images) against its real share
    (of ``n_real`` images)."""
    if expected <= 0:
        return "over" if generated > 0.02 and generated * n >= 10 else None
    se = np.sqrt(expected * (1 - expected) * (1 / n + 1 / max(1, n_real))) or 1e-12
    z = (generated - expected) / se
    if generated < UNDER * expected and z < -Z_SCORE:
        return "under"
    if generated > OVER * expected and z > Z_SCORE:
        return "over"
    return None


def _rows(names: list[str], real: np.ndarray, training: np.ndarray | None, generated: np.ndarray, n: int,
          n_real: int) -> list[dict]:
    rows = []
    for i, name in enumerate(names):
        row = {"name": name, "real_share": float(real[i]), "generated_share": float(generated[i]),
               "training_share": None if training is None else float(training[i]),
               "ratio": float(generated[i] / real[i]) if real[i] > 0 else None, "flag": flag(real[i], generated[i], n, n_real)}
        if row["flag"] and training is not None:
            same_way = (training[i] < UNDER ** 0.5 * real[i]) if row["flag"] == "under" else (training[i] > OVER ** 0.5 * real[i])
            row["follows_training"] = bool(same_way)
        rows.append(row)
    return rows


def _by_class(ctx: ReportContext, names: list[str]) -> dict[str, Any]:
    k = len(names)
    predicted = ctx.gen.probabilities.argmax(axis=1)
    real = _shares(_class_indices(ctx.frame, names), k)
    training = None
    if ctx.training is not None and ctx.training.labels is not None and set(ctx.training.class_names or []) <= set(names):
        training = _shares(_class_indices(ctx.training, names), k)
    rows = _rows(names, real, training, _shares(predicted, k), len(predicted), len(ctx.frame))
    ref_labels = _class_indices(ctx.reference, names) if ctx.reference.labels is not None else None
    for i, row in enumerate(rows):
        row.update(_class_pr(ctx, predicted == i, None if ref_labels is None else ref_labels == i))
    out = {"mode": "classes", "by": f"the {ctx.extractor.name} evaluator's predicted class", "groups": rows,
           "n_generated": len(predicted), "under_produced": [r["name"] for r in rows if r["flag"] == "under"],
           "over_produced": [r["name"] for r in rows if r["flag"] == "over"]}
    out["html"] = _figures(out, rows, None)
    return out


def _class_pr(ctx: ReportContext, gen_mask: np.ndarray, ref_mask: np.ndarray | None) -> dict[str, Any]:
    if ref_mask is None or gen_mask.sum() <= NEAREST_K or ref_mask.sum() <= NEAREST_K:
        return {"precision": None, "recall": None}
    gen = _subset(ctx.gen, gen_mask)
    ref = _subset(ctx.ref, ref_mask)
    try:
        scores = precision_recall(gen, ref, nearest_k=NEAREST_K)
    except DataError:
        return {"precision": None, "recall": None}
    return {"precision": scores["precision"], "recall": scores["recall"]}


def _subset(features: Features, mask: np.ndarray) -> Features:
    probabilities = None if features.probabilities is None else features.probabilities[mask]
    return Features(features.features[mask], probabilities, features.extractor, features.source, features.class_names)


def _by_cluster(ctx: ReportContext, clusters: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    k = int(max(2, min(clusters, len(ctx.ref) // 10)))
    model = KMeans(n_clusters=k, n_init=4, random_state=ctx.seed).fit(ctx.ref.features.astype(np.float64))
    real_idx = model.labels_
    gen_idx = model.predict(ctx.gen.features.astype(np.float64))
    names = [f"cluster {i + 1}" for i in range(k)]
    training = None
    if ctx.training is not None:
        from genforge.metrics.features import extract

        sample = ctx.training.shuffle(ctx.seed)[: len(ctx.ref)]
        training = _shares(model.predict(extract(sample, ctx.extractor, "training").features.astype(np.float64)), k)
    rows = _rows(names, _shares(real_idx, k), training, _shares(gen_idx, k), len(gen_idx), len(real_idx))
    for i, row in enumerate(rows):
        row.update(_class_pr(ctx, gen_idx == i, real_idx == i))
    examples = []
    for i in range(k):
        real_images = ctx.reference.images[real_idx == i][:8]
        gen_images = ctx.generated.images[gen_idx == i][:8]
        examples.append((names[i], real_images, gen_images))
    out = {"mode": "clusters", "by": f"k-means ({k} clusters) of the {ctx.extractor.name} features of the real images",
           "groups": rows, "n_generated": len(gen_idx),
           "under_produced": [r["name"] for r in rows if r["flag"] == "under"],
           "over_produced": [r["name"] for r in rows if r["flag"] == "over"]}
    out["html"] = _figures(out, rows, examples)
    return out


def _figures(out: dict, rows: list[dict], examples) -> list[tuple[str, str]]:
    names = [r["name"] for r in rows]
    groups = {"real (held-out)": [r["real_share"] for r in rows], "generated": [r["generated_share"] for r in rows]}
    if rows and rows[0]["training_share"] is not None:
        groups["training"] = [r["training_share"] for r in rows]
    flagged = out["under_produced"] + out["over_produced"]
    chart = bar_chart(names, groups, f"Shares by {'class' if out['mode'] == 'classes' else 'cluster'}", "share",
                      flagged=flagged)
    body = []
    for r in rows:
        cls = ' class="flagged"' if r["flag"] else ""
        note = {"under": "under-produced", "over": "over-produced"}.get(r["flag"] or "", "")
        if r.get("follows_training"):
            note += " (as in the training data)"
        cells = [r["name"], _pct(r["real_share"]), _pct(r["training_share"]), _pct(r["generated_share"]),
                 "–" if r["ratio"] is None else f"{r['ratio']:.2f}", _num(r["precision"]), _num(r["recall"]), note]
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    table = ("<table class=\"data\"><thead><tr><th>group</th><th>real</th><th>training</th><th>generated</th>"
             "<th>ratio</th><th>precision</th><th>recall</th><th>flag</th></tr></thead><tbody>"
             + "".join(body) + "</tbody></table>")
    figures = [("Shares", chart), ("Per group", table)]
    if examples:
        cells = []
        for name, real_images, gen_images in examples:
            real_img = f'<img alt="real images of {name}" src="{png_uri(real_images, nrow=8)}">' if len(real_images) else "–"
            gen_img = f'<img alt="generated images of {name}" src="{png_uri(gen_images, nrow=8)}">' if len(gen_images) else "none"
            cells.append(f"<tr><td>{html.escape(name)}</td><td>{real_img}</td><td>{gen_img}</td></tr>")
        figures.append(("What each cluster holds", "<table class=\"data\"><thead><tr><th>cluster</th><th>real</th>"
                        "<th>generated</th></tr></thead><tbody>" + "".join(cells) + "</tbody></table>"))
    return figures


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
