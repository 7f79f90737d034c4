"""A DDP rank SIGKILLed mid-training under ``torchrun --max-restarts 1``: torchrun restarts the group, the
group resumes from the run's last checkpoint (``genforge.training.elastic``), and the run ends with the
weights of an uninterrupted run (2 gloo processes on the CPU, through ``genforge train``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS))
from conftest import make_frame  # noqa: E402

EPOCHS, STEPS_PER_EPOCH = 4, 4  # 32 images, 4 per rank and step, 2 ranks
KILL_AT_STEP = 2 * STEPS_PER_EPOCH + 1  # in epoch 3: rank 0 has written epoch 2's checkpoint by then

# Run by torchrun on each rank: `genforge train`, with rank 1 killing itself on its first attempt when told to.
WORKER = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    from genforge.estimators.gan import GANTask
    from genforge.cli.main import main

    kill_at = int(os.environ["TEST_KILL_AT_STEP"])
    original = GANTask.train_step

    def train_step(self, images, labels, step):
        if (step == kill_at and os.environ["RANK"] == "1" and os.environ["TORCHELASTIC_RESTART_COUNT"] == "0"):
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, images, labels, step)

    GANTask.train_step = train_step
    main(sys.argv[1:])
""")


def _run(tmp_path: Path, name: str, frame: Path, kill_at: int) -> tuple[Path, str]:
    script, out, log = tmp_path / "worker.py", tmp_path / name, tmp_path / f"{name}.log"
    script.write_text(WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "--max-restarts", "1", "--monitor-interval", "0.2", str(script),
               "train", "--algo", "gan", "--frame", str(frame), "--out", str(out / "models"),
               "--architecture", "mlp", "--conditional", "true", "--loss", "hinge", "--epochs", str(EPOCHS),
               "--seed", "5", "--width", "8", "--latent_dim", "8", "--batch_size", "4", "--deterministic", "true",
               "--verbose", "false", "--run_dir", str(out / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEST_KILL_AT_STEP": str(kill_at),
           "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as handle:  # a file, not a pipe: a full pipe would block a rank
        code = subprocess.call(command, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text()
    assert code == 0, text[-4000:]
    (model,) = list((out / "models").iterdir())
    return model, text


@pytest.mark.slow
def test_a_killed_rank_restarts_from_the_checkpoint_and_ends_as_an_uninterrupted_run(tmp_path):
    import genforge as gf

    frame = make_frame(n=32, size=8)
    path = tmp_path / "frame.npz"
    np.savez(path, images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))

    plain, plain_log = _run(tmp_path, "plain", path, kill_at=-1)
    killed, killed_log = _run(tmp_path, "killed", path, kill_at=KILL_AT_STEP)

    assert "restart: resuming" not in plain_log
    assert "restart: resuming" in killed_log, killed_log[-4000:]  # resumed, not trained again from epoch 1
    assert "checkpoint" in killed_log and ("SIGKILL" in killed_log or "Signal 9" in killed_log or "-9" in killed_log)
    history = gf.load_model(killed).scoring_history()
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
    expected, actual = load_file(str(plain / "weights.safetensors")), load_file(str(killed / "weights.safetensors"))
    assert expected.keys() == actual.keys()
    for key in expected:
        assert actual[key].equal(expected[key]), key
    last = load_file(str(tmp_path / "killed" / "run" / "checkpoint" / "weights.safetensors"))
    assert all(last[k].equal(actual[k]) for k in actual)  # the restarted group went on writing checkpoints


def test_restart_checkpoint_is_this_runs_own(tmp_path, monkeypatch):
    import time

    from genforge.training.distributed import DistributedEnv
    from genforge.training.elastic import restart_checkpoint

    run_dir = tmp_path / "run"
    params = {"run_dir": str(run_dir)}
    rank0, rank1 = DistributedEnv(0, 2, 0), DistributedEnv(1, 2, 1)
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "checkpoint" / "model.json").write_text("{}")  # an older run's checkpoint
    time.sleep(0.05)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "run-a")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert restart_checkpoint(params, rank1) is None and restart_checkpoint(params, rank0) is None  # records run-a
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert restart_checkpoint(params, rank1) is None  # the checkpoint predates this run
    time.sleep(0.05)
    (run_dir / "checkpoint" / "model.json").write_text("{}")  # this run's epoch checkpoint
    assert restart_checkpoint(params, rank1) == restart_checkpoint(params, rank0) == str(run_dir / "checkpoint")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "run-b")  # another torchrun job on the same run_dir
    assert restart_checkpoint(params, rank0) is None
    assert restart_checkpoint({"run_dir": None}, rank0) is None and restart_checkpoint(params, None) is None
