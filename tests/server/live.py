"""A real ``genforge start`` in a subprocess on a free port, for the tests that need a real HTTP server
(kill-and-resume, the standard Open Inference Protocol clients)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.conftest import free_port  # noqa: F401 - imported from here by the server tests



def start_server(data: Path, port: int, log: Path, *, db_url: str | None = None, api_key: str = "k",
                 max_jobs: int = 1) -> subprocess.Popen:
    """Start the server and wait until its liveness route answers (the log is appended to ``log``)."""
    command = [sys.executable, "-m", "genforge", "start", "--port", str(port), "--data-dir", str(data),
               "--max-jobs", str(max_jobs), "--api-key", api_key, "--preload", "none", "--log-level", "warning"]
    if db_url:
        command += ["--db", db_url]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the server did not start: {log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
