"""Searches run as jobs through the real app: the leaderboard fills as candidates finish, the leader is
served under the project name, and the trainings of a search (its own and its worker jobs') never
outnumber --max-jobs; a server that stops mid-search resumes it at its next start."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import DATABASES, upload, wait_for

pytestmark = pytest.mark.slow

# Two tiny candidates of one epoch each, scored on 16 samples with the built-in 8x8 (digits) evaluator.
TINY_AUTOML = {"max_runtime_secs": 300, "max_models": 2, "include_algos": ["gan", "vae"], "min_epochs": 1, "rungs": 1,
               "score_samples": 16, "seed": 1, "fixed_params": {"batch_size": 8}, "evaluator": "digits"}


def _watch(client, search_id: str, timeout: float = 240.0) -> tuple[dict, list[dict]]:
    """Poll the jobs until the search ends; returns it and every snapshot of the running jobs seen."""
    deadline, seen = time.monotonic() + timeout, []
    while True:
        jobs = client.get("/api/v1/jobs").json()
        seen.append([j for j in jobs if j["status"] == "running"])
        search = next(j for j in jobs if j["id"] == search_id)
        if search["status"] not in ("queued", "running"):
            return search, seen
        assert time.monotonic() < deadline, search
        time.sleep(0.2)


@DATABASES  # the study lives in the server's own database: SQLite, and PostgreSQL where the tests have one
def test_automl_job_fills_its_leaderboard_serves_its_leader_and_holds_one_slot(client):
    frame = upload(client)["id"]
    created = client.post("/api/v1/automl", json={"training_frame": frame, "project_name": "blobs", **TINY_AUTOML})
    assert created.status_code == 201, created.text
    search = created.json()
    assert search["kind"] == "automl" and search["job"]["kind"] == "automl" and search["project_name"] == "blobs"
    # --max-jobs 1: a training job started after the search waits until the search is done.
    train = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": {
        "epochs": 1, "batch_size": 8, "width": 8, "latent_dim": 8}}).json()["id"]
    job, seen = _watch(client, search["id"])
    assert job["status"] == "done", job["message"]
    assert all(len(running) <= 1 for running in seen)
    assert any([j["id"] for j in running] == [search["id"]] for running in seen)
    assert client.get(f"/api/v1/jobs/{train}").json()["status"] in ("queued", "running", "done")

    board = client.get(f"/api/v1/automl/{search['id']}/leaderboard").json()
    assert len(board["rows"]) == 2 and {r["algo"] for r in board["rows"]} == {"gan", "vae"}
    assert all(r["status"] == "ok" and r["fid"] is not None for r in board["rows"]), board
    fids = [r["fid"] for r in board["rows"]]
    assert fids == sorted(fids) and board["leader"] == board["rows"][0]["model_id"] == job["model_id"]
    for row in board["rows"]:  # every candidate's model is a server model of the search's job
        model = client.get(f"/api/v1/models/{row['model_id']}").json()
        assert model["job_id"] == search["id"] and model["algo"] == row["algo"]
        assert client.get(f"/api/v1/models/{row['model_id']}/samples.png", params={"n": 4}).status_code == 200
    assert "/tmp" not in json.dumps(board)  # no server path (the rows' model_path stays inside)

    done = client.get(f"/api/v1/automl/{search['id']}").json()
    assert done["served"]["model_id"] == board["leader"] and done["served"]["chosen"] is False
    assert done["job"]["result"]["leader"] == board["leader"] and done["job"]["result"]["models"] == 2
    meta = client.get("/v2/models/blobs").json()
    assert meta["name"] == "blobs" and meta["platform"] == f"genforge_{board['rows'][0]['algo']}"
    out = client.post("/v2/models/blobs/infer", json={"inputs": [], "parameters": {"seed": 3, "n": 2}})
    assert out.status_code == 200, out.text
    assert out.json()["outputs"][0]["shape"] == [2, 8, 8, 1]
    events = client.get(f"/api/v1/automl/{search['id']}/events").text
    last = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ")][-1]
    assert last["status"] == "done" and [r["candidate"] for r in last["rows"]] == [r["candidate"] for r in board["rows"]]

    # The other one becomes the one served; the search cannot be cancelled once done, but can be deleted.
    other = board["rows"][1]["model_id"]
    assert client.post(f"/api/v1/automl/{search['id']}/serve", json={"model_id": other}).json()["chosen"] is True
    assert client.get("/v2/models/blobs").json()["platform"] == f"genforge_{board['rows'][1]['algo']}"
    assert client.post(f"/api/v1/automl/{search['id']}/cancel").status_code == 409
    wait_for(client, train, ("done",))
    # Deleting the search removes its leaderboard and its Optuna study; its models stay.
    assert client.delete(f"/api/v1/jobs/{search['id']}").status_code == 204
    import optuna

    studies = optuna.get_all_study_summaries(client.app.state.ctx.db.url, include_best_trial=False)
    assert search["id"] not in {s.study_name for s in studies}
    assert client.get(f"/api/v1/models/{other}").status_code == 200


def test_grid_with_two_workers_stays_within_max_jobs(make_client):
    client = make_client(max_jobs=2)
    frame = upload(client)["id"]
    body = {"algo": "vae", "training_frame": frame, "workers": 2, "evaluator": "digits", "score_samples": 16,
            "parameters": {"epochs": 3, "batch_size": 8, "width": 16, "seed": 1},
            "hyper_params": {"beta": [1.0, 0.5], "lr": [1e-3, 2e-3]}, "grid_id": "grid-blobs"}
    created = client.post("/api/v1/grids", json=body)
    assert created.status_code == 201, created.text
    search = created.json()
    deadline = time.monotonic() + 120  # the search queues its worker job once its study exists: two trainings
    while not any(w["status"] == "running" for w in client.get(f"/api/v1/grids/{search['id']}").json()["workers"]):
        assert time.monotonic() < deadline and client.get(f"/api/v1/jobs/{search['id']}").json()["status"] == "running"
        time.sleep(0.2)
    extra = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": {
        "epochs": 1, "batch_size": 8, "width": 8, "latent_dim": 8}}).json()["id"]
    job, seen = _watch(client, search["id"])
    assert job["status"] == "done", job["message"]
    assert all(len(running) <= 2 for running in seen)  # the search, its worker and the extra job share 2 slots
    detail = client.get(f"/api/v1/grids/{search['id']}").json()
    assert len(detail["workers"]) == 1 and detail["workers"][0]["kind"] == "search-worker"
    assert detail["workers"][0]["parent"] == search["id"] and detail["workers"][0]["status"] == "done"
    board = client.get(f"/api/v1/grids/{search['id']}/leaderboard", params={"sort_by": "fid"}).json()
    combos = sorted((r["params"]["beta"], r["params"]["lr"]) for r in board["rows"])
    assert combos == sorted((beta, lr) for beta in (1.0, 0.5) for lr in (1e-3, 2e-3))  # each once
    assert len({r["model_id"] for r in board["rows"]}) == 4
    ready = client.get("/v2/models/grid-blobs/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True, (ready.text, job["message"], board["rows"])
    wait_for(client, extra, ("done",))


def test_a_server_stopped_mid_search_resumes_it_and_keeps_its_models(make_client, tmp_path):
    first = make_client()
    frame = upload(first)["id"]
    body = {**TINY_AUTOML, "max_models": 3, "min_epochs": 30, "training_frame": frame}
    search = first.post("/api/v1/automl", json=body).json()["id"]
    deadline = time.monotonic() + 180
    while not first.get(f"/api/v1/automl/{search}/leaderboard").json()["rows"]:
        assert time.monotonic() < deadline and first.get(f"/api/v1/jobs/{search}").json()["status"] == "running"
        time.sleep(0.2)
    kept = first.get(f"/api/v1/automl/{search}/leaderboard").json()["rows"]
    first.__exit__(None, None, None)  # the server stops while the next candidate trains
    assert len(kept) < 3
    second = make_client()
    queued = second.get(f"/api/v1/jobs/{search}").json()
    assert queued["status"] in ("queued", "running"), queued  # resumed at the start, nobody asked
    job, _ = _watch(second, search)
    assert job["status"] == "done", job["message"]
    board = second.get(f"/api/v1/automl/{search}/leaderboard").json()["rows"]
    assert len(board) == 3 and len({r["candidate"] for r in board}) == 3
    assert "(attempt 2)" in (tmp_path / "data" / "runs" / search / "worker.log").read_text()
    for row in kept:  # finished before the stop: not trained again, its model kept
        again = next(r for r in board if r["candidate"] == row["candidate"])
        assert again["updated"] == row["updated"] and again["model_id"] == row["model_id"]
        assert second.get(f"/api/v1/models/{row['model_id']}").status_code == 200
