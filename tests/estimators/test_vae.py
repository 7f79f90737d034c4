"""VAEEstimator: every architecture, size and channel count; encode/decode; learning; CVAE; bad input; resume."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge.errors import DataError, ParameterError

from ..conftest import make_frame

TINY = {"epochs": 2, "batch_size": 8, "seed": 3, "verbose": False, "width": 4, "latent_dim": 4}


def _frame(size, channels: int, n: int = 16) -> gf.Frame:
    side = size if isinstance(size, int) else max(size)
    frame = make_frame(n=n, size=side)
    if not isinstance(size, int):
        frame = frame.resize(size)
    return frame.to_channels(channels)


@pytest.mark.parametrize("size", [8, 16, 28, (12, 20)], ids=["8", "16", "28", "12x20"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_every_architecture_size_and_channel_count(architecture, channels, size):
    frame = _frame(size, channels)
    vae = gf.VAEEstimator(**{**TINY, "epochs": 1}, architecture=architecture).train(training_frame=frame)
    h, w, c = frame.image_shape
    means, log_vars = vae.encode(frame)
    assert means.shape == log_vars.shape == (16, 4) and means.dtype == np.float32
    assert vae.decode(means).images.shape == (16, h, w, c)
    assert vae.reconstruct(frame[:3]).image_shape == (h, w, c)
    samples = vae.predict(5, seed=1)
    assert samples.images.shape == (5, h, w, c) and samples.images.dtype == np.uint8
    assert np.isfinite(vae.model_performance(frame)["elbo"])


def test_history_has_elbo_terms_and_validation_columns():
    train, valid = make_frame(n=32, size=8).split_frame([0.75], seed=0)
    vae = gf.VAEEstimator(**TINY).train(training_frame=train, validation_frame=valid)
    row = vae.scoring_history().rows[-1]
    for column in ("loss", "reconstruction", "kl", "valid_loss", "valid_reconstruction", "valid_kl"):
        assert np.isfinite(row[column])
    assert row["loss"] == pytest.approx(row["reconstruction"] + row["kl"], rel=1e-4)
    assert vae._stopping_metric(vae.validated_params()) == "valid_loss"
    alone = gf.VAEEstimator(**TINY).train(training_frame=train)
    assert "valid_loss" not in alone.scoring_history().columns
    assert alone._stopping_metric(alone.validated_params()) == "loss"


def test_reconstruction_improves_with_training():
    frame = make_frame(n=32, size=8)
    params = {**TINY, "architecture": "mlp", "lr": 5e-3, "epochs": 1}
    first = gf.VAEEstimator(**params).train(training_frame=frame)
    before = first.model_performance(frame)
    later = gf.VAEEstimator(**{**params, "epochs": 6}).train(training_frame=frame)
    after = later.model_performance(frame)
    assert after["reconstruction_mse"] < 0.6 * before["reconstruction_mse"]
    assert after["elbo"] > before["elbo"]
    losses = later.scoring_history()["loss"]
    assert losses[-1] < losses[0]


def test_beta_and_kl_warmup_weight_the_kl_term():
    frame = make_frame(n=32, size=8)
    vae = gf.VAEEstimator(**{**TINY, "epochs": 3, "beta": 4.0, "kl_warmup_epochs": 2}).train(training_frame=frame)
    weights = vae.scoring_history()["kl_weight"]
    assert weights[0] < weights[1] < weights[2] == pytest.approx(4.0)
    plain = gf.VAEEstimator(**{**TINY, "reconstruction_loss": "mse"}).train(training_frame=frame)
    assert plain.scoring_history()["kl_weight"] == [1.0, 1.0]


def test_predict_takes_a_latent_array_and_interpolates():
    vae = gf.VAEEstimator(**TINY).train(training_frame=make_frame(n=16, size=8))
    z = vae.noise(3, seed=5)
    np.testing.assert_array_equal(vae.predict(z).images, vae.predict(3, seed=5).images)
    path = vae.interpolate(1, 2, steps=5)
    assert len(path) == 5
    np.testing.assert_array_equal(path.images[0], vae.predict(1, seed=1).images[0])
    np.testing.assert_array_equal(path.images[-1], vae.predict(1, seed=2).images[0])


def test_conditional_vae_generates_the_classes_asked_for():
    frame = make_frame(n=32, size=8)
    vae = gf.VAEEstimator(**TINY, conditional=True).train(training_frame=frame)
    assert vae.predict(4, seed=0).labels.tolist() == [0, 1, 2, 3]
    assert vae.predict(3, seed=0, labels="class2").labels.tolist() == [2, 2, 2]
    assert vae.decode(vae.noise(2, 0), labels=[1, 3]).labels.tolist() == [1, 3]
    # Encoding uses the frame's labels, matched by class name.
    renamed = gf.Frame(frame.images, 3 - frame.labels, ["class3", "class2", "class1", "class0"])
    np.testing.assert_allclose(vae.encode(renamed)[0], vae.encode(frame)[0], rtol=1e-5, atol=1e-6)


def test_bad_labels_latents_and_frames_are_clear_errors():
    frame = make_frame(n=16, size=8)
    cvae = gf.VAEEstimator(**TINY, conditional=True).train(training_frame=frame)
    with pytest.raises(DataError, match="outside 0..3"):
        cvae.predict(2, labels=7)
    with pytest.raises(DataError, match="'shoe' is not a class"):
        cvae.predict(2, labels="shoe")
    with pytest.raises(DataError, match="one label per row"):
        cvae.decode(cvae.noise(3, 0), labels=[0, 1])
    with pytest.raises(DataError, match="needs the frame's labels"):
        cvae.encode(gf.Frame(frame.images))
    other = gf.Frame(frame.images, frame.labels, ["a", "b", "c", "d"])
    with pytest.raises(DataError, match="does not know"):
        cvae.reconstruct(other)
    vae = gf.VAEEstimator(**TINY).train(training_frame=frame)
    with pytest.raises(DataError, match=r"shape \(N, 4\)"):
        vae.decode(np.zeros((2, 5)))
    with pytest.raises(DataError, match="NaN"):
        vae.decode(np.full((1, 4), np.nan))
    with pytest.raises(DataError, match="not conditional"):
        vae.predict(2, labels=1)
    with pytest.raises(DataError, match="n must be at least 1"):
        vae.predict(0)
    with pytest.raises(DataError, match="16x16 with 1 channel.*8x8 with 1 channel.*resize=True"):
        vae.encode(make_frame(n=4, size=16))
    with pytest.raises(DataError, match="3 channels"):
        vae.reconstruct(frame.to_channels(3))
    assert vae.reconstruct(make_frame(n=4, size=16).to_channels(3), resize=True).image_shape == (8, 8, 1)
    assert vae.model_performance(make_frame(n=4, size=12), resize=True)["n_images"] == 4


def test_training_input_errors():
    with pytest.raises(DataError, match="conditional=True needs a frame with labels"):
        gf.VAEEstimator(**TINY, conditional=True).train(training_frame=gf.Frame(make_frame(n=8, size=8).images))
    with pytest.raises(ParameterError, match="at least 8x8.*mlp"):
        gf.VAEEstimator(**TINY).train(training_frame=make_frame(n=8, size=6))
    assert gf.VAEEstimator(**TINY, architecture="mlp").train(training_frame=make_frame(n=8, size=6)).is_fitted
    with pytest.raises(ParameterError, match="beta"):
        gf.VAEEstimator(**TINY, beta=-1).train(training_frame=make_frame(n=8, size=8))
