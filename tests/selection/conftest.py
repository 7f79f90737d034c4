"""Tiny searches: 8x8 blobs (tests/conftest.make_frame), small mlp VAEs and GANs of a few epochs, scored
with the built-in digits evaluator (the 8x8 one) on a few dozen samples."""

from __future__ import annotations

import warnings

import pytest

from tests.conftest import make_frame

TINY = {"width": 8, "batch_size": 16}
SCORING = {"evaluator": "digits", "score_samples": 32}


@pytest.fixture(autouse=True)
def _quiet_small_sample_warnings():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="FID on")  # 32 samples of 64-d features: expected here
        warnings.filterwarnings("ignore", message="KID")
        yield


@pytest.fixture
def frame():
    return make_frame(n=64, size=8)


def vae_automl(tmp_path, **options):
    """An AutoML over small mlp VAEs (which give diverse samples after a few epochs on the blobs)."""
    import genforge as gf

    settings = dict(include_algos=["vae"], seed=3, project_name="tiny", out=tmp_path / "out", min_epochs=3,
                    rungs=2, reduction_factor=3, max_models=3, verbose=False,
                    fixed_params={**TINY, "architecture": "mlp"}, **SCORING)
    settings.update(options)
    return gf.AutoML(**settings)
