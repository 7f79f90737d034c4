"""GridSearch: bad grids are refused before anything trains (naming the parameter); Cartesian and
RandomDiscrete walks; the grid's table; a failing model is a row, not the end of the grid."""

from __future__ import annotations

import json

import pytest

import genforge as gf
from genforge.errors import ParameterError
from tests.selection.conftest import SCORING, TINY

BASE = dict(architecture="mlp", epochs=3, seed=1, verbose=False, **TINY)


def grid(tmp_path, hyper, criteria=None, **kw):
    return gf.GridSearch(gf.VAEEstimator(**BASE), hyper, criteria, grid_id="g", out=tmp_path / "out",
                         verbose=False, **SCORING, **kw)


@pytest.mark.parametrize("hyper, words", [
    ({"latent_dimm": [2, 4]}, ["latent_dimm", "Did you mean 'latent_dim'"]),
    ({"latent_dim": []}, ["latent_dim", "empty list"]),
    ({}, ["non-empty dict"]),
    ({"latent_dim": 4}, ["latent_dim", "list of values"]),
    ({"latent_dim": [4, 0]}, ["latent_dim", "0"]),
    ({"reconstruction_loss": ["bce", "l1"]}, ["reconstruction_loss", "'l1'", "allowed values"]),
    ({"beta": [1.0, "high"]}, ["beta", "'high'"]),
    ({"run_dir": ["a", "b"]}, ["run_dir", "manages"]),
])
def test_bad_hyper_params_are_refused_naming_the_parameter(tmp_path, hyper, words):
    with pytest.raises(ParameterError) as error:
        grid(tmp_path, hyper)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_combination_the_estimator_refuses_is_named(tmp_path):
    with pytest.raises(ParameterError, match="diff_augment.*bogus"):
        gf.GridSearch("gan", {"diff_augment": ["translation", "bogus"]}, grid_id="g", out=tmp_path / "out")


@pytest.mark.parametrize("criteria, words", [
    ({"strategy": "Exhaustive"}, ["strategy", "Exhaustive"]),
    ({"max_model": 3}, ["unknown keys", "max_model"]),
    ({"max_models": 0}, ["max_models"]),
    ({"stopping_metric": "accuracy"}, ["stopping_metric", "accuracy"]),
])
def test_bad_search_criteria_are_refused(tmp_path, criteria, words):
    with pytest.raises(ParameterError) as error:
        grid(tmp_path, {"latent_dim": [2, 4]}, criteria)
    for word in words:
        assert word in str(error.value)


def test_a_huge_grid_is_refused_without_building_it_and_sampled_with_max_models(tmp_path):
    hyper = {"latent_dim": list(range(1, 101)), "width": list(range(4, 104)), "lr": [1e-3, 2e-3, 3e-3]}
    with pytest.raises(ParameterError, match="30000 combinations"):
        grid(tmp_path, hyper)
    sampled = grid(tmp_path, hyper, {"strategy": "RandomDiscrete", "max_models": 5, "seed": 2})
    assert len(sampled.combinations) == 5
    assert len({json.dumps(c, sort_keys=True) for c in sampled.combinations}) == 5


def test_a_combination_that_does_not_fit_the_frame_is_refused_before_training(tmp_path, frame):
    search = gf.GridSearch(gf.VAEEstimator(**{**BASE, "architecture": "conv"}), {"conditional": [False, True]},
                           grid_id="g", out=tmp_path / "out", verbose=False, **SCORING)
    unlabelled = gf.Frame(frame.images)
    with pytest.raises(gf.DataError, match="conditional=True needs a frame with labels"):
        search.train(training_frame=unlabelled)
    assert not (tmp_path / "out" / "runs").exists()  # nothing trained


def test_cartesian_trains_every_combination_in_order_and_ranks_them(tmp_path, frame):
    rows = []
    search = grid(tmp_path, {"latent_dim": [2, 4], "beta": [0.5, 1.0]}).train(training_frame=frame,
                                                                             on_result=rows.append)
    assert len(rows) == 4
    params = {r["model_id"]: json.loads(r["params"]) for r in rows}
    order = [(params[f"VAE_{i}_g"]["latent_dim"], params[f"VAE_{i}_g"]["beta"]) for i in range(1, 5)]
    assert order == [(2, 0.5), (2, 1.0), (4, 0.5), (4, 1.0)]
    table = search.get_grid(sort_by="fid")
    fids = [r["fid"] for r in table.rows if r["status"] == "ok"]
    assert fids == sorted(fids) and fids
    assert table.columns[:3] == ["model_id", "algo", "status"]
    assert sorted(search.model_ids) == sorted(params)
    assert all(isinstance(m, gf.VAEEstimator) and m.is_fitted for m in search.models)
    worst_first = search.get_grid(sort_by="fid", decreasing=True)
    assert [r["fid"] for r in worst_first.rows if r["status"] == "ok"] == sorted(fids, reverse=True)


def test_random_discrete_samples_without_repeats_by_seed_up_to_max_models(tmp_path, frame):
    hyper = {"latent_dim": [2, 3, 4], "beta": [0.5, 1.0, 2.0]}
    criteria = {"strategy": "RandomDiscrete", "max_models": 3, "seed": 7}
    a = grid(tmp_path, hyper, criteria)
    assert a.combinations == grid(tmp_path, hyper, criteria).combinations
    assert len({json.dumps(c, sort_keys=True) for c in a.combinations}) == 3
    a.train(training_frame=frame)
    assert len(a.leaderboard) == 3
    trained = [json.loads(r["params"]) for r in a.leaderboard.rows]
    assert sorted((p["latent_dim"], p["beta"]) for p in trained) == sorted(
        (c["latent_dim"], c["beta"]) for c in a.combinations)


def test_a_model_that_fails_in_training_is_a_row_and_the_grid_goes_on(tmp_path, frame):
    # stopping_metric 'fid' with an evaluator that does not exist passes the parameter checks and fails
    # when training builds its FID callback: a real failure inside train().
    base = gf.GANEstimator(architecture="dcgan", epochs=2, seed=1, verbose=False, stopping_rounds=3,
                           evaluator="no-such-evaluator", **TINY)
    search = gf.GridSearch(base, {"stopping_metric": ["fid", "g_loss"]}, grid_id="g", out=tmp_path / "out",
                           verbose=False, **SCORING).train(training_frame=frame)
    rows = {json.loads(r["params"])["stopping_metric"]: r for r in search.leaderboard.rows}
    assert rows["fid"]["status"] == "failed" and "no-such-evaluator" in rows["fid"]["reason"]
    assert rows["fid"]["model_path"] is None
    assert rows["g_loss"]["status"] in ("ok", "collapsed") and rows["g_loss"]["fid"] > 0
    assert search.leaderboard.rows[-1]["status"] == "failed"  # failures rank last


def test_grid_by_class_and_by_name(tmp_path):
    assert gf.GridSearch(gf.VAEEstimator, {"beta": [1.0]}).estimator_class is gf.VAEEstimator
    assert gf.GridSearch("gan", {"loss": ["hinge"]}).estimator_class is gf.GANEstimator
    with pytest.raises(ParameterError, match="Unknown algorithm"):
        gf.GridSearch("gbm", {"ntrees": [1]})
    with pytest.raises(ParameterError, match="estimator class, instance or algorithm name"):
        gf.GridSearch(42, {"beta": [1.0]})
