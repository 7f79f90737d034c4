"""Fixtures for the metric tests: scikit-learn's digits (8x8, ships with scikit-learn) split three ways, and
the packaged digits evaluator, so that every test runs in about a second."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge import metrics as M


@pytest.fixture(scope="session")
def digits_splits() -> tuple[gf.Frame, gf.Frame, gf.Frame]:
    """train (60%), valid (20%) and test (20%) of the 1,797 digits."""
    return tuple(gf.import_file("digits").split_frame([0.6, 0.2], seed=0))


@pytest.fixture(scope="session")
def digits_extractor() -> M.FeatureExtractor:
    return M.builtin_extractor("digits")


def noisy(frame: gf.Frame, sigma: float, seed: int = 0) -> gf.Frame:
    """``frame`` with Gaussian pixel noise of ``sigma`` (pixels in [0, 1])."""
    rng = np.random.default_rng(seed)
    pixels = frame.to_numpy((0, 1)) + rng.normal(0, sigma, frame.images.shape)
    return gf.Frame.from_numpy(np.clip(pixels, 0, 1), name=f"{frame.name}+noise{sigma}")


def blurred(frame: gf.Frame, sigma: float) -> gf.Frame:
    """``frame`` blurred by a Gaussian of ``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    pixels = frame.to_numpy((0, 1))
    if sigma > 0:
        pixels = gaussian_filter(pixels, sigma=(0, sigma, sigma, 0))
    return gf.Frame.from_numpy(np.clip(pixels, 0, 1), name=f"{frame.name}+blur{sigma}")


def random_images(n: int, shape=(8, 8, 1), seed: int = 0) -> gf.Frame:
    rng = np.random.default_rng(seed)
    return gf.Frame(rng.integers(0, 256, (n, *shape), dtype=np.uint8), name="noise")
