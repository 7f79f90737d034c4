"""Run folders (issue 16 item 4): another run's checkpoint is never replaced unasked, a resume is not
another run, temporary folders go when the run ends (and stay when it fails with a checkpoint)."""

from __future__ import annotations

import json
import os

import pytest

import genforge as gf
from genforge.errors import OverwriteError
from genforge.files import ReplacedWarning
from genforge.training.progress import ProgressReport

from tests.conftest import make_frame

TINY = {"batch_size": 8, "seed": 1, "verbose": False, "width": 8, "latent_dim": 8}


def _model_id(run_dir) -> str:
    return json.loads((run_dir / "checkpoint" / "model.json").read_text())["model_id"]


def test_another_runs_checkpoint_is_refused_then_replaced_with_overwrite(tmp_path):
    frame = make_frame(n=16, size=8)
    run_dir = tmp_path / "run"
    first = gf.GANEstimator(**TINY, epochs=2, run_dir=str(run_dir)).train(training_frame=frame)
    assert first.last_run_dir == str(run_dir) and _model_id(run_dir) == first.model_id
    with pytest.raises(OverwriteError, match="holds the checkpoint of another run") as caught:
        gf.GANEstimator(**TINY, epochs=1, run_dir=str(run_dir)).train(training_frame=frame)
    assert "overwrite=True" in str(caught.value) and first.model_id in str(caught.value)
    assert caught.value.suggests == {"overwrite": True, "checkpoint": str(run_dir / "checkpoint")}
    assert _model_id(run_dir) == first.model_id  # untouched
    with pytest.warns(ReplacedWarning, match=f"replaced {run_dir / 'checkpoint'}.*{first.model_id}"):
        second = gf.GANEstimator(**TINY, epochs=1, run_dir=str(run_dir), overwrite=True).train(training_frame=frame)
    assert _model_id(run_dir) == second.model_id
    # The replaced run's grids went with it: only the new run's one epoch is left.
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["epoch_0001.png"]


def test_resuming_from_the_folders_own_checkpoint_is_not_another_run(tmp_path):
    frame = make_frame(n=16, size=8)
    run_dir = tmp_path / "run"
    gf.GANEstimator(**TINY, epochs=1, run_dir=str(run_dir)).train(training_frame=frame)
    resumed = gf.GANEstimator(**TINY, epochs=2, run_dir=str(run_dir),
                              checkpoint=str(run_dir / "checkpoint")).train(training_frame=frame)
    assert len(resumed.scoring_history()) == 2 and _model_id(run_dir) == resumed.model_id


def test_a_checkpoint_from_elsewhere_does_not_unlock_a_used_folder(tmp_path):
    frame = make_frame(n=16, size=8)
    gf.GANEstimator(**TINY, epochs=1, run_dir=str(tmp_path / "a")).train(training_frame=frame)
    gf.GANEstimator(**TINY, epochs=1, run_dir=str(tmp_path / "b")).train(training_frame=frame)
    with pytest.raises(OverwriteError):
        gf.GANEstimator(**TINY, epochs=2, run_dir=str(tmp_path / "b"),
                        checkpoint=str(tmp_path / "a" / "checkpoint")).train(training_frame=frame)


def test_a_file_as_run_dir_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(gf.ParameterError, match="is a file"):
        gf.GANEstimator(**TINY, epochs=1, run_dir=str(tmp_path / "file")).train(training_frame=make_frame(n=8, size=8))


def test_a_temporary_run_folder_is_removed_when_train_returns(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # tempfile reads it once: point its cache there too
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gan = gf.GANEstimator(**TINY, epochs=1).train(training_frame=make_frame(n=16, size=8))
    assert gan.last_run_dir is None
    assert not [p for p in os.listdir(tmp_path) if p.startswith("genforge-run-")]
    assert gan.predict(2).nrow == 2  # the model itself is in memory


def test_a_temporary_run_folder_stays_when_the_run_fails_after_a_checkpoint(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gan = gf.GANEstimator(**TINY, epochs=3)

    def stop(snapshot):  # called after each epoch's checkpoint: the run dies after epoch 1
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gan.train(training_frame=make_frame(n=16, size=8), callbacks=[ProgressReport(stop)])
    assert gan.last_run_dir is not None and gan.last_run_dir.startswith(str(tmp_path))
    resumed = gf.GANEstimator(**TINY, epochs=2, checkpoint=os.path.join(gan.last_run_dir, "checkpoint"))
    assert len(resumed.train(training_frame=make_frame(n=16, size=8)).scoring_history()) == 2


def test_a_run_that_fails_before_any_checkpoint_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    frame = make_frame(n=16, size=8)
    saved = gf.save_model(gf.GANEstimator(**TINY, epochs=2).train(training_frame=frame), tmp_path / "models")
    with pytest.raises(gf.ParameterError, match="already trained 2 epochs"):
        gf.GANEstimator(**TINY, epochs=2, checkpoint=str(saved)).train(training_frame=frame)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("genforge-run-")]
