"""Conflicting or sloppy parameters are errors, not guesses (issue 16 item 5); a state-dict mismatch
quotes its whole cause (item 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import genforge as gf
from genforge.errors import DataError, ModelFormatError, ParameterError
from genforge.estimators.inputs import MAX_SAMPLES, check_sample_count, noise_rows

from ..conftest import make_frame

TINY = {"epochs": 1, "batch_size": 8, "seed": 1, "verbose": False, "width": 8, "latent_dim": 8}


def test_an_alias_and_its_name_with_different_values_are_an_error():
    with pytest.raises(ParameterError, match="'loss' was given twice.*loss='hinge'.*loss_function='mse'"):
        gf.GANEstimator(loss="hinge", loss_function="mse")
    with pytest.raises(ParameterError, match="given twice"):
        gf.GANEstimator().set_params(loss="bce", loss_function="mse")
    assert gf.GANEstimator(loss="mse", loss_function="mse").loss == "mse"  # the same value twice is fine
    assert gf.GANEstimator(loss_function="bce").get_params()["loss"] == "bce"


@pytest.mark.parametrize("value", [2.0, 2.5, float("nan")])
def test_a_float_for_an_int_parameter_is_an_error(value):
    with pytest.raises(ParameterError, match="'epochs' got the float"):
        gf.GANEstimator(epochs=value).validated_params()


def test_the_cli_parses_ints_and_refuses_floats(runner, npz, tmp_path):
    from genforge.cli.main import main

    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), "--epochs", "2.0"])
    assert result.exit_code == 2 and "epochs" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(npz), "--epochs", "1", "--width", "8",
                                  "--verbose", "false", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("params,message", [
    ({"generator_architecture": {"input_dim": 16}, "latent_dim": 32}, "input_dim'\\] is 16 but latent_dim is 32"),
    ({"generator_architecture": {"input_dim": 16}, "architecture": "resnet"}, "architecture is 'resnet'"),
    ({"discriminator_architecture": {"hidden_dim": 16}, "width": 16}, "width=16 would have no effect"),
    ({"generator_architecture": {"hidden_dim": 16, "hidden_dims": [8]}}, "both 'hidden_dim' and 'hidden_dims'"),
])
def test_the_h2o_form_must_not_contradict_the_plain_parameters(params, message):
    with pytest.raises(ParameterError, match=message):
        gf.GANEstimator(**params).validated_params()


def test_the_h2o_form_agrees_with_defaults_and_equal_values():
    gf.GANEstimator(generator_architecture={"input_dim": 16}, latent_dim=16).validated_params()
    gf.GANEstimator(generator_architecture={"input_dim": 16}, architecture="mlp").validated_params()


@pytest.fixture(scope="module")
def gan():
    return gf.GANEstimator(**TINY).train(training_frame=make_frame(n=16, size=8))


@pytest.fixture(scope="module")
def vae():
    return gf.VAEEstimator(epochs=1, batch_size=8, seed=1, verbose=False, latent_dim=4, width=4).train(
        training_frame=make_frame(n=16, size=8))


@pytest.mark.parametrize("n,message", [
    (-1, "at least 1"), (0, "at least 1"), (2.0, "whole number"), (True, "whole number"), ("3", "whole number"),
    (MAX_SAMPLES + 1, "more than one call makes"), (10**15, "more than one call makes"),
])
@pytest.mark.parametrize("which", ["gan", "vae"])
def test_bad_sample_counts_are_genforge_errors(n, message, which, request):
    model = request.getfixturevalue(which)
    with pytest.raises(DataError, match=message):
        model.predict(n)


def test_the_byte_budget_of_one_call():
    with pytest.raises(DataError, match="GiB"):
        check_sample_count(900_000, image_shape=(3, 64, 64))
    assert check_sample_count(np.int64(5), image_shape=(1, 8, 8)) == 5


def test_one_noise_vector_as_a_column_is_one_sample(gan):
    z = np.random.default_rng(0).standard_normal((8, 1))  # latent_dim 8: a column
    one = gan.predict(z)
    assert one.nrow == 1
    np.testing.assert_array_equal(one.images, gan.predict(z.T).images)
    np.testing.assert_array_equal(one.images, gan.predict(z[:, 0]).images)  # a flat vector too
    assert gan.predict(np.zeros((3, 8))).nrow == 3
    with pytest.raises(DataError, match=r"shape \(N, 8\)"):
        gan.predict(np.zeros((8, 2)))
    # With a latent width of 1 a column is N one-value rows.
    assert noise_rows(np.zeros((5, 1)), 1).shape == (5, 1)


def test_a_state_dict_mismatch_quotes_the_whole_cause(gan, tmp_path):
    path = gf.save_model(gan, tmp_path)
    meta = json.loads((path / "model.json").read_text())
    meta["params"]["width"] = 16  # weights of width 8, networks of width 16
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError) as caught:
        gf.load_model(path)
    text = str(caught.value)
    assert "Error(s) in loading state_dict for" in text and "size mismatch for" in text
    assert "\n" not in text
