"""Broken input to every entry point of the report: a clear genforge error that names what is wrong, and
nothing written or overwritten."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge.errors import DataError, GenforgeError, NotFittedError, OverwriteError, ParameterError
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def digits():
    return gf.import_file("digits")


@pytest.fixture(scope="module")
def gan(digits):
    return gf.GANEstimator(epochs=1, batch_size=64, width=8, latent_dim=8, seed=1, verbose=False).train(
        training_frame=digits)


@pytest.mark.parametrize("options, error, words", [
    ({"samples": 10}, ParameterError, "samples must be from 50"),
    ({"samples": 10**9}, ParameterError, "samples must be from 50"),
    ({"samples": 2.5}, ParameterError, "samples must be an integer"),
    ({"samples": True}, ParameterError, "samples must be an integer"),
    ({"seed": -1}, ParameterError, "seed"),
    ({"path": "report.txt"}, ParameterError, "end in .html"),
    ({"path": ""}, ParameterError, "path"),
    ({"path": None}, ParameterError, "path"),
    ({"sections": ["samples", "gossip"]}, ParameterError, "gossip"),
    ({"sections": []}, ParameterError, "sections"),
    ({"k": 0}, ParameterError, "k must be"),
    ({"k": 500}, ParameterError, "k must be"),
    ({"levels": []}, ParameterError, "levels"),
    ({"sweep_samples": 3}, ParameterError, "sweep_samples"),
    ({"extractor": "no-such-evaluator"}, GenforgeError, "no-such-evaluator"),
    ({"colour": "red"}, ParameterError, "colour"),
])
def test_report_refuses_bad_options(gan, digits, tmp_path, options, error, words):
    options = {"path": tmp_path / "r.html", "samples": 60, **options}
    with pytest.raises(error, match=words):
        gan.report(digits, **options)
    assert list(tmp_path.iterdir()) == []


def test_report_refuses_bad_frames(gan, digits, tmp_path):
    path = tmp_path / "r.html"
    with pytest.raises(DataError, match="must be a Frame"):
        gan.report(digits.images, path=path)
    with pytest.raises(DataError, match="16x16x1 but this model makes 8x8x1"):
        gan.report(make_frame(n=64, size=16), path=path, samples=60)
    with pytest.raises(DataError, match="training_frame images are 16x16x1"):
        gan.report(digits, path=path, samples=60, training_frame=make_frame(n=64, size=16))
    with pytest.raises(DataError, match="training_frame must be a Frame"):
        gan.report(digits, path=path, samples=60, training_frame="digits")
    # Blobs with classes the digits evaluator does not know, and no evaluator given: no extractor fits.
    with pytest.raises(ParameterError):
        gan.report(make_frame(n=64, size=8), path=path, samples=60)
    assert list(tmp_path.iterdir()) == []


def test_report_never_overwrites_unless_asked(gan, digits, tmp_path):
    html, json_path = tmp_path / "r.html", tmp_path / "r.json"
    json_path.write_text("keep me")
    with pytest.raises(OverwriteError, match="r.json already exists"):
        gan.report(digits, path=html, samples=60, sections=["bias"])
    assert json_path.read_text() == "keep me" and not html.exists()
    with pytest.warns(UserWarning, match="replaced"):
        result = gan.report(digits, path=html, samples=60, sections=["bias"], force=True)
    assert html.exists() and result["json_path"] == str(json_path) and json_path.read_text() != "keep me"


def test_report_needs_a_trained_generator(digits, tmp_path):
    with pytest.raises(NotFittedError):
        gf.GANEstimator(epochs=1).report(digits, path=tmp_path / "r.html")
    cnn = gf.CNNEstimator(epochs=1, verbose=False)
    assert not hasattr(cnn, "report")  # only generators have one


def test_a_section_the_inputs_do_not_allow_is_skipped_with_its_reason(gan, digits, tmp_path):
    result = gan.report(digits, path=tmp_path / "r.html", samples=60, sections=["copies"])
    assert "training_frame" in result["copies"]["skipped"]
    assert "Skipped: no training_frame" in (tmp_path / "r.html").read_text()
    same = gan.report(digits, path=tmp_path / "s.html", samples=60, training_frame=digits, sections=["copies"])
    assert "held-out split" in same["copies"]["skipped"]  # calibrating on the training images themselves


def test_direction_functions_refuse_bad_input(gan):
    for k, words in ((0, "k must be"), (9, "from 1 to 8"), (2.0, "k must be"), (True, "k must be")):
        with pytest.raises(ParameterError, match=words):
            gan.latent_directions(k, samples=60)
    with pytest.raises(ParameterError, match="samples"):
        gan.latent_directions(2, samples=5)
    with pytest.raises(DataError, match="not a class of the evaluator"):
        gan.class_direction("eleven", samples=60)
    with pytest.raises(DataError, match="not a class of the evaluator"):
        gan.class_direction(10, samples=60)
    with pytest.raises(DataError, match="not a class of the evaluator"):
        gan.class_direction(True, samples=60)
    with pytest.raises(ParameterError, match="no-such"):
        gan.class_direction("3", samples=60, extractor="no-such")


def test_class_direction_of_a_conditional_model_is_refused(digits):
    cgan = gf.GANEstimator(epochs=1, batch_size=64, width=8, latent_dim=8, seed=1, conditional=True,
                           verbose=False).train(training_frame=digits)
    with pytest.raises(ParameterError, match="conditional"):
        cgan.class_direction("3")
    rows = cgan.traverse(cgan.noise(2, 0), np.ones(8), steps=3, labels=["3", "5"])
    assert rows.labels.tolist() == [3, 3, 3, 5, 5, 5]


def test_traverse_refuses_bad_input(gan):
    z, d = gan.noise(2, 0), np.ones(8)
    for kwargs, words in [
        ({"direction": np.ones(7)}, r"shape \(8,\)"),
        ({"direction": np.zeros(8)}, "not all zero"),
        ({"direction": np.full(8, np.nan)}, "finite"),
        ({"direction": "up"}, "direction must"),
        ({"direction": d, "steps": 1}, "steps"),
        ({"direction": d, "steps": 10**6}, "steps"),
        ({"direction": d, "steps": 3.5}, "steps"),
        ({"direction": d, "scale": 0}, "scale"),
        ({"direction": d, "scale": float("inf")}, "scale"),
        ({"direction": d, "scale": 1e6}, "scale"),
        ({"direction": d, "labels": 3}, "not conditional"),
    ]:
        with pytest.raises(DataError, match=words):
            gan.traverse(z, **kwargs)
    with pytest.raises(DataError, match=r"shape \(N, 8\)"):
        gan.traverse(np.ones((2, 5)), d)
    with pytest.raises(DataError, match="more than one call"):
        gan.traverse(gan.noise(20_000, 0), d, steps=64)  # 1.3 M images: refused before any is made
    walk = gan.traverse(z, d, steps=4, scale=2.0)
    assert len(walk) == 8
    middle = gan.traverse(z[:1], d, steps=3, scale=2.0).images[1]
    assert np.array_equal(middle, gan.predict(z[:1]).images[0])  # t = 0 is z itself


def test_truncation_and_temperature_options(gan, digits):
    z = gan.noise(200, 3)
    with pytest.raises(DataError, match="truncation"):
        gan.predict(4, truncation=0)
    with pytest.raises(DataError, match="truncation"):
        gan.predict(4, truncation="high")
    same = gan.predict(z, truncation=None).images
    assert np.array_equal(same, gan.predict(z).images)
    tight = gan.predict(z, truncation=0.3).images.astype(float)
    assert tight.std(axis=0).mean() < same.astype(float).std(axis=0).mean()  # less diverse
    from genforge.estimators.generator import truncate
    import torch

    values = truncate(torch.from_numpy(z), 0.5)
    assert float(values.abs().max()) <= 0.5 and np.array_equal(np.argsort(z[:, 0]), np.argsort(values[:, 0].numpy()))
    vae = gf.VAEEstimator(epochs=1, batch_size=64, latent_dim=4, width=8, seed=1, verbose=False).train(training_frame=digits)
    with pytest.raises(DataError, match="temperature"):
        vae.predict(4, temperature=-1)
    assert np.array_equal(vae.predict(vae.noise(4, 1) * 0.5).images, vae.predict(vae.noise(4, 1), temperature=0.5).images)
