"""Inception-style score: exp(E[KL(p(y|x) || p(y))]) of a classifier's probabilities, through torchmetrics.

With the domain classifier it is the "classifier score" of the dataset's own classes (at most the number
of classes: confident and evenly spread predictions score high); with Inception-v3 it is the classic IS
over 1008 ImageNet classes.
"""

from __future__ import annotations

from typing import Any

import warnings

import numpy as np
import torch

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.metrics.features import Features, extract
from genforge.metrics.frechet import PassThrough


def inception_score(generated: Frame | Features, extractor: Any = None, splits: int = 10,
                    seed: int = 0) -> dict[str, Any]:
    """Mean and std over ``splits`` parts of the generated images (higher is better)."""
    from torchmetrics.image.inception import InceptionScore

    gen = extract(generated, extractor, "generated")
    if gen.probabilities is None:
        raise ParameterError(f"the {gen.extractor} extractor gives no class probabilities; the Inception-style "
                             "score needs a classifier (a CNNEstimator or Inception-v3).")
    splits = max(1, min(int(splits), len(gen) // 2))
    if len(gen) < 2:
        raise DataError(f"the Inception-style score needs at least 2 generated images, got {len(gen)}.")
    # torchmetrics takes logits and applies softmax itself: log-probabilities give the same softmax back.
    logits = torch.from_numpy(np.log(np.clip(gen.probabilities.astype(np.float64), 1e-30, 1.0)))
    with warnings.catch_warnings():  # its note that it keeps features in memory: known, and small here
        warnings.simplefilter("ignore")
        metric = InceptionScore(feature=PassThrough(logits.shape[1]), splits=splits)
    metric.update(logits)
    with torch.random.fork_rng(devices=[]):  # torchmetrics shuffles with the global RNG
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return {"inception_score": float(mean), "inception_score_std": float(std) if splits > 1 else 0.0,
            "inception_score_splits": splits, "extractor": gen.extractor, "n_generated": len(gen)}
