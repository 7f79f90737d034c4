"""FID and KID through torchmetrics, on features computed once by a genforge extractor.

torchmetrics' FrechetInceptionDistance and KernelInceptionDistance accept a custom ``feature`` module; the
one given here passes already-extracted features through (``num_features`` tells torchmetrics their width),
so the features are computed once and shared with the other metrics while the maths (float64 means and
covariances, the matrix square root through eigenvalues, KID's polynomial-kernel MMD over subsets) stays
torchmetrics'.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.metrics.features import Features, context, extract_pair


class PassThrough(nn.Module):
    """A torchmetrics ``feature`` module for features that were already extracted."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid(generated: Frame | Features, reference: Frame | Features, extractor: Any = None) -> dict[str, Any]:
    """Fréchet distance between Gaussians fitted to generated and reference features (lower is better)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    gen, ref = extract_pair(generated, reference, extractor)
    for side, feats in (("generated", gen), ("reference", ref)):
        if len(feats) < 2:
            raise DataError(
                f"FID needs at least 2 {side} images to estimate a covariance, got {len(feats)}; "
                f"use at least {feats.features.shape[1]} (the feature width), ideally thousands."
            )
    dim = gen.features.shape[1]
    if min(len(gen), len(ref)) <= dim:
        warnings.warn(
            f"FID on {min(len(gen), len(ref))} samples of {dim}-d features: the covariance is singular and the "
            "score is strongly biased upwards; use more samples than feature dimensions.", stacklevel=2)
    metric = FrechetInceptionDistance(feature=PassThrough(dim), reset_real_features=True)
    metric.update(_tensor(ref), real=True)
    metric.update(_tensor(gen), real=False)
    value = float(metric.compute())
    return {"fid": max(value, 0.0), **context(gen, ref)}


def kid(generated: Frame | Features, reference: Frame | Features, extractor: Any = None, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel, mean and std over subsets."""
    from torchmetrics.image.kid import KernelInceptionDistance

    gen, ref = extract_pair(generated, reference, extractor)
    size = min(int(subset_size), len(gen), len(ref))
    if size < 2:
        raise DataError(f"KID needs at least 2 generated and 2 reference images, got {len(gen)} and {len(ref)}.")
    with warnings.catch_warnings():  # its note that it keeps all features in memory: they are here anyway
        warnings.simplefilter("ignore")
        metric = KernelInceptionDistance(feature=PassThrough(gen.features.shape[1]), subsets=int(subsets),
                                         subset_size=size)
    metric.update(_tensor(ref), real=True)
    metric.update(_tensor(gen), real=False)
    with torch.random.fork_rng(devices=[]), one_thread():  # torchmetrics draws subsets from the global RNG
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return {"kid": float(mean), "kid_std": float(std), "kid_subset_size": size, "kid_subsets": int(subsets),
            **context(gen, ref)}


@contextmanager
def one_thread():
    """Run many tiny tensor ops on one thread: KID's 100 small kernel matrices are 50x slower with a thread
    pool that has to wake up for each of them on a busy machine, and gain nothing from it on a quiet one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tensor(features: Features) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(features.features, dtype=np.float64))
