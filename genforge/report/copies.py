"""Copies: does the model reproduce its training images?

``genforge.metrics.memorization`` on the report's samples: the share of generated images whose nearest
training image (pixel space) is closer than a threshold calibrated on the held-out frame's own distances to
the training images (its 1st percentile: about 1% of fresh real images fall under it; up to
``CALIBRATION_IMAGES`` of them, since each costs a search through every training image). The page shows both
distance distributions with the threshold, and the closest generated/training pairs side by side.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from genforge.metrics.memorization import memorization
from genforge.report.context import ReportContext, png_uri
from genforge.report.svg import histogram

PAIRS = 12
CALIBRATION_IMAGES = 1000


def copies_section(ctx: ReportContext, percentile: float = 1.0) -> dict[str, Any]:
    if ctx.training is None:
        return {"skipped": "no training_frame was given: pass the frame the model was trained on to look for copies."}
    result = memorization(ctx.generated, ctx.training, ctx.reference[:CALIBRATION_IMAGES], space="pixel",
                          percentile=percentile,
                          top=PAIRS, distances=True)
    gen_d = result.pop("generated_nn_distances")
    ref_d = result.pop("reference_nn_distances")
    threshold = result["memorization_threshold"]
    pairs = result["closest_pairs"]
    for pair in pairs:
        pair["copy"] = bool(pair["distance"] < threshold)
    out = {key: value for key, value in result.items() if key != "closest_pairs"}
    out.update({
        "pairs": pairs,
        "expected_rate": float(percentile) / 100,  # what fresh real images score, by construction
        "rate_vs_expected": float(result["memorization"] / (float(percentile) / 100)),
        "exact_copies": int(np.sum(gen_d == 0)),
    })
    hist = histogram({"generated → nearest training": gen_d, "held-out real → nearest training": ref_d},
                     "Distance to the nearest training image", "Euclidean distance (pixels in [0, 1])",
                     marks=[(threshold, "threshold")])
    cells = []
    for pair in pairs:
        both = np.stack([ctx.generated.images[pair["generated"]], ctx.training.images[pair["training"]]])
        flag = ' <b class="flag">copy</b>' if pair["copy"] else ""
        cells.append(f'<figure class="pair"><img alt="generated {pair["generated"]} and training {pair["training"]}" '
                     f'src="{png_uri(both, nrow=2)}"><figcaption>d = {pair["distance"]:.3f}{flag}<br>'
                     f'gen #{pair["generated"]} · train #{pair["training"]}</figcaption></figure>')
    pairs_html = (f'<p class="muted">Left: generated; right: its nearest training image ({html.escape(str(result["training"]))}).'
                  f'</p><div class="pairs">{"".join(cells)}</div>')
    out["html"] = [("Distances", hist), ("Closest generated/training pairs", pairs_html)]
    return out
