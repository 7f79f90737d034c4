"""FID and KID mean what they say: near 0 for two real samples, far larger for noise, and growing with
every step of added noise or blur."""

from __future__ import annotations

import pytest

from genforge import metrics as M

from .conftest import blurred, noisy, random_images


def test_fid_of_real_against_real_is_near_zero_and_far_below_noise(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    real = M.fid(test, train[:360], extractor=digits_extractor)
    noise = M.fid(random_images(360), train[:360], extractor=digits_extractor)
    assert real["fid"] < 10  # 360 samples of 64-d features: FID's small-sample bias, not a difference
    assert real["fid"] < noise["fid"] / 20
    assert real["extractor"] == "digits-cnn"
    assert (real["n_generated"], real["n_reference"]) == (len(test), 360)
    assert real["reference"] == "digits"


@pytest.mark.parametrize("degrade, levels", [(noisy, [0.0, 0.1, 0.2, 0.4]), (blurred, [0.0, 0.5, 0.8, 1.5])])
def test_fid_grows_monotonically_with_degradation(digits_splits, digits_extractor, degrade, levels):
    train, valid, test = digits_splits
    reference = M.extract(valid, digits_extractor)
    scores = [M.fid(M.extract(degrade(test, level), digits_extractor), reference)["fid"] for level in levels]
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores


def test_kid_real_near_zero_noise_large(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    real = M.kid(test, valid, extractor=digits_extractor, subsets=20, subset_size=200)
    noise = M.kid(random_images(360), valid, extractor=digits_extractor, subsets=20, subset_size=200)
    assert abs(real["kid"]) < noise["kid"] / 20
    assert real["kid_subset_size"] == 200 and real["extractor"] == "digits-cnn"
    again = M.kid(test, valid, extractor=digits_extractor, subsets=20, subset_size=200)
    assert again["kid"] == real["kid"]  # subsets drawn from a fixed seed


def test_inception_style_score(digits_splits, digits_extractor):
    train, valid, test = digits_splits
    spread = M.inception_score(test, extractor=digits_extractor)["inception_score"]
    one_class = M.inception_score(test[test.labels == 3], extractor=digits_extractor)["inception_score"]
    assert spread > 7 and one_class < 1.5
