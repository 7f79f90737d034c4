"""The estimator contract (DESIGN section 3), run over every estimator in cases.CASES."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge.errors import NotFittedError, ParameterError

from .cases import CASES

pytestmark = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


def test_parameters_are_stored_verbatim(case):
    params = {**case.params, "epochs": 7, "stopping_tolerance": 1}
    model = case.cls(**params)
    got = model.get_params()
    for name, value in params.items():
        assert got[name] is value or got[name] == value
    assert isinstance(got["stopping_tolerance"], int)  # stored unchanged; validated in train


def test_set_params_returns_self_and_changes_values(case):
    model = case.cls(**case.params)
    assert model.set_params(epochs=5) is model
    assert model.get_params()["epochs"] == 5


def test_unknown_parameter_names_fail_at_once(case):
    with pytest.raises(ParameterError, match="epocs"):
        case.cls(epocs=3)
    with pytest.raises(ParameterError, match="Did you mean 'epochs'"):
        case.cls(**case.params).set_params(epocs=3)


def test_invalid_value_names_the_parameter_and_allowed_values(case, tiny_frame):
    name, value = case.bad_value
    with pytest.raises(ParameterError, match=name):
        case.cls(**{**case.params, name: value}).train(training_frame=tiny_frame)


def test_wrong_type_names_the_parameter(case, tiny_frame):
    with pytest.raises(ParameterError, match="batch_size.*int"):
        case.cls(**{**case.params, "batch_size": "eight"}).train(training_frame=tiny_frame)


def test_train_returns_self_and_history(case, tiny_frame):
    model = case.cls(**case.params)
    assert model.train(training_frame=tiny_frame) is model
    history = model.scoring_history()
    assert [row["epoch"] for row in history.rows] == [1, 2]
    assert all(row["images_per_sec"] > 0 for row in history.rows)


def test_predict_before_train_is_a_clear_error(case, tiny_frame):
    with pytest.raises(NotFittedError, match="train"):
        case.predict(case.cls(**case.params), tiny_frame)


def test_same_seed_gives_the_same_model(case, tiny_frame):
    a = case.predict(case.cls(**case.params).train(training_frame=tiny_frame), tiny_frame)
    b = case.predict(case.cls(**case.params).train(training_frame=tiny_frame), tiny_frame)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_save_load_gives_the_same_output(case, tiny_frame, tmp_path):
    model = case.cls(**case.params).train(training_frame=tiny_frame)
    path = gf.save_model(model, tmp_path)
    assert (path / "model.json").is_file() and (path / "weights.safetensors").is_file()
    loaded = gf.load_model(path)
    assert type(loaded) is case.cls
    np.testing.assert_array_equal(np.asarray(case.predict(model, tiny_frame)), np.asarray(case.predict(loaded, tiny_frame)))
    assert loaded.scoring_history().rows == model.scoring_history().rows


def test_checkpoint_continues_to_the_total_epochs(case, tiny_frame, tmp_path):
    model = case.cls(**case.params).train(training_frame=tiny_frame)
    path = gf.save_model(model, tmp_path)
    more = case.cls(**{**case.params, "epochs": 3, "checkpoint": str(path)}).train(training_frame=tiny_frame)
    assert [row["epoch"] for row in more.scoring_history().rows] == [1, 2, 3]
    with pytest.raises(ParameterError, match="total"):
        case.cls(**{**case.params, "epochs": 2, "checkpoint": str(path)}).train(training_frame=tiny_frame)


def test_train_without_data_is_a_clear_error(case):
    with pytest.raises(gf.DataError, match="training_frame"):
        case.cls(**case.params).train()
