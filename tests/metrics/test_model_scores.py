"""model_performance of GANs and VAEs, stopping_metric="fid", and the evaluate / evaluator CLI commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import genforge as gf
from genforge.cli.main import main

from ..conftest import make_frame

TINY = {"batch_size": 64, "width": 8, "seed": 0, "verbose": False}


@pytest.fixture(scope="module")
def gan(digits_splits):
    train, valid, test = digits_splits
    return gf.GANEstimator(epochs=1, **TINY).train(training_frame=train[:256])


def test_gan_model_performance_scores_samples(gan, digits_splits):
    train, valid, test = digits_splits
    scores = gan.model_performance(test, n=200, training_frame=train)
    assert scores["extractor"] == "digits-cnn" and scores["n_generated"] == 200 and scores["n_reference"] == len(test)
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "memorization", "class_coverage",
                "inception_score", "d_real", "d_fake"):
        assert key in scores, key
    assert scores["fid"] > 1  # one epoch of a tiny GAN is far from the data
    assert gan.metrics["fid"] == scores["fid"]  # recorded with the model


def test_model_performance_without_an_evaluator_keeps_its_own_scores():
    frame = make_frame(n=32, size=16)
    gan = gf.GANEstimator(epochs=1, batch_size=16, width=8, seed=0, verbose=False).train(training_frame=frame)
    scores = gan.model_performance(frame)
    assert "d_real" in scores and "No built-in evaluator fits 16x16x1" in scores["skipped"]["quality"]


def test_vae_model_performance_adds_sample_scores(digits_splits):
    train, valid, test = digits_splits
    vae = gf.VAEEstimator(epochs=1, architecture="mlp", width=4, latent_dim=4, batch_size=64, seed=0, verbose=False)
    vae.train(training_frame=train[:256])
    scores = vae.model_performance(test, n=100)
    assert "elbo" in scores and scores["extractor"] == "digits-cnn" and scores["n_generated"] == 100


def test_stopping_on_fid(digits_splits):
    train, valid, test = digits_splits
    gan = gf.GANEstimator(epochs=3, stopping_metric="fid", stopping_rounds=5, score_samples=100, **TINY)
    gan.train(training_frame=train[:256], validation_frame=valid)
    history = gan.scoring_history()
    assert [row["fid"] > 0 for row in history.rows] == [True] * 3
    every_other = gf.GANEstimator(epochs=2, score_every=2, score_samples=100, **TINY).train(training_frame=train[:256])
    assert "fid" not in every_other.scoring_history().rows[0] and "fid" in every_other.scoring_history().rows[1]


def test_stopping_on_fid_needs_an_evaluator_and_a_generator():
    frame = make_frame(n=32, size=16)
    with pytest.raises(gf.ParameterError, match="No built-in evaluator fits 16x16x1"):
        gf.GANEstimator(epochs=1, stopping_metric="fid", stopping_rounds=1, **TINY).train(training_frame=frame)
    with pytest.raises(gf.ParameterError, match="needs a generator"):
        gf.CNNEstimator(epochs=1, stopping_metric="fid", stopping_rounds=1, verbose=False).train(training_frame=frame)


def test_cli_evaluate_prints_and_writes_json(tmp_path, gan):
    folder = gf.save_model(gan, tmp_path / "models")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(main, ["evaluate", str(folder), "--frame", "digits", "-n", "300", "-o", str(out),
                                       "--pairs", str(tmp_path / "pairs.png")])
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert "fid" in result.output and scores["n_generated"] == 300 and scores["reference"] == "digits"
    assert "memorization" not in scores  # digits has no train/test split to calibrate on
    bad = CliRunner().invoke(main, ["evaluate", str(folder), "--frame", "digits", "--extractor", "nope"])
    assert bad.exit_code == 2 and "no built-in evaluator 'nope'" in bad.output


def test_cli_evaluator_train_and_list(tmp_path):
    result = CliRunner().invoke(main, ["evaluator", "train", "--frame", "digits", "--out", str(tmp_path / "ev"),
                                       "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "ev" / "record.json").read_text())
    assert record["epochs"] == 1 and record["command"].startswith("genforge evaluator train --frame digits")
    assert 0 <= record["test_accuracy"] <= 1 and record["image_shape"] == [8, 8, 1]
    assert gf.load_model(tmp_path / "ev").algo == "cnn"
    listed = CliRunner().invoke(main, ["evaluator", "list"])
    assert "digits" in listed.output and "test accuracy" in listed.output
