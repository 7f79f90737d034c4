"""GANEstimator: every architecture and loss trains, samples, saves and loads; bad input fails clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import genforge as gf
from genforge.errors import DataError, ModelFormatError, ParameterError, TrainingError
from genforge.estimators.gan import GANTask

from ..conftest import make_frame

TINY = {"epochs": 1, "batch_size": 8, "seed": 1, "verbose": False, "width": 8, "latent_dim": 8}


@pytest.mark.parametrize("architecture", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("loss", ["bce", "non_saturating", "mse", "hinge", "wgan-gp"])
def test_every_architecture_and_loss_trains_and_samples(architecture, loss):
    frame = make_frame(n=16, size=8)
    gan = gf.GANEstimator(**TINY, architecture=architecture, loss=loss).train(training_frame=frame)
    row = gan.scoring_history()[0]
    assert all(np.isfinite(row[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    out = gan.predict(5, seed=2)
    assert out.images.shape == (5, 8, 8, 1) and out.images.dtype == np.uint8


@pytest.mark.parametrize("size,channels", [(8, 3), (16, 1), (28, 1), (32, 3)])
def test_dcgan_fits_the_frame_size(size, channels):
    frame = make_frame(n=8, size=size, channels=1)
    if channels == 3:
        frame = frame.to_channels(3)
    gan = gf.GANEstimator(**TINY).train(training_frame=frame)
    assert gan.predict(2).image_shape == (size, size, channels)


def test_options_r1_ema_diffaugment_ttur_ncritic(tiny_frame, tmp_path):
    gan = gf.GANEstimator(**{**TINY, "epochs": 2}, r1_gamma=1.0, ema_decay=0.9, diff_augment="color,translation,cutout",
                          g_lr=1e-4, d_lr=4e-4, n_critic=2, run_dir=str(tmp_path)).train(training_frame=tiny_frame)
    assert gan.scoring_history()[1]["epoch"] == 2
    # EMA sampling differs from the raw generator's.
    assert not np.array_equal(gan.predict(4, seed=0).images, gan.predict(4, seed=0, use_ema=False).images)
    # The run folder has a grid per epoch, the curves and a resumable checkpoint.
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    assert (tmp_path / "history.png").is_file()
    assert (tmp_path / "checkpoint" / "training_state.safetensors").is_file()


def test_no_ema_samples_from_the_generator(tiny_frame):
    gan = gf.GANEstimator(**TINY, ema_decay=0.0).train(training_frame=tiny_frame)
    np.testing.assert_array_equal(gan.predict(3, seed=0).images, gan.predict(3, seed=0, use_ema=False).images)


def test_conditional_generation_takes_labels(tiny_frame):
    gan = gf.GANEstimator(**TINY, conditional=True).train(training_frame=tiny_frame)
    out = gan.predict(6, seed=1, labels=[0, 1, 2, 3, "class1", 0])
    assert out.labels.tolist() == [0, 1, 2, 3, 1, 0]
    assert out.class_names == tiny_frame.class_names
    assert gan.predict(8).class_counts() == {f"class{k}": 2 for k in range(4)}  # every class in turn
    with pytest.raises(DataError, match="outside"):
        gan.predict(2, labels=9)
    with pytest.raises(DataError, match="not a class"):
        gan.predict(2, labels="shoe")


def test_labels_on_an_unconditional_model_are_refused(tiny_frame):
    gan = gf.GANEstimator(**TINY).train(training_frame=tiny_frame)
    with pytest.raises(DataError, match="not conditional"):
        gan.predict(2, labels=1)


def test_predict_from_noise_and_interpolate(tiny_frame):
    gan = gf.GANEstimator(**TINY).train(training_frame=tiny_frame)
    z = gan.noise(3, seed=5)
    np.testing.assert_array_equal(gan.predict(z).images, gan.predict(3, seed=5).images)
    walk = gan.interpolate(1, 2, steps=5)
    assert len(walk) == 5
    np.testing.assert_array_equal(walk.images[0], gan.predict(1, seed=1).images[0])
    with pytest.raises(DataError, match=r"shape \(N, 8\)"):
        gan.predict(np.zeros((2, 7)))
    with pytest.raises(DataError, match="NaN"):
        gan.predict(np.full((1, 8), np.nan))


def test_h2o_style_form():
    frame = make_frame(n=32, size=28)
    gan = gf.GANEstimator(
        generator_architecture={"input_dim": 100, "hidden_dim": 128, "output_dim": 784, "activation": "relu"},
        discriminator_architecture={"input_dim": 784, "hidden_dim": 128, "output_dim": 1, "activation": "leaky_relu"},
        loss_function="mse", epochs=1, batch_size=32, verbose=False,
    ).train(x=frame)
    out = gan.predict(np.random.randn(16, 100))
    assert out.images.shape == (16, 28, 28, 1)
    assert gan.get_params()["loss"] == "mse"


def test_h2o_form_checks_its_dimensions():
    frame = make_frame(n=8, size=8)
    spec = {"input_dim": 10, "hidden_dim": 16, "output_dim": 784, "activation": "relu"}
    with pytest.raises(ParameterError, match="output_dim.*8x8x1 = 64"):
        gf.GANEstimator(generator_architecture=spec, epochs=1).train(x=frame)
    with pytest.raises(ParameterError, match="unknown keys"):
        gf.GANEstimator(generator_architecture={"layers": 3}, epochs=1).train(x=frame)
    with pytest.raises(ParameterError, match="activation"):
        gf.GANEstimator(generator_architecture={**spec, "output_dim": 64, "activation": "swishy"}).train(x=frame)


def test_train_accepts_an_image_array():
    images = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    gan = gf.GANEstimator(**TINY).train(x=images)
    assert gan.predict(1).image_shape == (8, 8, 1)


@pytest.mark.parametrize("params,match", [
    ({"loss": "wasserstein"}, "allowed values"),
    ({"epochs": -1}, "epochs"),
    ({"g_lr": "fast"}, "g_lr"),
    ({"conditional": "yes"}, "True or False"),
    ({"diff_augment": "color,rotate"}, "rotate"),
    ({"device": "tpu"}, "device"),
    ({"ema_decay": 1.5}, "ema_decay"),
])
def test_bad_parameter_values(tiny_frame, params, match):
    with pytest.raises(ParameterError, match=match):
        gf.GANEstimator(**{**TINY, **params}).train(training_frame=tiny_frame)


def test_images_too_small_for_the_architecture():
    with pytest.raises(ParameterError, match="8"):
        gf.GANEstimator(**TINY, architecture="dcgan").train(training_frame=make_frame(n=8, size=4))


def test_conditional_needs_labels():
    frame = make_frame(n=8, size=8)
    unlabelled = gf.Frame(frame.images)
    with pytest.raises(DataError, match="labels"):
        gf.GANEstimator(**TINY, conditional=True).train(training_frame=unlabelled)


def test_nan_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint(tiny_frame, tmp_path, monkeypatch):
    """Unguarded runs (divergence_guard=False) end at the first NaN (tests/training/test_guard.py: guarded)."""
    original = GANTask.train_step

    def diverging(self, images, labels, step):
        metrics = original(self, images, labels, step)
        if step >= 6:  # epoch 2 of 4 steps each
            metrics["d_loss"] = metrics["d_loss"] * float("nan")
        return metrics

    monkeypatch.setattr(GANTask, "train_step", diverging)
    with pytest.raises(TrainingError, match="d_loss.*epoch 2.*last good checkpoint"):
        gf.GANEstimator(**{**TINY, "epochs": 3}, run_dir=str(tmp_path), divergence_guard=False).train(
            training_frame=tiny_frame)
    saved = json.loads((tmp_path / "checkpoint" / "model.json").read_text())
    assert [row["epoch"] for row in saved["history"]] == [1]
    assert gf.load_model(tmp_path / "checkpoint").predict(2).images.shape == (2, 16, 16, 1)


def test_early_stopping_and_max_runtime(tiny_frame):
    stopped = gf.GANEstimator(**{**TINY, "epochs": 50}, stopping_rounds=1, stopping_metric="d_real",
                              stopping_tolerance=10.0).train(training_frame=tiny_frame)
    assert len(stopped.scoring_history()) == 2
    timed = gf.GANEstimator(**{**TINY, "epochs": 10_000}, max_runtime_secs=0.5).train(training_frame=tiny_frame)
    assert len(timed.scoring_history()) < 10_000
    with pytest.raises(ParameterError, match="stopping_metric 'fid'"):
        gf.GANEstimator(**TINY, stopping_rounds=2, stopping_metric="fid").train(training_frame=tiny_frame)


def test_validation_frame_is_scored_each_epoch(tiny_frame):
    train, valid = tiny_frame.split_frame([0.75], seed=0)
    gan = gf.GANEstimator(**TINY).train(training_frame=train, validation_frame=valid)
    assert 0 <= gan.scoring_history()[0]["valid_d_real"] <= 1
    with pytest.raises(DataError, match="validation_frame"):
        gf.GANEstimator(**TINY).train(training_frame=train, validation_frame=make_frame(n=8, size=8))


# ------------------------------------------------------------------------------------ files on disk
@pytest.fixture
def saved(tiny_frame, tmp_path):
    return gf.save_model(gf.GANEstimator(**TINY).train(training_frame=tiny_frame), tmp_path)


def test_truncated_weights_are_refused(saved):
    weights = saved / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelFormatError, match="truncated or edited"):
        gf.load_model(saved)


def test_edited_weights_are_refused(saved):
    weights = saved / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="checksum"):
        gf.load_model(saved)


def test_newer_format_and_other_estimators_are_refused(saved, tiny_frame):
    meta = json.loads((saved / "model.json").read_text())
    (saved / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelFormatError, match="newer"):
        gf.load_model(saved)
    (saved / "model.json").write_text(json.dumps({**meta, "estimator": "flow-matching"}))
    with pytest.raises(ModelFormatError, match="unknown estimator"):
        gf.load_model(saved)
    (saved / "model.json").write_text(json.dumps({**meta, "estimator": "vae"}))
    with pytest.raises((ParameterError, ModelFormatError)):
        gf.GANEstimator(**{**TINY, "epochs": 2}, checkpoint=str(saved)).train(training_frame=tiny_frame)


def test_garbage_model_json_and_missing_folder(saved, tmp_path):
    (saved / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        gf.load_model(saved)
    with pytest.raises(ModelFormatError, match="not a saved genforge model"):
        gf.load_model(tmp_path / "nowhere")


def test_weights_of_another_shape_are_refused(tiny_frame, tmp_path):
    small = gf.save_model(gf.GANEstimator(**TINY).train(training_frame=tiny_frame), tmp_path / "a")
    meta = json.loads((small / "model.json").read_text())
    meta["params"]["width"] = 16  # the weights were trained with width 8
    (small / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="do not fit"):
        gf.load_model(small)


def test_save_refuses_to_overwrite_and_untrained_models(tiny_frame, tmp_path):
    gan = gf.GANEstimator(**TINY).train(training_frame=tiny_frame)
    gf.save_model(gan, tmp_path)
    with pytest.raises(gf.GenforgeError, match="force=True"):
        gf.save_model(gan, tmp_path)
    assert gf.save_model(gan, tmp_path, force=True).is_dir()
    with pytest.raises(gf.NotFittedError):
        gf.save_model(gf.GANEstimator(), tmp_path)


def test_checkpoint_on_a_frame_of_another_shape(saved):
    with pytest.raises(DataError, match="resize"):
        gf.GANEstimator(**{**TINY, "epochs": 2}, checkpoint=str(saved)).train(training_frame=make_frame(n=8, size=8))


def test_model_json_records_what_a_user_needs(saved):
    meta = json.loads((saved / "model.json").read_text())
    assert meta["estimator"] == "gan" and meta["format_version"] == 1
    assert meta["frame_schema"] == {"height": 16, "width": 16, "channels": 1,
                                    "class_names": ["class0", "class1", "class2", "class3"]}
    assert meta["params"]["loss"] == "hinge" and meta["history"][0]["epoch"] == 1
    assert set(meta["weights"]["modules"]) == {"generator", "generator_ema", "discriminator"}
    assert torch.__version__  # weights are safetensors: no pickle anywhere in the folder
    assert sorted(p.name for p in saved.iterdir()) == ["model.json", "weights.safetensors"]
