"""Scores during training, as training-loop callbacks: FID every K epochs.

    gan.train(training_frame=train, callbacks=[gf.metrics.fid_callback(gan, valid, every=2, samples=1000)])

An estimator asked for ``score_every`` or ``stopping_metric="fid"`` builds the same callback through the
training layer's registry, where importing this module puts it (``genforge.metrics`` does on import).
"""

from __future__ import annotations

from typing import Any

from genforge.frame import Frame
from genforge.metrics.evaluate import fid_scorer
from genforge.training.scoring import ScoreEvery, register_scorer


def fid_callback(model: Any, reference: Frame, every: int = 1, samples: int = 1000, extractor: Any = None,
                 seed: int = 0) -> ScoreEvery:
    """A callback adding ``fid`` (``samples`` fresh images of ``model`` against ``reference``) to every
    ``every``-th epoch's history row; the reference features are extracted once, here."""
    return ScoreEvery(fid_scorer(model, reference, samples=samples, extractor=extractor, seed=seed), every, ("fid",))


register_scorer("fid", fid_callback)
