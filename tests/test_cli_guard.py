"""genforge train and the divergence guard: a line per event, the stop's warning, bad flags refused."""

from __future__ import annotations

import pytest
import torch

import genforge as gf
from genforge.cli.main import main
from genforge.estimators.gan import GANTask

from .conftest import write_npz

TINY = ["--epochs", "8", "--batch-size", "8", "--width", "8", "--latent-dim", "8", "--seed", "1", "--verbose", "false"]


@pytest.fixture
def blobs(tmp_path):
    return write_npz(tmp_path / "blobs.npz", n=64)


def test_train_prints_a_line_per_guard_event_and_saves_them(runner, blobs, tmp_path):
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(blobs), "--out", str(tmp_path / "m"),
                                  *TINY, "--g-lr", "1", "--d-lr", "1", "--guard-lr-factor", "0.1"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("divergence guard:")]
    (saved,) = list((tmp_path / "m").iterdir())
    events = gf.load_model(saved).training_events()
    assert lines and len(lines) == len(events)
    assert lines[0] == (f"divergence guard: epoch {events[0]['epoch']}, step {events[0]['step']}: collapse -> "
                        f"rollback ({events[0]['evidence']})")


def test_the_guard_stop_is_a_warning_line(runner, blobs, tmp_path, monkeypatch):
    original = GANTask.train_step
    monkeypatch.setattr(GANTask, "train_step", lambda self, images, labels, step: {
        **original(self, images, labels, step), **({"d_loss": torch.tensor(float("nan"))} if step >= 10 else {})})
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(blobs), "--out", str(tmp_path / "m"),
                                  *TINY, "--guard-max-rollbacks", "1"])
    assert result.exit_code == 0, result.output
    # The message's options are spelled as flags.
    assert "warning: Training diverged again after 1 rollback (--guard-max-rollbacks 1): nan in epoch 2" in result.output
    assert "nan -> rollback" in result.output and "nan -> stop" in result.output
    # Unguarded, the same run fails with the finite-loss check's error.
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(blobs), "--out", str(tmp_path / "u"),
                                  *TINY, "--divergence-guard", "false"])
    assert result.exit_code == 2 and "error: Training diverged: d_loss became NaN" in result.output


@pytest.mark.parametrize("args,message", [
    (["--guard-lr-factor", "2"], "'guard_lr_factor' got 2.0"),
    (["--guard-max-rollbacks", "1.5"], "'guard_max_rollbacks' got '1.5'"),
    (["--divergence-guard", "maybe"], "'divergence_guard' got 'maybe'"),
    (["--guard-collapse", "-0.1"], "'guard_collapse' got -0.1"),
])
def test_train_refuses_bad_guard_flags(runner, blobs, args, message):
    result = runner.invoke(main, ["train", "--algo", "gan", "--frame", str(blobs), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
