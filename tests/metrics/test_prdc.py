"""Precision/recall/density/coverage: high for real against real, low precision for noise, low recall and
coverage for a generator that draws one class only."""

from __future__ import annotations

from genforge import metrics as M

from .conftest import random_images


def test_real_against_real_has_high_precision_and_recall(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    scores = M.precision_recall(test, valid, extractor=digits_extractor)
    assert scores["precision"] > 0.85 and scores["recall"] > 0.85
    assert scores["coverage"] > 0.8 and 0.7 < scores["density"] < 1.3
    assert scores["nearest_k"] == 5 and scores["extractor"] == "digits-cnn"


def test_noise_has_low_density_coverage_and_recall(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    scores = M.precision_recall(random_images(300), valid, extractor=digits_extractor)
    # Precision alone is fooled by real outliers with wide balls (about half the noise lands in one here);
    # density, which counts the balls, is not: that is why Naeem et al. proposed it.
    assert scores["density"] < 0.25 and scores["coverage"] < 0.1 and scores["recall"] < 0.05
    assert scores["precision"] < 0.6


def test_one_class_generator_has_low_recall_and_coverage(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    ones = train[train.labels == 1]
    scores = M.precision_recall(ones, valid, extractor=digits_extractor)
    assert scores["precision"] > 0.8
    assert scores["recall"] < 0.3 and scores["coverage"] < 0.2
