"""A real ``genforge start`` killed with SIGKILL during an AutoML search: started again, it resumes the
search from its study on its own; the candidates finished before the kill keep their rows and models and are
not trained again, and the search ends with every candidate once."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from .conftest import npz_bytes
from .live import free_port, start_server, stop_server
from .test_search_jobs import TINY_AUTOML


def _search(client: httpx.Client, search_id: str) -> dict:
    return client.get(f"/api/v1/automl/{search_id}").json()


@pytest.mark.slow
def test_sigkilled_server_resumes_the_search_and_keeps_finished_models(tmp_path):
    data, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    server = start_server(data, port, log)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": "k"}, timeout=30)
        frame = client.post("/api/v1/frames", files={"file": ("tiny.npz", npz_bytes())}).json()["id"]
        body = {**TINY_AUTOML, "max_models": 3, "min_epochs": 30, "training_frame": frame, "project_name": "tiny"}
        search = client.post("/api/v1/automl", json=body).json()["id"]
        deadline = time.monotonic() + 180
        while not (rows := client.get(f"/api/v1/automl/{search}/leaderboard").json()["rows"]):
            assert time.monotonic() < deadline and _search(client, search)["status"] in ("queued", "running")
            time.sleep(0.2)
        os.kill(server.pid, signal.SIGKILL)  # while the next candidate trains
        server.wait(timeout=10)
        assert len(rows) < 3

        server = start_server(data, port, log)
        assert _search(client, search)["status"] in ("queued", "running")  # nobody asked: it resumes
        deadline = time.monotonic() + 240
        while (done := _search(client, search))["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, done
            time.sleep(0.3)
        assert done["status"] == "done", done["message"]
        board = client.get(f"/api/v1/automl/{search}/leaderboard").json()["rows"]
        assert len(board) == 3 and len({r["candidate"] for r in board}) == 3
        for row in rows:
            again = next(r for r in board if r["candidate"] == row["candidate"])
            assert again["updated"] == row["updated"] and again["model_id"] == row["model_id"]
            assert client.get(f"/api/v1/models/{row['model_id']}").status_code == 200
        if done["leader"]:
            assert client.get("/v2/models/tiny/ready").json()["ready"] is True
        assert "(attempt 2)" in (data / "runs" / search / "worker.log").read_text()
    finally:
        stop_server(server)
