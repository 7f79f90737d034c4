"""The sample-quality scores of a generator's ``model_performance`` (FID, KID, precision/recall, ...).

They are computed by ``genforge.metrics``, a layer above the estimators; it registers its scorer here when
it is imported (``import genforge`` does), so that an estimator asks for the scores without importing it.
"""

from __future__ import annotations

from typing import Any, Callable

# (model, frame, n=..., extractor=..., training=..., seed=...) -> flat dict of scores
_QUALITY_SCORER: list[Callable[..., dict[str, Any]]] = []


def register_quality_scorer(scorer: Callable[..., dict[str, Any]]) -> None:
    """Install the function that scores a generator's samples against a frame (``genforge.metrics`` does)."""
    _QUALITY_SCORER[:] = [scorer]


def quality_scores(model: Any, frame: Any, **options: Any) -> dict[str, Any]:
    """The registered scorer's result, or a ``skipped`` note saying why there is none."""
    if not _QUALITY_SCORER:
        return {"skipped": {"quality": "no sample-quality scorer is installed; import genforge.metrics first."}}
    return _QUALITY_SCORER[0](model, frame, **options)
