"""A real ``genforge start`` killed with SIGKILL during a job: started again, it lists the job as
interrupted and resumes it; no stored frame or finished model is lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from .conftest import DATABASES, TINY_GAN, npz_bytes, zip_model
from .live import free_port, start_server, stop_server


def _wait(client: httpx.Client, job_id: str, statuses, check=lambda job: True, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses and check(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.mark.slow
@DATABASES
def test_sigkilled_server_restarts_with_interrupted_job_that_resumes(tmp_path, saved_gan, db_url):
    data, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    server = start_server(data, port, log, db_url=db_url)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": "k"}, timeout=30)
        frame = client.post("/api/v1/frames", files={"file": ("tiny.npz", npz_bytes())}).json()["id"]
        model = client.post("/api/v1/models", files={"file": ("m.zip", zip_model(saved_gan))}).json()["id"]
        job = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                "parameters": {**TINY_GAN, "epochs": 30}}).json()["id"]
        running = _wait(client, job, ("running",), check=lambda j: j["epoch"] >= 1)
        worker_pid = int((data / "runs" / job / "worker.log").read_text().split()[1])
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 10  # the orphaned worker notices and exits
        while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{worker_pid}").exists() or "Z" in Path(f"/proc/{worker_pid}/stat").read_text().split()[2]

        server = start_server(data, port, log, db_url=db_url)
        interrupted = client.get(f"/api/v1/jobs/{job}").json()
        assert interrupted["status"] == "interrupted", interrupted
        assert interrupted["epoch"] >= running["epoch"] and "resume" in interrupted["message"]
        assert client.get(f"/api/v1/frames/{frame}").status_code == 200
        assert client.get(f"/api/v1/models/{model}").status_code == 200
        assert client.post(f"/api/v1/jobs/{job}/resume").json()["status"] in ("queued", "running")  # picked up at once
        done = _wait(client, job, ("done", "failed"))
        assert done["status"] == "done", done["message"]
        assert [row["epoch"] for row in done["history"]] == list(range(1, 31))
        assert client.get(f"/api/v1/models/{done['model_id']}").status_code == 200
    finally:
        stop_server(server)
