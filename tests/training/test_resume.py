"""A training process killed with SIGKILL resumes from its checkpoint and ends with exactly the weights of
an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

SCRIPT = textwrap.dedent("""
    import sys, time, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from conftest import make_frame
    import genforge as gf
    from genforge.estimators.gan import GANTask

    mode, run_dir, out = sys.argv[1:4]
    if mode == "slow":  # give the parent time to kill us mid-run
        end_epoch = GANTask.end_epoch
        GANTask.end_epoch = lambda self, epoch: (time.sleep(0.4), end_epoch(self, epoch))[1]
    params = dict(epochs=6, batch_size=8, seed=11, width=8, latent_dim=8, verbose=False, deterministic=True,
                  diff_augment="translation", run_dir=run_dir)
    if mode == "resume":
        params["checkpoint"] = run_dir + "/checkpoint"
    gan = gf.GANEstimator(**params).train(training_frame=make_frame(n=32, size=8))
    gf.save_model(gan, out)
""")


def _run(tmp_path: Path, mode: str, run_dir: Path, out: Path) -> subprocess.Popen:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parents[1])))
    return subprocess.Popen([sys.executable, str(script), mode, str(run_dir), str(out)])


def _epochs_in_checkpoint(run_dir: Path) -> int:
    try:
        return len(json.loads((run_dir / "checkpoint" / "model.json").read_text())["history"])
    except (OSError, ValueError, KeyError):
        return 0


def _weights(models: Path) -> dict:
    (folder,) = list(models.iterdir())
    return load_file(str(folder / "weights.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    reference = _run(tmp_path, "plain", tmp_path / "ref-run", tmp_path / "ref-model")

    victim = _run(tmp_path, "slow", tmp_path / "run", tmp_path / "unused")
    deadline = time.monotonic() + 120
    while _epochs_in_checkpoint(tmp_path / "run") < 2 and time.monotonic() < deadline:
        assert victim.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = _epochs_in_checkpoint(tmp_path / "run")
    assert 2 <= killed_at < 6

    assert _run(tmp_path, "resume", tmp_path / "run", tmp_path / "resumed-model").wait(timeout=120) == 0
    assert reference.wait(timeout=120) == 0
    expected, resumed = _weights(tmp_path / "ref-model"), _weights(tmp_path / "resumed-model")
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert expected[key].equal(resumed[key]), key
