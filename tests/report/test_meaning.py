"""Measured meaning: each section finds what was planted, on digits (8x8) with the built-in evaluator.

- Bias: a generator trained on a frame without class 3 under-produces 3; one trained on a frame with class 0
  five times over over-produces 0 (and the page says it follows the training data); a faithful one has no flag.
- Copies: a generator that gives back its training images scores memorization near 1 with exact copies side by
  side; one that gives held-out real images scores about the calibration's 1%.
- Health: a GAN whose generator no longer listens to its noise (a planted collapse) gets a mode-collapse event.
- Directions: moving along a class direction raises the evaluator's probability of that class.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genforge as gf
from genforge.metrics import get_extractor
from tests.report.helpers import ReplayGenerator, digits_split, with_extra, without_class


@pytest.fixture(scope="module")
def split():
    return digits_split()


def _bias(model, test, train, tmp_path, name):
    report = model.report(test, path=tmp_path / f"{name}.html", samples=1000, training_frame=train,
                          sections=["bias"])
    return report["bias"]


def test_bias_flags_a_removed_class_and_an_over_represented_one(split, tmp_path):
    train, test = split
    removed = _bias(ReplayGenerator(without_class(train, 3), jitter=4), test, without_class(train, 3), tmp_path, "removed")
    assert removed["mode"] == "classes" and removed["under_produced"] == ["3"], removed["groups"]
    row3 = next(r for r in removed["groups"] if r["name"] == "3")
    assert row3["generated_share"] < 0.02 and row3["follows_training"] is True
    assert removed["over_produced"] == []

    heavy = with_extra(train, 0, 5)
    over = _bias(ReplayGenerator(heavy, jitter=4), test, heavy, tmp_path, "over")
    assert "0" in over["over_produced"] and "0" not in over["under_produced"], over["groups"]
    assert next(r for r in over["groups"] if r["name"] == "0")["generated_share"] > 0.3

    fair = _bias(ReplayGenerator(train, jitter=4), test, train, tmp_path, "fair")
    assert fair["under_produced"] == [] and fair["over_produced"] == [], fair["groups"]


def test_bias_over_clusters_for_an_unlabelled_frame(split, tmp_path):
    train, test = split
    unlabelled = gf.Frame(test.images, name="digits test, no labels")
    only_ones = train[train.labels == 1]
    report = ReplayGenerator(only_ones, jitter=4).report(unlabelled, path=tmp_path / "u.html", samples=600,
                                                          sections=["bias"], extractor="digits")
    bias = report["bias"]
    assert bias["mode"] == "clusters" and len(bias["groups"]) >= 2
    assert len(bias["under_produced"]) >= 1 and len(bias["over_produced"]) >= 1  # one cluster takes everything


def test_copies_finds_planted_copies_and_passes_fresh_images(split, tmp_path):
    train, test = split
    copier = ReplayGenerator(train).report(test, path=tmp_path / "c.html", samples=500, training_frame=train,
                                           sections=["copies"])["copies"]
    assert copier["memorization"] > 0.95 and copier["exact_copies"] > 450
    assert all(p["copy"] and p["distance"] == 0 for p in copier["pairs"])
    held_out, reference = test.split_frame([0.5], seed=1)
    fresh = ReplayGenerator(held_out).report(reference, path=tmp_path / "f.html", samples=500, training_frame=train,
                                             sections=["copies"])["copies"]
    assert fresh["exact_copies"] == 0 and fresh["memorization"] < 0.05


def _digits_gan(train, seed=1):
    return gf.GANEstimator(epochs=6, batch_size=32, width=16, latent_dim=16, seed=seed, verbose=False).train(
        training_frame=train)


@pytest.fixture(scope="module")
def gan(split, tmp_path_factory):
    return _digits_gan(split[0])


def test_health_finds_a_planted_collapse(split, gan, tmp_path):
    train, test = split
    healthy = gan.report(test, path=tmp_path / "h.html", samples=500, sections=["health"])["health"]
    collapsed_model = gf.load_model(gf.save_model(gan, tmp_path / "models"))
    with torch.no_grad():  # the generator stops listening to its noise: every sample is the same image
        for name in ("generator", "generator_ema"):
            first = next(m for m in collapsed_model.networks[name].modules() if hasattr(m, "weight") and m.weight is not None)
            first.weight.zero_()
    collapsed = collapsed_model.report(test, path=tmp_path / "x.html", samples=500, sections=["health"])["health"]
    kinds = [e["kind"] for e in collapsed["events"]]
    assert "mode_collapse" in kinds, collapsed["events"]
    assert collapsed["samples"]["distinct_share"] < 0.05
    assert collapsed["samples"]["feature_spread_ratio"] < healthy["samples"]["feature_spread_ratio"] / 4
    assert collapsed["epochs"] == 6 and "g_loss" in collapsed["curves"]["Losses"]


def test_the_guard_events_are_shown(split, gan, tmp_path):
    _, test = split
    event = {"epoch": 2, "step": 40, "kind": "divergence", "evidence": "g_loss 1e9", "action": "rolled back to epoch 1"}
    gan.training_events = lambda: [event]
    try:
        health = gan.report(test, path=tmp_path / "g.html", samples=200, sections=["health"])["health"]
    finally:
        del gan.training_events
    shown = [e for e in health["events"] if e["source"] == "divergence guard"]
    assert shown == [{**event, "source": "divergence guard"}]
    assert "rolled back to epoch 1" in (tmp_path / "g.html").read_text()


def test_moving_along_a_class_direction_raises_that_class(split, gan, tmp_path):
    _, test = split
    evaluator = get_extractor("digits", test)
    z = gan.noise(64, seed=11)
    raised = 0
    for label in ("2", "4", "7"):
        direction = gan.class_direction(label, samples=1000)
        assert direction.shape == (16,) and abs(np.linalg.norm(direction) - 1) < 1e-5
        walk = gan.traverse(z, direction, steps=3, scale=3.0)  # -3, 0, +3 per row
        probs = evaluator.extract(walk)[1][:, int(label)].reshape(64, 3).mean(axis=0)
        assert probs[2] > probs[1] > probs[0], (label, probs)
        raised += probs[2] - probs[1] > 0.15
    assert raised >= 2
    report = gan.report(test, path=tmp_path / "d.html", samples=1000, sections=["directions"])["directions"]
    fitted = [c for c in report["classes"] if "probability" in c]
    assert len(fitted) >= 5
    assert np.mean([c["probability"]["plus"] - c["probability"]["zero"] for c in fitted]) > 0.15
    assert all(c["probability"]["plus"] > c["probability"]["minus"] for c in fitted)


def test_main_directions_change_the_images(split, gan):
    directions = gan.latent_directions(3, samples=500)
    assert directions.shape == (3, 16)
    assert np.allclose(np.linalg.norm(directions, axis=1), 1, atol=1e-5)
    walk = gan.traverse(gan.noise(2, seed=5), directions[0], steps=5, scale=3.0)
    assert len(walk) == 10
    images = walk.images.reshape(2, 5, -1).astype(float)
    assert np.abs(images[:, 0] - images[:, -1]).mean() > 5  # the ends differ visibly
