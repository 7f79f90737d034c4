"""AutoML: successive halving resumes the promoted candidates from their checkpoints; failures and
memorizing models are rows that cannot lead; train() again resumes the study."""

from __future__ import annotations

import json
import time

import optuna
import pytest

import genforge as gf
from genforge.errors import ParameterError
from genforge.selection.leaderboard import Leaderboard
from tests.selection.conftest import vae_automl


def test_promoted_candidates_continue_from_their_checkpoint(tmp_path, frame):
    rung0_history, rung0_fid = {}, {}

    def keep(row):
        if row["rung"] == 0 and row["model_path"]:
            rung0_history[row["model_id"]] = gf.load_model(row["model_path"]).scoring_history().rows
            if row["status"] == "ok":
                rung0_fid[row["model_id"]] = row["fid"]

    aml = vae_automl(tmp_path).train(training_frame=frame, on_result=keep)
    board = aml.leaderboard
    assert len(board) == 3 and len(rung0_history) == 3
    promoted = [r for r in board.rows if r["rung"] == 1]
    assert len(promoted) == 1  # 3 // reduction_factor
    row = promoted[0]
    assert row["epochs"] == 9  # rungs of 3 and 9 epochs
    history = gf.load_model(row["model_path"]).scoring_history().rows
    assert len(history) == 9
    # The first three epochs are the rung-0 run's own rows (timings included): continued, not retrained.
    assert history[:3] == rung0_history[row["model_id"]]
    steps = [r["step"] for r in history]
    assert steps == [steps[0] * (i + 1) for i in range(9)]
    assert row["model_id"] == min(rung0_fid, key=rung0_fid.get)  # the best at rung 0 was promoted
    # Optuna learns from the rung-0 trials only: the promotion trial has no sampled parameters.
    study = optuna.load_study(study_name="tiny", storage=aml.storage_url)
    by_key = {t.user_attrs["key"]: t for t in study.get_trials()}
    assert by_key[f"c{int(row['model_id'].split('_')[1]) - 1}/r1"].params == {}
    assert all(by_key[f"c{i}/r0"].params for i in range(3))


def test_the_tuned_defaults_come_first(tmp_path, frame):
    aml = vae_automl(tmp_path, max_models=2, rungs=1, fixed_params={"width": 8, "batch_size": 16,
                                                                   "architecture": "mlp"})
    aml.train(training_frame=frame)
    first = json.loads(next(r for r in aml.leaderboard.rows if r["model_id"].startswith("VAE_1_"))["params"])
    defaults = gf.VAEEstimator.PARAMS.defaults()
    for name in ("latent_dim", "beta", "lr", "reconstruction_loss"):
        assert first[name] == defaults[name], name
    with pytest.raises(ParameterError, match="criterion 'auc'"):
        aml.get_best_model(criterion="auc")
    with pytest.raises(ParameterError, match="call train"):
        gf.AutoML(max_models=1).leaderboard


def test_a_failing_candidate_is_recorded_and_the_search_goes_on(tmp_path, frame, monkeypatch):
    from genforge.estimators.gan import GANEstimator

    def broken(self, params, frame, validation_frame):
        raise RuntimeError("out of paint")

    monkeypatch.setattr(GANEstimator, "_make_task", broken)
    aml = vae_automl(tmp_path, include_algos=["gan", "vae"], max_models=3, rungs=1,
                     fixed_params={"width": 8, "batch_size": 16})
    aml.train(training_frame=frame)
    rows = {r["model_id"]: r for r in aml.leaderboard.rows}
    assert rows["GAN_1_tiny"]["status"] == "failed"
    assert rows["GAN_1_tiny"]["reason"] == "RuntimeError: out of paint"
    assert len(rows) == 3 and any(r["status"] != "failed" for r in rows.values())
    assert aml.leaderboard.rows[-1]["model_id"].startswith("GAN")  # failures rank last


def test_a_memorizing_model_is_flagged_and_cannot_lead(tmp_path, frame):
    # Scored against images far from the training set, the calibrated copy threshold is large, so every
    # sample counts as a near-copy of a training image: memorization 1.0.
    far = gf.Frame(255 - frame.images[:32], frame.labels[:32], frame.class_names)
    aml = vae_automl(tmp_path, max_models=2, rungs=1, memorization_threshold=0.5)
    aml.train(training_frame=frame, leaderboard_frame=far)
    rows = aml.leaderboard.rows
    assert {r["status"] for r in rows} == {"memorizes"}
    assert all(r["memorization"] > 0.5 and "near-copies" in r["reason"] for r in rows)
    assert aml.leader is None and aml.get_best_model() is None


def test_the_leader_is_the_best_model_that_may_lead():
    rows = [
        {"model_id": "a", "algo": "gan", "status": "memorizes", "fid": 1.0, "recall": 0.9},
        {"model_id": "b", "algo": "vae", "status": "ok", "fid": 5.0, "recall": 0.2},
        {"model_id": "c", "algo": "gan", "status": "ok", "fid": 7.0, "recall": 0.5},
        {"model_id": "d", "algo": "gan", "status": "failed", "fid": None},
    ]
    board = Leaderboard(rows)
    assert [r["model_id"] for r in board.rows] == ["b", "c", "a", "d"]
    assert board.best_row()["model_id"] == "b"
    assert board.best_row(algorithm="gan")["model_id"] == "c"
    assert board.best_row(criterion="recall")["model_id"] == "c"
    assert [r["model_id"] for r in board.sort("recall").rows][:2] == ["c", "b"]
    assert json.loads(board.to_json())[0]["model_id"] == "b"


def test_train_again_resumes_the_study_keeping_finished_candidates(tmp_path, frame):
    first = []
    vae_automl(tmp_path, max_models=2, rungs=1).train(training_frame=frame, on_result=first.append)
    assert [r["model_id"] for r in first] == ["VAE_1_tiny", "VAE_2_tiny"]
    again = []
    aml = vae_automl(tmp_path, max_models=3, rungs=1).train(training_frame=frame, on_result=again.append)
    assert [r["model_id"] for r in again] == ["VAE_3_tiny"]  # the first two were not trained again
    assert len(aml.leaderboard) == 3
    with pytest.raises(ParameterError, match="another training frame"):
        vae_automl(tmp_path, max_models=4, rungs=1).train(training_frame=frame[:40])


@pytest.mark.parametrize("options, words", [
    ({"include_algos": ["gan", "xgboost"]}, ["include_algos", "xgboost"]),
    ({"include_algos": ["gan"], "exclude_algos": ["vae"]}, ["not both"]),
    ({"exclude_algos": ["gan", "vae", "diffusion"]}, ["no algorithm"]),
    ({"sort_metric": "auc"}, ["sort_metric", "auc"]),
    ({"max_models": 0}, ["max_models"]),
    ({"max_runtime_secs": -5}, ["max_runtime_secs"]),
    ({"memorization_threshold": 2}, ["memorization_threshold"]),
    ({"fixed_params": {"epochs": 3}}, ["epochs", "AutoML sets"]),
    ({"fixed_params": {"widht": 3}}, ["widht"]),
    ({"fixed_params": {"width": -1}}, ["width"]),
    ({"project_name": "../evil"}, ["project_name"]),
    ({"rungs": 40}, ["rungs", "from 1 to 6"]),
    ({"score_samples": 10**9}, ["score_samples"]),
    ({"max_runtime_secs": float("inf")}, ["max_runtime_secs"]),
    ({"storage": "not a url"}, ["storage", "URL"]),
])
def test_bad_automl_settings_are_refused_before_anything_trains(tmp_path, frame, options, words):
    with pytest.raises(ParameterError) as error:
        gf.AutoML(out=tmp_path / "out", verbose=False, **options).train(training_frame=frame)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "out" / "runs").exists()


def test_bad_frames_are_refused(tmp_path, frame):
    aml = vae_automl(tmp_path)
    with pytest.raises(gf.DataError, match="training_frame"):
        aml.train()
    with pytest.raises(gf.DataError, match="validation images"):
        aml.train(training_frame=frame, validation_frame=frame.resize(16))
    with pytest.raises(gf.DataError, match="must be a Frame"):
        aml.train(training_frame=frame, leaderboard_frame=[1, 2, 3])


@pytest.mark.slow
def test_a_time_budget_runs_one_round_of_time_rungs_then_exploits_the_leader(tmp_path, frame, monkeypatch):
    import genforge.selection.automl as automl_module

    vae_automl(tmp_path / "warm", max_models=1, rungs=1).train(training_frame=frame)  # imports, evaluator: warm
    monkeypatch.setattr(automl_module, "MIN_RUNG_SECS", 1.0)  # a 24 s search with two rungs
    monkeypatch.setattr(automl_module, "EXPLORE_SHARE", 0.6)
    monkeypatch.setattr(automl_module, "EXPLORE_CAP", 0.9)
    rows = []
    aml = vae_automl(tmp_path, max_models=None, max_runtime_secs=24, min_epochs=None, rungs=2, reduction_factor=2)
    started = time.monotonic()
    aml.train(training_frame=frame, on_result=rows.append)
    elapsed = time.monotonic() - started
    config = aml._config
    assert config["rung_secs"] == pytest.approx([24 * 0.6 / 3, 24 * 0.6 / 3 * 2])  # two candidates, one promoted
    assert [(r["model_id"][:5], r["rung"]) for r in rows][:2] == [("VAE_1", 0), ("VAE_2", 0)]
    assert [r["rung"] for r in rows] == [0, 0, 1, 2]
    leader = rows[-1]
    latest = {r["model_id"]: r for r in rows[:3]}  # the leaderboard before the last unit
    ok = [r for r in latest.values() if r["status"] == "ok"]
    assert leader["model_id"] == min(ok, key=lambda r: r["fid"])["model_id"]  # its leader, exploited
    assert leader["training_secs"] > latest[leader["model_id"]]["training_secs"]
    assert rows[2]["training_secs"] >= config["rung_secs"][1] * 0.9  # the promoted one trained its rung
    assert elapsed < 24 * 1.5  # the budget holds, give or take the last unit's scoring
    best = aml.leaderboard.best_row()  # None when the longer training made every model memorize or collapse
    if best is None:
        assert aml.leader is None and all(r["status"] != "ok" for r in aml.leaderboard.rows)
    else:
        assert aml.leader.model_id == best["model_id"]


@pytest.mark.parametrize("minutes, rungs, candidates", [(2, 1, 1), (5, 2, 3), (20, 3, 9)])
def test_a_small_time_budget_gets_fewer_rungs_not_briefer_candidates(frame, minutes, rungs, candidates):
    from genforge.selection.automl import EXPLORE_SHARE, MIN_RUNG_SECS

    config = gf.AutoML(max_runtime_secs=minutes * 60, include_algos=["gan", "vae"])._config_for(frame)
    assert (len(config["rung_secs"]), config["round_size"]) == (rungs, candidates)
    assert config["rung_secs"][0] >= MIN_RUNG_SECS or rungs == 1
    assert config["rung_secs"][-1] <= EXPLORE_SHARE * minutes * 60
