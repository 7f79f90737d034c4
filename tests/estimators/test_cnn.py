"""CNNEstimator: learning, the predict table, metrics, features, bad input and an exact resume."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge.errors import DataError

from ..conftest import make_frame

TINY = {"epochs": 2, "batch_size": 8, "seed": 3, "verbose": False, "width": 4, "dense": 8}


@pytest.fixture(scope="module")
def blobs() -> gf.Frame:
    return make_frame(n=64, size=8)


@pytest.fixture(scope="module")
def trained(blobs) -> gf.CNNEstimator:
    return gf.CNNEstimator(**{**TINY, "epochs": 6, "lr": 3e-3, "width": 8, "dense": 16, "dropout": 0.0}).train(
        training_frame=blobs)


@pytest.mark.parametrize("architecture", ["small", "deep"])
def test_learns_the_blobs(blobs, architecture):
    model = gf.CNNEstimator(**{**TINY, "epochs": 6, "lr": 3e-3, "width": 8, "dense": 16, "dropout": 0.0,
                               "architecture": architecture})
    model.train(training_frame=blobs)
    assert model.model_performance(make_frame(n=32, size=8, seed=1))["accuracy"] >= 0.9
    history = model.scoring_history()
    assert history.columns[:4] == ["epoch", "step", "loss", "accuracy"]
    assert history["loss"][-1] < history["loss"][0]


def test_predict_table_probabilities_and_features(trained, blobs):
    table = trained.predict(blobs)
    names = ["class0", "class1", "class2", "class3"]
    assert table.columns == ["predict", "label_index", *(f"p_{n}" for n in names)]
    assert len(table) == len(blobs)
    assert table["predict"] == [names[i] for i in table["label_index"]]
    proba = trained.predict_proba(blobs)
    assert proba.shape == (64, 4) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(table["p_class2"], proba[:, 2], rtol=1e-6)
    assert trained.features(blobs).shape == (64, 16)
    assert "predict,label_index,p_class0" in table.to_csv().splitlines()[0]


def test_model_performance(trained, blobs):
    scores = trained.model_performance(blobs)
    assert set(scores) >= {"accuracy", "logloss", "precision", "recall", "confusion_matrix", "class_names"}
    matrix = np.array(scores["confusion_matrix"])
    assert matrix.shape == (4, 4) and matrix.sum() == 64
    assert scores["accuracy"] == pytest.approx(np.trace(matrix) / 64)
    assert list(scores["recall"]) == scores["class_names"] == ["class0", "class1", "class2", "class3"]
    assert trained.metrics["accuracy"] == scores["accuracy"]
    # Classes in another order are matched by name.
    order = [3, 1, 0, 2]
    names = [f"class{k}" for k in order]
    shuffled = gf.Frame(blobs.images, np.array([order.index(k) for k in blobs.labels]), names)
    assert trained.model_performance(shuffled)["accuracy"] == scores["accuracy"]


def test_labels_from_y_and_arrays(blobs):
    unlabelled = gf.Frame(blobs.images)
    model = gf.CNNEstimator(**TINY).train(x=unlabelled, y=blobs.labels)
    assert model.class_names == ["0", "1", "2", "3"]
    model = gf.CNNEstimator(**TINY).train(x=blobs.images[..., 0], y=blobs.labels)
    assert model.predict_proba(blobs).shape == (64, 4)


def test_validation_and_early_stopping(blobs):
    train, valid = blobs.split_frame([0.75], seed=0)
    model = gf.CNNEstimator(**{**TINY, "epochs": 30, "stopping_rounds": 1, "stopping_tolerance": 0.5})
    model.train(training_frame=train, validation_frame=valid)
    history = model.scoring_history()
    assert {"valid_loss", "valid_accuracy"} <= set(history.columns)
    assert model._stopping_metric(model.validated_params()) == "valid_loss"
    assert len(history) < 30 and model.stopped_reason == "early_stopping"


def test_bad_input_is_a_clear_error(trained, blobs):
    with pytest.raises(DataError, match="no labels"):
        gf.CNNEstimator(**TINY).train(training_frame=gf.Frame(blobs.images))
    with pytest.raises(DataError, match="at least two classes"):
        gf.CNNEstimator(**TINY).train(training_frame=gf.Frame(blobs.images, np.zeros(64, int), ["only"]))
    bigger = make_frame(n=4, size=16).to_channels(3)
    with pytest.raises(DataError, match="16x16 with 3 channels.*8x8 with 1 channel.*resize=True"):
        trained.predict(bigger)
    with pytest.raises(DataError, match="resize=True"):
        trained.features(blobs.to_channels(3))
    assert len(trained.predict(bigger, resize=True)) == 4
    assert trained.features(bigger, resize=True).shape == (4, 16)
    assert trained.model_performance(bigger, resize=True)["n_images"] == 4
    strange = gf.Frame(blobs.images, blobs.labels, ["cat", "dog", "class2", "class3"])
    with pytest.raises(DataError, match=r"\['cat', 'dog'\].*does not know"):
        trained.model_performance(strange)
    with pytest.raises(DataError, match="no labels"):
        trained.model_performance(gf.Frame(blobs.images))
    with pytest.raises(DataError, match="Frame or an image array"):
        trained.predict([1, 2, 3])


def test_a_checkpoint_refuses_a_frame_with_other_classes(tmp_path):
    # Exact resumption is tested for every estimator in test_contract.py.
    frame = make_frame(n=32, size=8)
    params = {**TINY, "epochs": 3, "architecture": "deep", "lr_schedule": "cosine", "dropout": 0.3}
    gf.CNNEstimator(**params, run_dir=str(tmp_path / "b")).train(training_frame=frame)
    other = gf.Frame(frame.images, frame.labels, ["w", "x", "y", "z"])
    with pytest.raises(DataError, match="differ from the checkpoint"):
        gf.CNNEstimator(**{**params, "epochs": 4}, checkpoint=str(tmp_path / "b" / "checkpoint")).train(
            training_frame=other)
