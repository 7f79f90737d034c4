"""The estimator contract (DESIGN section 3), run over every estimator in cases.CASES."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import genforge as gf
from genforge.errors import NotFittedError, ParameterError
from genforge.training.loop import Callback

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


def test_the_signature_lists_the_declared_parameters(case):
    signature = inspect.signature(case.cls)
    assert list(signature.parameters) == case.cls.PARAMS.names()
    for name, parameter in signature.parameters.items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default == case.cls.PARAMS[name].default
    assert "epochs" in (case.cls.__init__.__doc__ or "")


def test_get_params_deep_and_clone(case, tiny_frame):
    model = case.cls(**case.params)
    assert model.get_params(deep=False) == model.get_params(deep=True)  # no parameter holds an estimator
    trained = model.train(training_frame=tiny_frame)
    copy = gf.clone(trained)
    assert type(copy) is case.cls and not copy.is_fitted
    assert copy.get_params() == trained.get_params()
    copy.set_params(epochs=99)
    assert trained.get_params()["epochs"] == case.params["epochs"]  # a copy, not the same object
    with pytest.raises(ParameterError, match="clone needs a genforge estimator"):
        gf.clone(object())


def test_x_and_y_are_used_or_refused(case, tiny_frame):
    with pytest.raises(gf.DataError, match="name columns in H2O"):
        case.cls(**case.params).train(x=["pixel0", "pixel1"], training_frame=tiny_frame)
    with pytest.raises(gf.DataError, match="either x or training_frame"):
        case.cls(**case.params).train(x=tiny_frame, training_frame=tiny_frame)
    # y="label" means the frame's own labels; y as an array replaces them.
    assert case.cls(**case.params).train(x=tiny_frame, y="label").is_fitted
    with pytest.raises(gf.DataError, match="has none"):
        case.cls(**case.params).train(x=gf.Frame(tiny_frame.images), y="label")
    relabelled = case.cls(**case.params).train(x=tiny_frame, y=tiny_frame.labels[::-1].copy())
    assert relabelled.is_fitted


def test_unknown_predict_and_performance_options_are_refused(case, tiny_frame):
    model = case.cls(**case.params).train(training_frame=tiny_frame)
    with pytest.raises(ParameterError, match="unknown option.*'colour'"):
        model.predict(tiny_frame if case.cls is gf.CNNEstimator else 2, colour="red")
    with pytest.raises(ParameterError, match="unknown option.*'colour'"):
        model.model_performance(tiny_frame, colour="red")


class _Crash(Callback):
    """Interrupts training at the end of ``epoch``, before that epoch's checkpoint is written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, loop, row) -> None:
        if loop.state.epoch == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_exactly(case, tiny_frame, tmp_path):
    params = {**case.params, "epochs": 3}
    straight = case.cls(**params, run_dir=str(tmp_path / "a")).train(training_frame=tiny_frame)
    with pytest.raises(KeyboardInterrupt):
        case.cls(**params, run_dir=str(tmp_path / "b")).train(training_frame=tiny_frame, callbacks=[_Crash(3)])
    assert gf.load_model(tmp_path / "b" / "checkpoint").scoring_history()["epoch"] == [1, 2]
    resumed = case.cls(**params, checkpoint=str(tmp_path / "b" / "checkpoint")).train(training_frame=tiny_frame)
    assert straight.networks.keys() == resumed.networks.keys()
    for name, module in straight.networks.items():
        for (key, a), b in zip(module.state_dict().items(), resumed.networks[name].state_dict().values()):
            assert np.array_equal(a.numpy(), b.numpy()), f"{name}.{key}"
    first_loss = [c for c in straight.scoring_history().columns if c.endswith("loss")][0]
    assert resumed.scoring_history()[first_loss] == straight.scoring_history()[first_loss]


class _Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_train_start(self, loop) -> None:
        self.calls.append(f"start:{loop.plan.steps_per_epoch}")

    def on_step_end(self, loop, metrics) -> None:
        self.calls.append("step")

    def on_epoch_end(self, loop, row) -> None:
        row["recorded"] = 1.0
        self.calls.append(f"epoch:{loop.state.epoch}")

    def on_train_end(self, loop) -> None:
        self.calls.append(f"end:{loop.error is None}")


def test_a_callers_callback_sees_every_point_of_the_loop(case, tiny_frame):
    recorder = _Recorder()
    model = case.cls(**case.params).train(training_frame=tiny_frame, callbacks=[recorder])
    steps = len(tiny_frame) // case.params["batch_size"]
    assert recorder.calls == ([f"start:{steps}"] + ["step"] * steps + ["epoch:1"] + ["step"] * steps
                              + ["epoch:2", "end:True"])
    assert model.scoring_history()["recorded"] == [1.0, 1.0]  # columns a callback adds are kept


class _Rates(Callback):
    """Every optimizer's learning rates after each step."""

    def __init__(self) -> None:
        self.rates: list[list[float]] = []

    def on_step_end(self, loop, metrics) -> None:
        self.rates.append([group["lr"] for opt in loop.task.optimizers.values() for group in opt.param_groups])


def test_a_cosine_schedule_anneals_every_rate_to_zero_over_the_planned_epochs(case, tiny_frame):
    params = {**case.params, "lr_schedule": "cosine"}
    if "warmup_steps" in case.cls.PARAMS:
        params["warmup_steps"] = 0
    rates = _Rates()
    case.cls(**params).train(training_frame=tiny_frame, callbacks=[rates])
    first, steps = rates.rates[0], len(rates.rates)
    assert all(r > 0 for r in first)
    for before, after in zip(rates.rates, rates.rates[1:]):
        assert all(b >= a for b, a in zip(before, after))  # never rises
    # The last step's factor is (1 - cos(pi / steps)) / 2 of the given rate.
    assert all(last <= f * (1 - math.cos(math.pi / steps)) / 2 + 1e-12 for f, last in zip(first, rates.rates[-1]))
    constant = _Rates()
    case.cls(**{**params, "lr_schedule": "constant"}).train(training_frame=tiny_frame, callbacks=[constant])
    assert constant.rates[-1] == constant.rates[0]
