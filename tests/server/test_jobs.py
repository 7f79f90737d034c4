"""Training jobs: parameter schemas, validation, worker processes, the queue, progress, SSE, cancel, resume."""

from __future__ import annotations

import json
import time

import numpy as np

from .conftest import DATABASES, TINY_GAN, upload, wait_for

EPOCHS = 30  # the long job: long enough to cancel mid-run

pytestmark = DATABASES  # every scenario on SQLite and on PostgreSQL


def test_estimators_list_every_algorithm_with_its_parameter_schema(client):
    estimators = {e["algo"]: e for e in client.get("/api/v1/estimators").json()}
    assert {"gan", "vae", "cnn"} <= set(estimators)
    assert estimators["gan"]["generator"] and not estimators["cnn"]["generator"]
    params = {p["name"]: p for p in estimators["gan"]["parameters"]}
    assert params["epochs"]["type"] == "int" and params["epochs"]["min"] == 1
    assert "hinge" in params["loss"]["choices"] and params["loss"]["help"]
    assert "run_dir" not in params and "verbose" not in params  # set by the server
    assert client.get("/api/v1/estimators/vae").json()["name"] == "VAEEstimator"
    assert client.get("/api/v1/estimators/nope").status_code == 404


def test_invalid_jobs_are_refused_with_a_422_naming_the_field(client):
    frame = upload(client)["id"]

    def post(**body):
        return client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, **body})

    cases = [
        (post(parameters={"epocs": 2}), "epocs"),
        (post(parameters={"epochs": "many"}), "epochs"),
        (post(parameters={"loss": "nope"}), "loss"),
        (post(parameters={"run_dir": "/tmp/x"}), "run_dir"),
        (post(parameters={"checkpoint": "no-such-model"}), "checkpoint"),
        (post(algo="flow-matching"), "algo"),
        (client.post("/api/v1/jobs", json={"algo": "gan"}), "training_frame"),
        (post(parameters={"epochs": 0}), "epochs"),
    ]
    for response, field in cases:
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"], response.text
    assert post(training_frame="frame-missing").status_code == 404
    unlabelled = client.post("/api/v1/frames", files={"file": ("u.npy", _npy(np.zeros((16, 8, 8), np.uint8)))}).json()
    conditional = post(training_frame=unlabelled["id"], parameters={"conditional": True})
    assert conditional.status_code == 422 and "labels" in conditional.json()["detail"]
    assert client.get("/api/v1/jobs").json() == []  # nothing was queued


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_queue_progress_cancel_resume_failure_and_events(client, tmp_path):
    """max_jobs=1: later jobs queue behind the first; the API stays fast while a worker trains; cancel stops
    the worker within seconds and keeps its checkpoint; a failing job says why; resume finishes from the
    checkpoint; SSE streams the snapshots to the end."""
    frame = upload(client)["id"]
    long_job = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                 "parameters": {**TINY_GAN, "epochs": EPOCHS}})
    assert long_job.status_code == 201 and long_job.json()["status"] == "queued"
    long_id = long_job.json()["id"]
    # No such device here: this worker fails, and the job says why.
    failing_id = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                   "parameters": {**TINY_GAN, "device": "cuda:7"}}).json()["id"]
    dropped_id = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                   "parameters": TINY_GAN}).json()["id"]
    running = wait_for(client, long_id, ("running",), check=lambda j: j["epoch"] >= 1)
    assert 0 < running["progress"] < 1 and running["images_per_sec"] > 0 and running["history"]
    assert client.get(f"/api/v1/jobs/{failing_id}").json()["status"] == "queued"  # max_jobs=1
    assert [j["id"] for j in client.get("/api/v1/jobs", params={"status": "queued"}).json()] == [dropped_id, failing_id]

    latencies = []
    for _ in range(10):  # training happens in another process: requests are not held up
        started = time.perf_counter()
        assert client.get("/api/v1/jobs").status_code == 200
        latencies.append(time.perf_counter() - started)
    assert sorted(latencies)[5] < 0.5, latencies

    assert client.post(f"/api/v1/jobs/{dropped_id}/cancel").json()["status"] == "cancelled"  # never started
    started = time.monotonic()
    cancelled = client.post(f"/api/v1/jobs/{long_id}/cancel").json()
    assert time.monotonic() - started < 10
    assert cancelled["status"] == "cancelled" and "checkpoint" in cancelled["message"]
    run_dir = tmp_path / "data" / "runs" / long_id
    assert (run_dir / "checkpoint" / "model.json").is_file()
    kept = len(json.loads((run_dir / "checkpoint" / "model.json").read_text())["history"])
    assert kept >= 1
    assert client.post(f"/api/v1/jobs/{long_id}/cancel").status_code == 409
    assert client.delete(f"/api/v1/frames/{frame}").status_code == 409  # the failing job still needs it

    resumed = client.post(f"/api/v1/jobs/{long_id}/resume").json()
    assert resumed["status"] in ("queued", "running")  # the free slot may take it before the failing job
    assert resumed["status"] == "running" or f"epoch {kept}" in resumed["message"]
    failed = wait_for(client, failing_id, ("failed", "done"))
    assert failed["status"] == "failed" and failed["message"] and "Traceback" not in failed["message"]

    done = wait_for(client, long_id, ("done", "failed"), timeout=120)
    assert done["status"] == "done", done["message"]
    assert [row["epoch"] for row in done["history"]] == list(range(1, EPOCHS + 1))  # continued, nothing lost or redone
    events = client.get(f"/api/v1/jobs/{long_id}/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    snapshots = [json.loads(line[6:]) for line in events.text.splitlines() if line.startswith("data: ")]
    assert snapshots[-1]["status"] == "done" and snapshots[-1]["model_id"] == done["model_id"]
    assert client.post(f"/api/v1/jobs/{long_id}/resume").status_code == 409
    model = client.get(f"/api/v1/models/{done['model_id']}").json()
    assert model["job_id"] == long_id and len(model["history"]) == EPOCHS
    assert client.get(f"/api/v1/jobs/{long_id}/samples.png").content[:4] == b"\x89PNG"
    assert client.delete(f"/api/v1/jobs/{long_id}").status_code == 204
    assert client.get(f"/api/v1/models/{done['model_id']}").status_code == 200  # the model stays
