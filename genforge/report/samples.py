"""Samples: a grid of generated images, and the quality/diversity trade-off along the model's own knob:

- GAN: the truncation threshold of the noise (``predict(truncation=...)``, BigGAN's trick);
- conditional diffusion: the classifier-free guidance scale;
- any other generator (VAE, ONNX runtimes): the temperature, the scale of the latent vectors.

At each level, the same latent vectors give ``sweep_samples`` images (default: up to ``SWEEP_SAMPLES``,
the default level scored on the same count) whose precision, recall (fidelity and diversity, Kynkäänniemi
et al.) and FID against the reference features are measured. An unconditional
diffusion model has no such knob: its sweep is skipped with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genforge.metrics.features import extract
from genforge.metrics.frechet import fid
from genforge.metrics.prdc import precision_recall
from genforge.report.context import ReportContext, generate, png_uri
from genforge.report.svg import line_chart

KNOBS: dict[str, dict[str, Any]] = {
    "truncation": {"levels": [None, 1.5, 1.0, 0.7, 0.5], "default": None,
                   "label": "truncation threshold (std; off = none)", "note": "lower: more typical, less diverse"},
    "guidance_scale": {"levels": [1.0, 2.0, 3.0, 5.0], "default": 1.0, "label": "guidance scale",
                       "note": "higher: more class-typical, less diverse"},
    "temperature": {"levels": [0.6, 0.8, 1.0, 1.2], "default": 1.0, "label": "temperature (scale of z)",
                    "note": "lower: more typical, less diverse"},
}
SWEEP_SAMPLES = 1000  # per level: the sweep compares levels with each other, at one sample count


def knob_of(model: Any) -> tuple[str | None, str]:
    """The trade-off knob of ``model`` and how it is applied, or (None, why there is none)."""
    algo = getattr(model, "algo", None)
    if algo == "gan":
        return "truncation", "option"
    if algo == "diffusion":
        if getattr(model, "num_classes", 0):
            return "guidance_scale", "option"
        return None, "an unconditional diffusion model has no truncation or guidance knob to trade with."
    return "temperature", "scale"


def samples_section(ctx: ReportContext, levels: list | None = None, sweep_samples: int | None = None) -> dict[str, Any]:
    """The grid and the trade-off sweep (figures as data; ``html`` for the page)."""
    grid = ctx.generated.images[:64]
    knob, how = knob_of(ctx.model)
    out: dict[str, Any] = {"grid_images": len(grid), "knob": knob, "sweep": []}
    figures = [("Generated samples", f'<img class="grid" alt="generated samples" src="{png_uri(grid, nrow=8)}">')]
    if knob is None:
        out["sweep_skipped"] = how
    else:
        spec = KNOBS[knob]
        chosen = list(spec["levels"] if levels is None else levels)
        count = min(ctx.samples, int(sweep_samples) if sweep_samples else SWEEP_SAMPLES)
        z = ctx.z[:count]
        for level in chosen:
            out["sweep"].append(_score_level(ctx, knob, how, level, spec["default"], z))
        out["sweep_samples"] = count
        out["knob_label"], out["knob_note"] = spec["label"], spec["note"]
        figures.append(("Quality/diversity trade-off", _plots(out["sweep"], spec)))
    out["html"] = figures
    return out


def _score_level(ctx: ReportContext, knob: str, how: str, level: Any, default: Any, z: np.ndarray) -> dict[str, Any]:
    if level == default and len(z) == len(ctx.z):
        gen = ctx.gen  # the report's own samples are this level
    else:
        if how == "scale":
            frame = generate(ctx.model, (z * float(level)).astype(np.float32))
        else:
            frame = generate(ctx.model, z, **{knob: level})
        gen = extract(frame, ctx.extractor, "generated")
    scores = precision_recall(gen, ctx.ref, nearest_k=5)
    return {"level": level, "precision": scores["precision"], "recall": scores["recall"],
            "density": scores["density"], "coverage": scores["coverage"], "fid": fid(gen, ctx.ref)["fid"],
            "n_generated": len(gen)}


def _plots(sweep: list[dict], spec: dict) -> str:
    # Levels on the x axis in the order given, named (None = "off").
    positions = {i: ("off" if row["level"] is None else f"{row['level']:g}") for i, row in enumerate(sweep)}
    pr = {name: [(i, row[name]) for i, row in enumerate(sweep)] for name in ("precision", "recall", "density", "coverage")}
    fids = {"FID": [(i, row["fid"]) for i, row in enumerate(sweep)]}
    trade = {"recall vs precision": [(row["precision"], row["recall"]) for row in sweep]}
    return (line_chart(pr, "Precision and recall", spec["label"], "score", x_labels=positions)
            + line_chart(fids, "FID (lower is better)", spec["label"], "FID", x_labels=positions)
            + line_chart(trade, "Trade-off curve", "precision (fidelity)", "recall (diversity)"))
