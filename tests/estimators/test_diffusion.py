"""DiffusionEstimator: samplers, options and the clear errors of bad input (tiny UNet, 8x8, a few steps)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import genforge as gf
from genforge.errors import DataError, GenforgeError, ModelFormatError, ParameterError
from genforge.nets.diffusion import min_snr_weight, noise_generator

from ..conftest import make_frame

TINY = {"epochs": 1, "batch_size": 8, "seed": 1, "verbose": False, "width": 8, "channel_mults": [1, 2],
        "warmup_steps": 2}


@pytest.fixture(scope="module")
def frame():
    return make_frame(n=16, size=8)


@pytest.fixture(scope="module")
def model(frame):
    return gf.DiffusionEstimator(**TINY).train(training_frame=frame)


@pytest.fixture(scope="module")
def conditional(frame):
    return gf.DiffusionEstimator(**TINY, conditional=True, class_dropout=0.5).train(training_frame=frame)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm++"])
def test_every_sampler_is_deterministic_for_a_seed(model, sampler):
    a = model.predict(3, seed=4, steps=3, sampler=sampler)
    assert a.images.shape == (3, 8, 8, 1) and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, model.predict(3, seed=4, steps=3, sampler=sampler).images)
    assert not np.array_equal(a.images, model.predict(3, seed=5, steps=3, sampler=sampler).images)
    # The latent is the initial noise: passing it gives the seed's images.
    np.testing.assert_array_equal(a.images, model.predict(model.noise(3, seed=4), steps=3, sampler=sampler).images)


def test_the_latent_is_the_flattened_initial_noise(model):
    assert model.latent_size == 8 * 8 * 1
    assert model.noise(2, seed=0).shape == (2, 64)
    with pytest.raises(DataError, match=r"\(N, 64\)"):
        model.predict(np.zeros((2, 10), np.float32))


def test_samplers_and_step_counts_give_different_images(model):
    images = {(s, n): model.predict(4, seed=0, steps=n, sampler=s).images for s in ("ddpm", "ddim", "dpm++")
              for n in (2, 4)}
    assert len({v.tobytes() for v in images.values()}) == len(images)


def test_ddpm_noise_comes_from_the_initial_noise():
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.randn(3, generator=noise_generator(z)), torch.randn(3, generator=noise_generator(z)))
    assert not torch.equal(torch.randn(3, generator=noise_generator(z)), torch.randn(3, generator=noise_generator(z + 1)))


@pytest.mark.parametrize("steps", [0, -1, 1001, 2.5, "ten", True])
def test_bad_step_counts_are_refused(model, steps):
    with pytest.raises(ParameterError, match="steps"):
        model.predict(2, steps=steps)


def test_steps_past_the_training_schedule_are_refused(frame):
    short = gf.DiffusionEstimator(**TINY, num_train_timesteps=20).train(training_frame=frame)
    assert short.predict(1, steps=20, sampler="ddim").images.shape == (1, 8, 8, 1)
    with pytest.raises(ParameterError, match="from 1 to 20"):
        short.predict(1, steps=21)


def test_unknown_sampler_is_refused(model):
    with pytest.raises(ParameterError, match="unknown sampler 'euler'.*ddpm, ddim, dpm\\+\\+"):
        model.predict(2, sampler="euler")


def test_guidance_needs_a_conditional_model(model, conditional):
    with pytest.raises(ParameterError, match="conditional=True"):
        model.predict(2, guidance_scale=3.0)
    assert model.predict(2, guidance_scale=1.0).images.shape == (2, 8, 8, 1)
    with pytest.raises(ParameterError, match="guidance_scale"):
        conditional.predict(2, guidance_scale=-1)
    with pytest.raises(ParameterError, match="guidance_scale"):
        conditional.predict(2, guidance_scale=float("nan"))


def test_conditional_sampling_with_guidance(conditional):
    out = conditional.predict(4, seed=0, steps=2, labels=[0, 1, "class2", 3])
    assert out.labels.tolist() == [0, 1, 2, 3]
    plain = conditional.predict(4, seed=0, steps=2, labels=[0, 1, 2, 3]).images
    guided = conditional.predict(4, seed=0, steps=2, labels=[0, 1, 2, 3], guidance_scale=3.0).images
    assert not np.array_equal(plain, guided)
    other = conditional.predict(4, seed=0, steps=2, labels=[1, 1, 1, 1]).images
    assert not np.array_equal(plain, other)  # the label reaches the UNet


def test_labels_out_of_range_are_refused(model, conditional):
    with pytest.raises(DataError, match="0..3"):
        conditional.predict(2, labels=[0, 4])
    with pytest.raises(DataError, match="not a class"):
        conditional.predict(2, labels="dog")
    with pytest.raises(DataError, match="not conditional"):
        model.predict(2, labels=[0, 1])


def test_an_image_size_the_unet_cannot_halve_is_refused():
    with pytest.raises(ParameterError, match="cannot be halved.*divide by 4"):
        gf.DiffusionEstimator(**{**TINY, "channel_mults": [1, 2, 2], "patch_size": 1}).train(
            training_frame=make_frame(n=16, size=10))
    with pytest.raises(ParameterError, match=r"5x5 patches of 2x2\) cannot be halved.*divide by 8"):
        gf.DiffusionEstimator(**{**TINY, "channel_mults": [1, 2, 2], "patch_size": 2}).train(
            training_frame=make_frame(n=16, size=10))
    with pytest.raises(ParameterError, match="do not split into 4x4 patches"):
        gf.DiffusionEstimator(**{**TINY, "patch_size": 4}).train(training_frame=make_frame(n=16, size=10))
    with pytest.raises(ParameterError, match="channel_mults"):
        gf.DiffusionEstimator(**{**TINY, "channel_mults": [1, 0]}).train(training_frame=make_frame(n=16, size=8))


def test_a_frame_smaller_than_the_batch_is_refused():
    with pytest.raises(DataError, match="fewer than batch_size=8"):
        gf.DiffusionEstimator(**TINY).train(training_frame=make_frame(n=5, size=8))


def test_rgb_and_sizes(frame):
    rgb = make_frame(n=8, size=16).to_channels(3)
    model = gf.DiffusionEstimator(**TINY, attention=False, layers_per_block=2).train(training_frame=rgb)
    assert model.predict(2, steps=2).images.shape == (2, 16, 16, 3)
    assert model.info["unet"]["block_out_channels"] == [8, 16]


def test_min_snr_weights():
    ratio = torch.tensor([0.5, 5.0, 50.0])
    assert torch.equal(min_snr_weight(ratio, 0.0, "epsilon"), torch.ones(3))
    torch.testing.assert_close(min_snr_weight(ratio, 5.0, "epsilon"), torch.tensor([1.0, 1.0, 0.1]))
    torch.testing.assert_close(min_snr_weight(ratio, 5.0, "v_prediction"), torch.tensor([0.5 / 1.5, 5 / 6, 5 / 51]))


def test_warmup_raises_the_learning_rate(frame):
    model = gf.DiffusionEstimator(**{**TINY, "epochs": 2, "warmup_steps": 4, "lr": 1e-3}).train(training_frame=frame)
    # Two steps per epoch: lr x 1/4, 2/4 in the first, 3/4, 4/4 in the second (the means are recorded).
    assert model.scoring_history()["lr"] == [pytest.approx(0.375e-3, abs=1e-9), pytest.approx(0.875e-3, abs=1e-9)]


def test_validation_loss_and_model_performance(frame):
    model = gf.DiffusionEstimator(**{**TINY, "epochs": 2}).train(training_frame=frame, validation_frame=frame[:8])
    history = model.scoring_history()
    assert "valid_loss" in history.columns and all(np.isfinite(history["valid_loss"]))
    scores = model.model_performance(frame, n=8)
    assert scores["denoising_loss"] > 0 and scores["n_images"] == 16
    assert scores == {**scores, **model.model_performance(frame, n=8)}  # fixed noise: the same numbers again
    assert "denoising_loss" in model.metrics


def test_early_stopping_on_the_loss(frame):
    model = gf.DiffusionEstimator(**{**TINY, "epochs": 30, "stopping_rounds": 1, "stopping_tolerance": 10.0})
    model.train(training_frame=frame)
    assert model.stopped_reason == "early_stopping" and len(model.scoring_history()) == 2


def test_max_runtime_secs_stops_training(frame):
    model = gf.DiffusionEstimator(**{**TINY, "epochs": 1000, "max_runtime_secs": 0.01}).train(training_frame=frame)
    assert model.stopped_reason == "max_runtime_secs" and len(model.scoring_history()) < 1000


def test_patches_fold_into_the_unets_channels_and_back(frame):
    """patch_size 2: the UNet sees 4x4 grids of 2x2 patches (4 channels) and the images come back 8x8; with
    patch_size 1 it sees the pixels themselves."""
    patched = gf.DiffusionEstimator(**TINY, patch_size=2).train(training_frame=frame)
    plain = gf.DiffusionEstimator(**TINY, patch_size=1).train(training_frame=frame)
    assert patched.info["unet"]["in_channels"] == 4 and patched.info["unet"]["sample_size"] == [4, 4]
    assert plain.info["unet"]["in_channels"] == 1 and plain.info["unet"]["sample_size"] == [8, 8]
    for model in (patched, plain):
        images = model.predict(3, seed=0, steps=2).images
        assert images.shape == (3, 8, 8, 1) and images.std() > 0


def test_saved_patch_size_is_checked_and_old_models_read_as_unpatched(frame, tmp_path):
    plain = gf.DiffusionEstimator(**TINY, patch_size=1).train(training_frame=frame)
    path, meta = _saved(plain, tmp_path)
    expected = plain.predict(2, seed=3, steps=2).images
    del meta["info"]["patch_size"]  # as a model saved before patch_size existed
    (path / "model.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(gf.load_model(path).predict(2, seed=3, steps=2).images, expected)
    for bad, message in ((2, "takes 1 channels"), (3, "patch_size 3"), ("2", "patch_size '2'")):
        meta["info"]["patch_size"] = bad
        (path / "model.json").write_text(json.dumps(meta))
        with pytest.raises(ModelFormatError, match=message):
            gf.load_model(path)


def _saved(model, tmp_path):
    path = gf.save_model(model, tmp_path / "m")
    return path, json.loads((path / "model.json").read_text())


def test_saved_config_with_an_unknown_scheduler_is_refused(model, tmp_path):
    path, meta = _saved(model, tmp_path)
    assert meta["info"]["scheduler"]["name"] == "DDPMScheduler" and "unet" in meta["info"]
    meta["info"]["scheduler"]["name"] = "KarrasVeScheduler"
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="KarrasVeScheduler"):
        gf.load_model(path)
    meta["info"]["scheduler"] = {"name": "DDPMScheduler", "config": {**meta["info"]["scheduler"]["config"],
                                                                     "beta_schedule": "sigmoid"}}
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="sigmoid"):
        gf.load_model(path)


def test_saved_weights_that_do_not_fit_the_config_are_refused(model, tmp_path):
    path, meta = _saved(model, tmp_path)
    meta["info"]["unet"]["block_out_channels"] = [16, 16]
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="do not fit the unet"):
        gf.load_model(path)
    meta["info"]["unet"]["import_path"] = "os.system"
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="unknown keys"):
        gf.load_model(path)


def test_without_diffusers_the_error_names_the_extra(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what an environment without it imports
    with pytest.raises(GenforgeError, match=r"genforge\[diffusion\]"):
        gf.DiffusionEstimator(**TINY).train(training_frame=frame)
