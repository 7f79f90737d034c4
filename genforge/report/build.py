"""``build_report``: every section on one set of samples, timed, written as HTML and JSON side by side."""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from genforge._version import __version__
from genforge.errors import GenforgeError, ParameterError
from genforge.files import claim_path
from genforge.report import html as writer
from genforge.report.bias import bias_section
from genforge.report.context import ReportContext, make_context
from genforge.report.copies import copies_section
from genforge.report.directions import directions_section
from genforge.report.health import health_section
from genforge.report.samples import samples_section
from genforge.serialization import json_default

SECTIONS = ("samples", "copies", "bias", "health", "directions")


def report_paths(path: Any) -> tuple[Path, Path]:
    """The HTML path asked for and the JSON file beside it (same name, ``.json``)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ParameterError(f"path must be a file name ending in .html, got {path!r}.")
    html_path = Path(path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"path must end in .html (the JSON goes beside it as .json), got {str(path)!r}.")
    return html_path, html_path.with_suffix(".json")


def build_report(model: Any, frame: Any, path: Any = "report.html", samples: int = 2000, training_frame: Any = None,
                 extractor: Any = None, seed: int = 0, force: bool = False, sections: Any = None, k: int = 5,
                 levels: list | None = None, sweep_samples: int | None = None,
                 progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Write the report of generator ``model`` against ``frame`` (held-out real images) to ``path`` (HTML)
    and its figures to the ``.json`` beside it; returns the JSON's content with ``path`` and ``json_path``.

    ``samples`` generated images (and as many of ``frame``'s) are scored, under ``extractor`` (default: the
    model's evaluator, then the built-in one of the frame). ``training_frame`` (default for a built-in test
    split such as ``fashion-mnist:test``: its train split) is what Copies compares with and Bias shows next
    to the real shares. ``sections`` picks some of ``SECTIONS``; ``k`` main latent directions; ``levels``
    and ``sweep_samples`` set the trade-off sweep (its knob's levels; images per level). Existing files are
    replaced only with ``force``. A section the inputs do not allow (no training frame for Copies, say) is
    kept with the reason it was skipped. ``progress(section, fraction_done)`` is called before each section.
    """
    html_path, json_path = report_paths(path)
    chosen = _check_sections(sections)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
        raise ParameterError(f"k must be an integer from 1 to 20 (main latent directions), got {k!r}.")
    if sweep_samples is not None and (isinstance(sweep_samples, bool) or not isinstance(sweep_samples, int)
                                      or sweep_samples < 50):
        raise ParameterError(f"sweep_samples must be an integer of at least 50, got {sweep_samples!r}.")
    if levels is not None and (not isinstance(levels, (list, tuple)) or not levels or len(levels) > 12):
        raise ParameterError(f"levels must be a list of 1 to 12 knob values, got {levels!r}.")
    for target in (html_path, json_path):
        claim_path(target, force, "report file")
    if training_frame is None:
        training_frame = _default_training(frame)
    ctx = make_context(model, frame, training_frame, samples, extractor, seed)

    started = time.monotonic()
    seconds: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="FID on .* samples")  # the sweep's counts are stated beside it
        if progress is not None:
            progress("generating and extracting features", 0.0)
        ctx.prepare()
        seconds["setup"] = round(time.monotonic() - started, 3)
        runners: dict[str, Callable[[ReportContext], dict]] = {
            "samples": lambda c: samples_section(c, levels=None if levels is None else list(levels),
                                                 sweep_samples=sweep_samples),
            "copies": copies_section, "bias": bias_section, "health": health_section,
            "directions": lambda c: directions_section(c, k=k),
        }
        results, pages = {}, []
        for index, name in enumerate(chosen):
            if progress is not None:
                progress(name, index / len(chosen))
            begun = time.monotonic()
            try:
                data = runners[name](ctx)
            except GenforgeError as error:  # what the inputs do not allow: said on the page, the rest goes on
                data = {"skipped": str(error)}
            seconds[name] = round(time.monotonic() - begun, 3)
            figures = data.pop("html", None)
            results[name] = data
            pages.append(writer.section_html(name, data, figures, seconds[name]))
    meta = {
        "model_id": getattr(model, "model_id", None) or type(model).__name__, "algo": getattr(model, "algo", "model"),
        "frame": ctx.frame.name or "frame", "n_frame": len(ctx.frame), "samples": ctx.samples, "seed": ctx.seed,
        "training": ctx.training.name if ctx.training is not None else None,
        "n_training": len(ctx.training) if ctx.training is not None else None, "extractor": ctx.extractor.name,
        "sections": list(chosen), "seconds": seconds, "total_seconds": round(time.monotonic() - started, 3),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "genforge": __version__,
    }
    report = {"report": meta, **results}
    text = json.dumps(_finite(json.loads(json.dumps(report, default=json_default))), indent=1, allow_nan=False)
    _write(html_path, writer.page(meta, pages))
    _write(json_path, text + "\n")
    return {**json.loads(text), "path": str(html_path), "json_path": str(json_path)}


def _finite(value: Any) -> Any:
    """NaN and infinities as null: the JSON stays standard (a diverged model's FID can be either)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _check_sections(sections: Any) -> tuple[str, ...]:
    if sections is None:
        return SECTIONS
    if isinstance(sections, str):
        sections = [sections]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise ParameterError(f"unknown report sections {unknown}; choose from {', '.join(SECTIONS)}.")
    return tuple(s for s in SECTIONS if s in sections)


def _default_training(frame: Any) -> Any:
    """The train split of a built-in test split (by the frame's name), else None."""
    from genforge.metrics.evaluate import default_training_source

    source = default_training_source(getattr(frame, "name", None) or "")
    if source is None:
        return None
    from genforge.data import import_file

    try:
        return import_file(source)
    except GenforgeError:
        return None


def _write(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so that a failed write leaves no half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
