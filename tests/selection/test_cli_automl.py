"""`genforge automl`: progress lines, the leaderboard at the end and as JSON/CSV; bad input is one clear
error line (exit 2) and trains nothing."""

from __future__ import annotations

import csv
import json

import pytest

from genforge.cli.main import main
from tests.conftest import write_npz

TINY_ARGS = ["--include-algos", "vae", "--fixed", "architecture=mlp", "--fixed", "width=8", "--fixed",
             "batch_size=16", "--evaluator", "digits", "--score-samples", "32", "--min-epochs", "3", "--seed", "1"]


@pytest.fixture
def data(tmp_path):
    return write_npz(tmp_path / "blobs.npz", n=64)


def test_automl_prints_progress_and_the_leaderboard_and_writes_json_and_csv(runner, tmp_path, data):
    out = tmp_path / "models"
    result = runner.invoke(main, ["automl", "--frame", str(data), "--max-models", "3", "--rungs", "2",
                                  "--project-name", "cli", "--out", str(out), "--json", str(tmp_path / "lb.json"),
                                  "--csv", str(tmp_path / "lb.csv"), *TINY_ARGS])
    assert result.exit_code == 0, result.output
    assert "[1 model of 3] VAE_1_cli rung 0: 3 epochs, fid" in result.output  # progress, one line per unit
    assert "rung 1: 9 epochs" in result.output
    assert "model_id" in result.output and "3 models" in result.output
    rows = json.loads((tmp_path / "lb.json").read_text())
    assert len(rows) == 3 and isinstance(rows[0]["params"], dict)
    ok = [r["fid"] for r in rows if r["status"] == "ok"]
    assert ok == sorted(ok)
    with open(tmp_path / "lb.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["model_id"] for r in table] == [r["model_id"] for r in rows]
    assert all((out / r["model_id"] / "model.json").is_file() for r in rows if r["model_path"])


@pytest.mark.parametrize("args, words", [
    (["--include-algos", "gan,xgboost"], ["xgboost"]),
    (["--sort-metric", "auc"], ["sort_metric", "auc"]),
    (["--fixed", "width"], ["--fixed", "NAME=VALUE"]),
    (["--fixed", "widht=3"], ["widht"]),
    (["--fixed", "width=wide"], ["width", "'wide'"]),
    (["--max-models", "0"], ["max_models"]),
    (["--storage", "nonsense"], ["storage", "URL"]),
])
def test_bad_input_is_one_error_line_and_trains_nothing(runner, tmp_path, data, args, words):
    out = tmp_path / "models"
    result = runner.invoke(main, ["automl", "--frame", str(data), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert not (out / "runs").exists()


def test_missing_frame_and_existing_outputs_are_refused_before_the_search(runner, tmp_path, data):
    result = runner.invoke(main, ["automl", "--max-models", "1"])
    assert result.exit_code == 2 and "--frame is required" in result.output
    (tmp_path / "lb.json").write_text("[]")
    result = runner.invoke(main, ["automl", "--frame", str(data), "--out", str(tmp_path / "m"), "--json",
                                  str(tmp_path / "lb.json"), *TINY_ARGS])
    assert result.exit_code == 2 and "--force" in result.output
    assert not (tmp_path / "m").exists()
    result = runner.invoke(main, ["automl", "--frame", str(tmp_path / "missing.npz")])
    assert result.exit_code == 2 and "missing.npz" in result.output


def test_worker_needs_an_existing_study(runner, tmp_path, data):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = runner.invoke(main, ["automl", "worker", "--study", "nope", "--storage", url])
    assert result.exit_code == 2 and "no study 'nope'" in result.output
    result = runner.invoke(main, ["automl", "--frame", str(data), "--max-models", "1", "--rungs", "1",
                                  "--project-name", "later", "--storage", url, "--out", str(tmp_path / "m"),
                                  "--create-only", *TINY_ARGS])
    assert result.exit_code == 0 and "genforge automl worker --study later --storage" in result.output
    assert not (tmp_path / "m" / "runs").exists()  # created, nothing run
    result = runner.invoke(main, ["automl", "worker", "--study", "later", "--storage", url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 model" in result.output and "VAE_1_later" in result.output
