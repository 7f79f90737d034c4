"""Memorization flags planted copies of training images and not fresh ones; class coverage flags a
generator that draws one class only."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge import metrics as M


@pytest.mark.parametrize("space", ["pixel", "feature"])
def test_planted_copies_are_flagged_fresh_images_are_not(digits_splits, digits_extractor, space):
    train, valid, test = digits_splits
    fresh = M.memorization(test, train, valid, space=space, extractor=digits_extractor)
    assert fresh["memorization"] < 0.05
    copies = train[np.arange(0, 360, 2)]  # 180 training images ...
    planted = gf.Frame.concat([copies, test[:180]])  # ... among 180 fresh ones
    result = M.memorization(planted, train, valid, space=space, extractor=digits_extractor)
    assert 0.5 <= result["memorization"] < 0.55
    assert result["memorization_space"] == space
    assert (result["n_generated"], result["n_training"], result["n_reference"]) == (360, len(train), len(valid))
    assert all(pair["generated"] < 180 and pair["distance"] == 0 for pair in result["closest_pairs"])


def test_closest_pairs_grid(tmp_path, digits_splits):
    train, valid, test = digits_splits
    result = M.memorization(test, train, valid, top=6)
    grid = M.closest_pairs_grid(result, test, train, tmp_path / "pairs.png")
    assert grid.shape[0] == 2 * 8 + 3 * 2 and grid.shape[1] == 6 * 8 + 7 * 2  # 2 rows of 6 images, padding 2
    assert (tmp_path / "pairs.png").is_file()


def test_threshold_calibration_needs_a_held_out_split(digits_splits):
    train, valid, test = digits_splits
    with pytest.raises(gf.DataError, match="held-out"):
        M.memorization(test, train, train)
    with pytest.raises(gf.ParameterError, match="reference"):
        M.memorization(test, train)


def test_class_coverage_flags_a_one_class_generator(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    real = M.class_coverage(test, train, extractor=digits_extractor)
    assert real["class_coverage"] == 1.0 and real["classes_missing"] == [] and real["class_tv"] < 0.1
    sevens = M.class_coverage(test[test.labels == 7], train, extractor=digits_extractor)
    assert sevens["class_coverage"] == pytest.approx(0.1)
    assert len(sevens["classes_missing"]) == 9 and "7" not in sevens["classes_missing"]
    assert sevens["class_kl"] == pytest.approx(np.log(10), abs=0.15) and sevens["class_tv"] > 0.85
    assert sevens["expected_from"].startswith("labels of")
