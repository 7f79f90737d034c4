"""Real processes on one SQLite study: two `genforge automl worker` processes run no unit twice and build
one leaderboard; a search whose process was killed mid-candidate resumes, re-running only that unit from
its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

from tests.selection.conftest import vae_automl

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

# Imports first, then waits for the go file, so that both workers start their loops together.
WORKER = textwrap.dedent("""
    import sys, time, warnings
    warnings.simplefilter("ignore")
    from pathlib import Path
    from genforge.cli.main import main
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.05)
    main(sys.argv[2:])
""")


def _ran(study) -> list:
    return [t for t in study.get_trials() if "row" in t.user_attrs and t.user_attrs.get("note") is None]


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tmp_path, frame):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    aml = vae_automl(tmp_path, storage=url, project_name="shared", max_models=4, rungs=2, reduction_factor=2)
    aml.prepare(training_frame=frame)
    script, go = tmp_path / "worker.py", tmp_path / "go"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(go), "automl", "worker", "--study", "shared",
                               "--storage", url, "--quiet"], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    study = optuna.load_study(study_name="shared", storage=url)
    ran = _ran(study)
    keys = [t.user_attrs["key"] for t in ran]
    assert len(keys) == len(set(keys)), keys  # no unit was run twice
    assert len(keys) == 4 + 2  # four candidates, rounds of two, the better one of each promoted
    assert {t.user_attrs["pid"] for t in ran} == {p.pid for p in procs}  # both did work
    board = aml.leaderboard
    assert len(board) == 4 and sorted(r["model_id"] for r in board.rows) == [f"VAE_{i}_shared" for i in range(1, 5)]
    assert sum(r["rung"] == 1 for r in board.rows) == 2
    assert any("4 models" in out for out, _ in outputs)  # the last worker prints the whole leaderboard


CHILD = textwrap.dedent("""
    import sys, time, warnings
    warnings.simplefilter("ignore")
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {root!r})
    from genforge.estimators.vae import VAETask
    from tests.conftest import make_frame
    from tests.selection.conftest import vae_automl
    from pathlib import Path

    end_epoch = VAETask.end_epoch
    VAETask.end_epoch = lambda self, epoch: (time.sleep(0.4), end_epoch(self, epoch))[1]
    vae_automl(Path(sys.argv[1]), project_name="killed", max_models=2, rungs=1, min_epochs=8,
               fixed_params={{"width": 8, "batch_size": 16, "architecture": "mlp", "checkpoint_every": 1}}).train(
        training_frame=make_frame(n=64, size=8))
""")


def _checkpoint_history(run: Path) -> list:
    try:
        return json.loads((run / "checkpoint" / "model.json").read_text())["history"]
    except (OSError, ValueError, KeyError):
        return []


@pytest.mark.slow
def test_a_killed_search_resumes_rerunning_only_the_interrupted_unit(tmp_path, frame):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=ENV)
    run = tmp_path / "out" / "runs" / "c0"
    deadline = time.monotonic() + 120
    while len(_checkpoint_history(run)) < 2 and time.monotonic() < deadline:
        assert child.poll() is None, "the search ended before it could be killed"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = _checkpoint_history(run)
    assert 2 <= len(before) < 8

    rows = []
    aml = vae_automl(tmp_path, project_name="killed", max_models=2, rungs=1, min_epochs=8,
                     fixed_params={"width": 8, "batch_size": 16, "architecture": "mlp", "checkpoint_every": 1})
    aml.train(training_frame=frame, on_result=rows.append)
    assert [r["model_id"] for r in rows] == ["VAE_1_killed", "VAE_2_killed"]
    study = optuna.load_study(study_name="killed", storage=aml.storage_url)
    c0 = [t for t in study.get_trials() if t.user_attrs.get("key") == "c0/r0"]
    assert [t.user_attrs.get("note") for t in c0] == ["interrupted", None]
    assert c0[0].state == optuna.trial.TrialState.FAIL
    history = json.loads((Path(rows[0]["model_path"]) / "model.json").read_text())["history"]
    assert len(history) == 8 and history[:len(before)] == before  # continued from the killed run's checkpoint
