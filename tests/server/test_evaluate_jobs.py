"""Evaluation as a job (queued with the training jobs, its own model copy, scores in the job's result, the
model row and model.json), model folders kept only once their row is committed, and the one check of
import options."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

import genforge as gf
from genforge.server.db import Database, JobRow
from genforge.server.errors import ApiError
from genforge.server.repository import JobEnd, JobGone, Repository
from genforge.server.store import import_options
from tests.conftest import make_frame

from .conftest import TINY_GAN, install_model, npz_bytes, settings_for, upload, wait_for


def test_evaluation_is_a_job_queued_behind_training_on_its_own_model_copy(client, saved_gan, tmp_path):
    mid = install_model(client, saved_gan)["id"]
    frame = upload(client)["id"]
    assert client.post(f"/api/v1/models/{mid}/generate", json={"n": 1, "format": "json"}).status_code == 200
    cached = client.app.state.ctx.stores.models.items[mid]  # the model the requests share
    before = cached.metrics

    # max_jobs=1: while a training job runs, the evaluation waits in the queue like any job.
    long_id = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                "parameters": {**TINY_GAN, "epochs": 2000}}).json()["id"]
    wait_for(client, long_id, ("running",))
    started = client.post(f"/api/v1/models/{mid}/evaluate", json={"frame": frame})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["kind"] == "evaluate" and job["model_id"] == mid and job["training_frame"] == frame
    assert job["status"] == "queued" and job["result"] is None
    listed = {j["id"]: j for j in client.get("/api/v1/jobs").json()}
    assert listed[job["id"]]["kind"] == "evaluate" and listed[long_id]["kind"] == "train"
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "queued"
    deleting = client.delete(f"/api/v1/models/{mid}")
    assert deleting.status_code == 409 and job["id"] in deleting.json()["detail"]  # it is about to be scored
    assert client.delete(f"/api/v1/frames/{frame}").status_code == 409  # and the frame is needed
    client.post(f"/api/v1/jobs/{long_id}/cancel")

    done = wait_for(client, job["id"], ("done", "failed"))
    assert done["status"] == "done", done["message"]
    assert done["progress"] == 1.0 and done["result"]["model_id"] == mid and done["result"]["frame"] == frame
    scores = done["result"]["metrics"]
    assert "d_real" in scores
    assert client.get(f"/api/v1/models/{mid}").json()["metrics"]["d_real"] == scores["d_real"]
    meta = json.loads((tmp_path / "data" / "models" / mid / "model.json").read_text())
    assert meta["metrics"]["d_real"] == scores["d_real"]  # written through write_metrics, in place
    assert gf.load_model(tmp_path / "data" / "models" / mid).metrics["d_real"] == scores["d_real"]
    # The worker scored its own copy: the cached model was not touched.
    assert client.app.state.ctx.stores.models.items[mid] is cached and cached.metrics == before
    events = client.get(f"/api/v1/jobs/{job['id']}/events").text
    last = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ")][-1]
    assert last["status"] == "done" and last["result"] == done["result"]


def test_evaluation_errors_before_and_inside_the_job(client, saved_gan, tmp_path):
    mid = install_model(client, saved_gan)["id"]
    assert client.post("/api/v1/models/nope/evaluate", json={"frame": "x"}).status_code == 404
    assert client.post(f"/api/v1/models/{mid}/evaluate", json={"frame": "nope"}).status_code == 404
    big = upload(client, npz_bytes(n=16, size=16), name="big.npz")["id"]
    wrong = client.post(f"/api/v1/models/{mid}/evaluate", json={"frame": big})
    assert wrong.status_code == 422 and "frame" in wrong.json()["detail"]
    assert client.get("/api/v1/jobs").json() == []  # nothing was queued for those

    # A classifier scored on a frame without labels: the job fails and says why; no scores are stored.
    cnn = gf.CNNEstimator(epochs=1, batch_size=8, verbose=False, run_dir=str(tmp_path / "run"))
    cnn.train(training_frame=make_frame(n=16, size=8))
    cid = install_model(client, gf.save_model(cnn, tmp_path / "models"))["id"]
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, make_frame(n=16, size=8).images)
    unlabelled = client.post("/api/v1/frames", files={"file": ("u.npy", buffer.getvalue())}).json()["id"]
    job = client.post(f"/api/v1/models/{cid}/evaluate", json={"frame": unlabelled}).json()
    failed = wait_for(client, job["id"], ("done", "failed"))
    assert failed["status"] == "failed" and "label" in failed["message"] and "Traceback" not in failed["message"]
    assert failed["result"] is None and client.get(f"/api/v1/models/{cid}").json()["metrics"] == {}
    assert client.delete(f"/api/v1/models/{cid}").status_code == 204  # a finished evaluation no longer holds it


def test_the_python_client_waits_for_the_evaluation(client, saved_gan):
    conn = gf.connect("http://testserver", client=client)
    model = conn.upload_model(saved_gan)
    frame = conn.import_file(make_frame(n=32, size=8))
    blocker = conn.train("gan", frame, wait=False, **{**TINY_GAN, "epochs": 2000})  # max_jobs=1: evaluations wait
    with pytest.raises(gf.errors.GenforgeError, match="still queued"):
        model.model_performance(frame, timeout=0)  # gives up; the job stays queued on the server
    assert [j.kind for j in conn.jobs()] == ["evaluate", "train"]
    blocker.cancel()
    scores = model.model_performance(frame, timeout=120)
    assert "d_real" in scores and model.metrics["d_real"] == scores["d_real"]
    assert [j.kind for j in conn.jobs()] == ["evaluate", "evaluate", "train"]


def test_a_finished_jobs_model_folder_goes_when_its_row_is_refused(client, tmp_path):
    """The database refuses the model row (a trigger): the job fails, and no model folder is left behind."""
    frame = upload(client)["id"]
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'genforge.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER refuse_models BEFORE INSERT ON models "
                          "BEGIN SELECT RAISE(ABORT, 'no models today'); END"))
    job = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": TINY_GAN}).json()
    failed = wait_for(client, job["id"], ("done", "failed"))
    assert failed["status"] == "failed" and "no models today" in failed["message"], failed["message"]
    assert str(tmp_path) not in failed["message"]  # the SQL and its parameters (paths) are not shown
    models = tmp_path / "data" / "models"
    assert list(models.iterdir()) == [] and client.get("/api/v1/models").json() == []
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_models"))
    engine.dispose()
    # Resuming the failed job records the model its finished training left in the checkpoint.
    assert client.post(f"/api/v1/jobs/{job['id']}/resume").status_code in (200, 202)
    resumed = wait_for(client, job["id"], ("done", "failed"))
    assert resumed["status"] == "done", resumed["message"]
    assert resumed["history"] == failed["history"]  # not trained again
    again = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": TINY_GAN}).json()
    done = wait_for(client, again["id"], ("done", "failed"))
    assert done["status"] == "done", done["message"]
    assert sorted(p.name for p in models.iterdir()) == sorted([resumed["model_id"], done["model_id"]])


def test_a_model_of_a_job_that_moved_on_is_not_kept(tmp_path, saved_gan):
    """add_model with the job's final update: a job no longer running under that attempt keeps nothing."""
    import shutil

    settings = settings_for(tmp_path / "data")
    settings.make_dirs()
    repo = Repository(Database(settings.database_url), settings)
    row = repo.add_job("train", "gan", "frame-x", {}, epochs=1)
    staged = repo.staging(".pending-") / saved_gan.name
    shutil.copytree(saved_gan, staged)
    values = {"algo": "gan", "parameters": {}, "source": "job", "path": "ignored"}
    with pytest.raises(JobGone):  # the job is queued, not running under attempt 1
        repo.add_model("gan-moved-on", staged, values, JobEnd(row.id, 1, {"status": "done"}))
    assert not (settings.models_dir / "gan-moved-on").exists() and not staged.exists()
    assert repo.find(JobRow, row.id).status == "queued"
    assert repo.sweep_staging() == 1 and list(settings.models_dir.iterdir()) == []  # the empty .pending- folder


def test_half_written_model_folders_are_swept_at_startup(make_client, tmp_path):
    models = tmp_path / "data" / "models"
    (models / ".pending-abc" / "gan-x").mkdir(parents=True)
    (models / ".upload-def").mkdir()
    (models / "kept-by-someone").mkdir()  # only genforge's own staging folders are removed
    make_client()
    assert sorted(p.name for p in models.iterdir()) == ["kept-by-someone"]


def test_import_options_are_checked_by_one_validator(client):
    """The JSON import, the multipart upload and direct callers give the same answer for the same option."""
    for field, value in (("channels", 2), ("image_size", 0), ("image_size", 4096), ("on_error", "ignore")):
        as_json = client.post("/api/v1/frames", json={"source": "digits", field: value})
        as_form = client.post("/api/v1/frames", files={"file": ("t.npz", npz_bytes())}, data={field: str(value)})
        assert as_json.status_code == as_form.status_code == 422, (as_json.text, as_form.text)
        assert as_json.json()["detail"] == as_form.json()["detail"] and field in as_form.json()["detail"]
        with pytest.raises(ApiError, match=field):
            import_options({field: value})
    with pytest.raises(ApiError, match="unknown import options"):
        import_options({"colour": "red"})
    assert import_options({"image_size": "4", "channels": "3", "on_error": "raise"}, form=True) == {
        "image_size": 4, "channels": 3}
    frame = upload(client, image_size=4, channels=3, on_error="skip")
    assert (frame["height"], frame["width"], frame["channels"]) == (4, 4, 3)
