"""Bad input gets a clear genforge error: empty or mismatched frames, too few samples, unknown extractors."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge import metrics as M

from .conftest import random_images


def test_empty_frames(digits_splits):
    train, valid, test = digits_splits
    with pytest.raises(gf.DataError, match="empty"):
        M.evaluate(test[test.labels == 99], valid)  # selecting no images is already refused
    with pytest.raises(gf.DataError, match="must be a Frame"):
        M.fid(np.zeros((0, 8, 8, 1), np.uint8), valid)


def test_mismatched_image_shapes(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    big = random_images(20, (16, 16, 1))
    with pytest.raises(gf.DataError, match="compare images of one shape"):
        M.fid(big, valid)
    with pytest.raises(gf.DataError, match="digits-cnn extractor takes 8x8x1"):
        M.extract(big, digits_extractor)
    with pytest.raises(gf.DataError, match="one shape"):
        M.evaluate(test, valid, training=big)


def test_too_few_samples(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    with pytest.raises(gf.DataError, match="FID needs at least 2"):
        M.fid(test[:1], valid, extractor=digits_extractor)
    with pytest.raises(gf.DataError, match="nearest_k=5 needs more than 5"):
        M.precision_recall(test[:5], valid, extractor=digits_extractor)
    with pytest.warns(UserWarning, match="singular"):
        M.fid(test[:10], valid, extractor=digits_extractor)
    # evaluate(strict=False) reports what it could not compute instead of failing
    scores = M.evaluate(test[:4], valid, extractor=digits_extractor, strict=False, metrics=["fid", "precision_recall"])
    assert "precision_recall" in scores["skipped"] and "fid" in scores


def test_unknown_extractors_and_metrics(digits_splits):
    train, valid, test = digits_splits
    with pytest.raises(gf.ParameterError, match="no built-in evaluator 'cifar10'"):
        M.fid(test, valid, extractor="cifar10")
    with pytest.raises(gf.ParameterError, match="No built-in evaluator fits 16x16x1"):
        M.fid(random_images(8, (16, 16, 1)), random_images(8, (16, 16, 1), seed=1))
    with pytest.raises(gf.ParameterError, match="unknown metrics"):
        M.evaluate(test, valid, metrics=["fidd"])
    with pytest.raises(gf.ParameterError, match="space"):
        M.memorization(test, train, valid, space="latent")


def test_metrics_without_class_probabilities(digits_splits):
    from torch import nn

    train, valid, test = digits_splits
    flat = M.ModuleExtractor(nn.Flatten(), name="pixels")
    with pytest.raises(gf.ParameterError, match="class"):
        M.class_coverage(test, train, extractor=flat)
    scores = M.evaluate(test, valid, extractor=flat, training=train)
    assert scores["extractor"] == "pixels" and "class_coverage" not in scores and "fid" in scores
