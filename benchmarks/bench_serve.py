"""Serving benchmark: requests/s and p50/p99 latency of ``POST /v2/models/{name}/infer`` through a real
``genforge start`` (uvicorn, one process), for 1 and 64 images per request at concurrency 1 and 16; then a
mixed load for the same time at concurrency 32 (see ``serve_mixed.py``: inference, generate, listings, frame
uploads and deletes, training jobs started and cancelled), with requests/s, p50/p99 per route, the error
count and the server's memory before and after.

    .venv/bin/python benchmarks/bench_serve.py                 # starts a server on a temporary data dir
    .venv/bin/python benchmarks/bench_serve.py --seconds 20 --mixed-only
    .venv/bin/python benchmarks/bench_serve.py --seconds 10 --url http://127.0.0.1:54321 --model ID [--pid PID]

The model is a default DCGAN generator (width 64, latent 100) for 28x28 grey images, trained one step on
random pixels: latency does not depend on what the weights learned. Targets on a CPU box: one 28x28 image
at p50 under 20 ms, and no error under load; under the mixed load no error and no 5xx, and the server's
resident memory after the run within 20% of what it was before it (after one warm-up round of each route).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from serve_mixed import mixed_load, run_concurrently  # beside this script in benchmarks/


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_model(folder: Path) -> Path:
    import genforge as gf

    rng = np.random.default_rng(0)
    frame = gf.Frame(rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8))
    gan = gf.GANEstimator(epochs=1, batch_size=64, seed=0, verbose=False, run_dir=str(folder / "run"))
    gan.train(training_frame=frame)
    return gf.save_model(gan, folder / "models")


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    import httpx

    command = [sys.executable, "-m", "genforge", "start", "--port", str(port), "--data-dir", str(data_dir),
               "--preload", "none", "--log-level", "warning"]
    # The log goes to a file: a pipe nobody reads would fill up under load and block the server.
    log = data_dir.parent / "server.log"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()[-2000:]}")
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def upload(url: str, folder: Path, headers: dict) -> str:
    import httpx

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("model.json", "weights.safetensors"):
            archive.write(folder / name, name)
    response = httpx.post(f"{url}/api/v1/models", files={"file": ("model.zip", buffer.getvalue())}, headers=headers,
                          timeout=60)
    response.raise_for_status()
    return response.json()["id"]


def body_for(batch: int, latent: int, seed: int) -> dict:
    z = np.random.default_rng(seed).standard_normal((batch, latent)).astype(np.float32)
    return {"inputs": [{"name": "z", "datatype": "FP32", "shape": [batch, latent], "data": z.ravel().tolist()}]}


def run(url: str, model: str, batch: int, concurrency: int, seconds: float, headers: dict, latent: int) -> dict:
    import httpx

    body = body_for(batch, latent, 0)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(_: int) -> None:
        # TCP_NODELAY, as load generators (wrk, hey) and browsers do: without it the request body waits on
        # Nagle's algorithm and the server's delayed ACK, which adds ~40 ms to every POST on Linux.
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with httpx.Client(base_url=url, headers=headers, timeout=60, transport=transport) as client:
            client.post(f"/v2/models/{model}/infer", json=body)  # warm the connection
            mine = []
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    response = client.post(f"/v2/models/{model}/infer", json=body)
                    ok = response.status_code == 200 and response.json()["outputs"][0]["shape"][0] == batch
                    problem = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    problem = repr(error)
                mine.append(time.perf_counter() - started)
                if problem:
                    with lock:
                        errors.append(problem)
            with lock:
                latencies.extend(mine)

    elapsed = run_concurrently(worker, concurrency)
    latencies.sort()
    return {"batch": batch, "concurrency": concurrency, "requests": len(latencies),
            "rps": len(latencies) / elapsed, "images_per_sec": len(latencies) * batch / elapsed,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan"),
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def infer_scenarios(url: str, model: str, seconds: float, headers: dict, latent: int) -> bool:
    """The v2 infer scenarios; True when the target is met."""
    print(f"{'images/req':>10} {'concurrency':>11} {'requests':>9} {'req/s':>9} {'images/s':>9} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    results = []
    for batch in (1, 64):
        for concurrency in (1, 16):
            r = run(url, model, batch, concurrency, seconds, headers, latent)
            results.append(r)
            print(f"{r['batch']:>10} {r['concurrency']:>11} {r['requests']:>9} {r['rps']:>9.1f} "
                  f"{r['images_per_sec']:>9.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>7}")
            if r["errors"]:
                print(f"  first error: {r['first_error']}")
    single = results[0]
    verdict = "met" if single["p50_ms"] < 20 and not any(r["errors"] for r in results) else "NOT met"
    print(f"target (1 image p50 < 20 ms at concurrency 1, no errors): {verdict}")
    return verdict == "met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument("--model", help="model id on --url (default: upload the benchmark model)")
    parser.add_argument("--api-key", default=os.environ.get("GENFORGE_API_KEY"))
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="clients of the mixed load")
    parser.add_argument("--mixed-only", action="store_true", help="run only the mixed load")
    parser.add_argument("--pid", type=int, help="the --url server's process id, to measure its memory")
    args = parser.parse_args()
    headers = {"X-API-Key": args.api_key} if args.api_key else {}

    tmp = Path(tempfile.mkdtemp(prefix="genforge-bench-serve-"))
    server = None
    try:
        url = args.url
        if url is None:
            port = _free_port()
            server = start_server(tmp / "data", port)
            url = f"http://127.0.0.1:{port}"
        model = args.model or upload(url, make_model(tmp), headers)
        import httpx

        meta = httpx.get(f"{url}/v2/models/{model}", headers=headers, timeout=30).json()
        latent = meta["inputs"][0]["shape"][1]
        print(f"genforge bench_serve: {url} model {model} ({meta['platform']}), output {meta['outputs'][0]['shape']}, "
              f"{args.seconds:g} s per scenario, {os.cpu_count()} CPUs")
        verdicts = []
        if not args.mixed_only:
            verdicts.append(infer_scenarios(url, model, args.seconds, headers, latent))
        pid = server.pid if server is not None else args.pid
        verdicts.append(mixed_load(url, model, latent, args.concurrency, args.seconds, headers, pid))
        verdict = "met" if all(verdicts) else "NOT met"
        return 0 if verdict == "met" else 1
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
