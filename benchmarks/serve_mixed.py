"""The mixed load of bench_serve.py: ``concurrency`` clients for ``seconds``, each picking its next request
by weight from what users of the server do at once (inference, generation, listings, frame uploads and
deletes, a training job started and cancelled). Prints requests/s, p50/p99 per route, status counts and
errors, and the server's resident memory (VmRSS) before and after. Targets: zero errors, zero 5xx, memory
after within 20% of memory before (measured after one warm-up round of every route).
"""

from __future__ import annotations

import io
import random
import socket
import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

TINY_JOB = {"epochs": 50, "batch_size": 8, "width": 8, "latent_dim": 8, "seed": 1}


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def npz_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (64, 8, 8, 1), dtype=np.uint8),
             labels=rng.integers(0, 4, 64), class_names=np.asarray(["a", "b", "c", "d"]))
    return buffer.getvalue()


class Load:
    """One client's actions; each returns a list of (route, status, seconds, expected statuses)."""

    def __init__(self, client, model: str, latent: int, frame: str, rng: random.Random) -> None:
        self.client, self.model, self.frame, self.rng = client, model, frame, rng
        z = np.random.default_rng(0).standard_normal((1, latent)).astype(np.float32)
        self.infer_body = {"inputs": [{"name": "z", "datatype": "FP32", "shape": [1, latent], "data": z.ravel().tolist()}]}
        self.upload_data = npz_bytes(rng.randrange(1 << 30))

    def _call(self, route: str, method: str, path: str, expected=(200,), **kwargs):
        started = time.perf_counter()
        response = self.client.request(method, path, **kwargs)
        return route, response.status_code, time.perf_counter() - started, expected, response

    def infer(self):
        return [self._call("POST /v2/models/{m}/infer", "POST", f"/v2/models/{self.model}/infer", json=self.infer_body)[:4]]

    def generate(self):
        return [self._call("POST /api/v1/models/{m}/generate", "POST", f"/api/v1/models/{self.model}/generate",
                           json={"n": 4, "seed": self.rng.randrange(1000), "format": "png"})[:4]]

    def list_models(self):
        return [self._call("GET /api/v1/models", "GET", "/api/v1/models")[:4]]

    def list_frames(self):
        return [self._call("GET /api/v1/frames", "GET", "/api/v1/frames")[:4]]

    def list_jobs(self):
        return [self._call("GET /api/v1/jobs", "GET", "/api/v1/jobs")[:4]]

    def ready(self):
        return [self._call("GET /v2/health/ready", "GET", "/v2/health/ready")[:4]]

    def upload(self):
        *first, response = self._call("POST /api/v1/frames (upload)", "POST", "/api/v1/frames", expected=(201,),
                                      files={"file": ("bench.npz", self.upload_data)})
        out = [tuple(first)]
        if response.status_code == 201:
            frame = response.json()["id"]
            out.append(self._call("DELETE /api/v1/frames/{f}", "DELETE", f"/api/v1/frames/{frame}", expected=(204,))[:4])
        return out

    def job(self):
        *first, response = self._call("POST /api/v1/jobs", "POST", "/api/v1/jobs", expected=(201,),
                                      json={"algo": "gan", "training_frame": self.frame, "parameters": TINY_JOB})
        out = [tuple(first)]
        if response.status_code == 201:
            job = response.json()["id"]
            out.append(self._call("POST /api/v1/jobs/{j}/cancel", "POST", f"/api/v1/jobs/{job}/cancel")[:4])
        return out


# Relative weights of the next action.
MIX = {"infer": 30, "generate": 15, "list_models": 10, "list_frames": 10, "list_jobs": 10, "ready": 5,
       "upload": 8, "job": 2}


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run_concurrently(worker, concurrency: int) -> float:
    """Run ``worker(i)`` in ``concurrency`` threads at once; the seconds until the last one ends."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def mixed_load(url: str, model: str, latent: int, concurrency: int, seconds: float, headers: dict,
               pid: int | None) -> bool:
    """Run the mixed load; print its table; True when the targets are met."""
    import httpx

    def new_client() -> httpx.Client:
        # TCP_NODELAY as in bench_serve's infer scenarios (no Nagle / delayed-ACK stall on POSTs).
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        return httpx.Client(base_url=url, headers=headers, timeout=120, transport=transport)

    with new_client() as setup:
        response = setup.post("/api/v1/frames", files={"file": ("train.npz", npz_bytes(0))})
        response.raise_for_status()
        frame = response.json()["id"]
        warm = Load(setup, model, latent, frame, random.Random(0))
        for name in MIX:  # one round of every route: lazy imports and the model cache are not "growth"
            getattr(warm, name)()
    time.sleep(1.0)
    before = rss_mib(pid)

    records: list[tuple[str, int, float, tuple]] = []
    failures: list[str] = []
    lock = threading.Lock()
    names, weights = list(MIX), list(MIX.values())
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        mine, problems = [], []
        with new_client() as client:
            load = Load(client, model, latent, frame, rng)
            while time.perf_counter() < stop_at:
                action = rng.choices(names, weights)[0]
                try:
                    mine.extend(getattr(load, action)())
                except httpx.HTTPError as error:
                    problems.append(f"{action}: {error!r}")
        with lock:
            records.extend(mine)
            failures.extend(problems)

    elapsed = run_concurrently(worker, concurrency)

    with new_client() as client:  # stop what the load left running, so the memory is the server's own
        for job in client.get("/api/v1/jobs").json():
            if job["status"] in ("queued", "running"):
                client.post(f"/api/v1/jobs/{job['id']}/cancel")
    time.sleep(2.0)
    after = rss_mib(pid)

    by_route: dict[str, list] = defaultdict(list)
    for record in records:
        by_route[record[0]].append(record)
    errors = len(failures)
    server_errors = 0
    print(f"\nmixed load: {concurrency} clients for {seconds:g} s: {len(records)} requests, "
          f"{len(records) / elapsed:.1f} req/s")
    print(f"{'route':<36} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for route in sorted(by_route):
        rows = by_route[route]
        latencies = [r[2] for r in rows]
        statuses: dict[int, int] = defaultdict(int)
        for _, status, _, expected in rows:
            statuses[status] += 1
            errors += status not in expected
            server_errors += status >= 500
        shown = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
        print(f"{route:<36} {len(rows):>8} {len(rows) / elapsed:>7.1f} {1000 * statistics.median(latencies):>8.1f} "
              f"{1000 * _percentile(latencies, 0.99):>8.1f}  {shown}")
    for problem in failures[:5]:
        print(f"  transport error: {problem}")
    memory_ok = True
    if before is not None and after is not None:
        growth = (after - before) / before
        memory_ok = growth <= 0.20
        print(f"server memory (VmRSS): {before:.0f} MiB before, {after:.0f} MiB after ({100 * growth:+.1f}%)")
    else:
        print("server memory: not measured (pass --pid with --url)")
    ok = errors == 0 and server_errors == 0 and memory_ok
    print(f"errors: {errors}  5xx: {server_errors}  target (no errors, no 5xx, memory within 20%): "
          f"{'met' if ok else 'NOT met'}")
    return ok
