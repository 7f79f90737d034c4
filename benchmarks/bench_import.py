"""Import speed and memory: IDX (fashion-mnist train+test), a folder of PNGs, an MNIST-style CSV.

Run: .venv/bin/python benchmarks/bench_import.py [--png 10000] [--csv 10000]

Each case runs in a fresh Python process, so that its figures include what a user's first import pays
(PIL's plugin set-up, page faults) and so that peak memory is that case's alone. Peak memory is the
growth of the process's peak resident set during the import: resource.getrusage(RUSAGE_SELF).ru_maxrss
after the import minus the same before it (RSS, not tracemalloc, which slows PIL's allocation-heavy loop
and misses memory mapped pages). "best of 3" repeats the import in that process with warm caches.

Test data comes from Debian's dataset-fashion-mnist when installed, else from random pixels of the same
shapes (the table says which).

Targets on a 2-core machine: IDX 70k images < 2 s; PNG folder >= 5,000 images/s; CSV >= 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FASHION = Path("/usr/share/datasets/fashion-mnist")
TARGETS = {"idx": ("< 2 s", lambda r: r["seconds"] < 2.0),
           "png": (">= 5,000 img/s", lambda r: r["rate"] >= 5000),
           "csv": (">= 20,000 rows/s", lambda r: r["rate"] >= 20000),
           "png-cached": ("", lambda r: True)}


def _source_images(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``count`` 28x28 images and labels: fashion-mnist's test split, or random pixels."""
    path = FASHION / "t10k-images-idx3-ubyte.gz"
    if path.is_file():
        images = np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 28, 28)
        labels = np.frombuffer(gzip.open(FASHION / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
        reps = -(-count // len(images))
        return np.tile(images, (reps, 1, 1))[:count], np.tile(labels, reps)[:count], "fashion-mnist"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, 28, 28), np.uint8), rng.integers(0, 10, count, np.uint8), "random"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), compresslevel=6))


def prepare(work: Path, png_count: int, csv_count: int) -> dict[str, dict]:
    """Write the PNG folder and the CSV (and IDX files when fashion-mnist is missing) under ``work``."""
    from PIL import Image

    images, labels, origin = _source_images(max(png_count, csv_count))
    cases = {}
    if FASHION.is_dir() and (FASHION / "train-images-idx3-ubyte.gz").is_file():
        cases["idx"] = {"sources": [str(FASHION / "train-images-idx3-ubyte.gz"),
                                    str(FASHION / "t10k-images-idx3-ubyte.gz")], "origin": "fashion-mnist"}
    else:
        rng = np.random.default_rng(1)
        for split, n in (("train", 60000), ("t10k", 10000)):
            _write_idx(work / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
            _write_idx(work / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, np.uint8))
        cases["idx"] = {"sources": [str(work / "train-images-idx3-ubyte.gz"),
                                    str(work / "t10k-images-idx3-ubyte.gz")], "origin": "random"}
    folder = work / "png"
    for i in range(png_count):
        target = folder / str(labels[i]) / f"{i:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(target)
    cases["png"] = {"sources": [str(folder)], "origin": origin}
    cases["png-cached"] = {"sources": [str(folder)], "origin": origin, "cache_dir": str(work / "cache")}
    csv_path = work / "mnist.csv"
    with open(csv_path, "w") as f:
        f.write("label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n")
        for i in range(csv_count):
            f.write(f"{labels[i]}," + ",".join(map(str, images[i].ravel().tolist())) + "\n")
    cases["csv"] = {"sources": [str(csv_path)], "origin": origin}
    return cases


def run_case(spec: dict) -> dict:
    """In this (fresh) process: import the sources once, then twice more; report time, rate, memory."""
    from genforge.data import import_file

    options = {"cache_dir": spec["cache_dir"]} if spec.get("cache_dir") else {}
    if options:  # the cached case measures the second import, a cache hit
        for source in spec["sources"]:
            import_file(source, **options)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timings = []
    for _ in range(3):
        start, cpu_start = time.perf_counter(), time.process_time()
        frames = [import_file(source, **options) for source in spec["sources"]]
        timings.append(time.perf_counter() - start)
        if not timings[1:]:
            cpu = time.process_time() - cpu_start
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB on Linux
            count = sum(len(f) for f in frames)
        del frames
    return {"count": count, "seconds": timings[0], "best": min(timings), "rate": count / timings[0],
            "cpu": cpu, "peak_mib": peak_kib / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=int, default=10000, help="PNG files to write and import")
    parser.add_argument("--csv", type=int, default=10000, help="CSV rows to write and import")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; preparing data ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="genforge-bench-") as tmp:
        cases = prepare(Path(tmp), args.png, args.csv)
        rows = []
        for name in ("idx", "png", "png-cached", "csv"):
            spec = cases[name]
            out = subprocess.run([sys.executable, __file__, "--case", json.dumps(spec)],
                                 capture_output=True, text=True, check=True)
            rows.append((name, spec["origin"], json.loads(out.stdout.strip().splitlines()[-1])))

    load = os.getloadavg()[0]
    print(f"\n{'case':<11} {'data':<14} {'images':>7} {'first s':>8} {'cpu s':>6} {'best s':>7} {'images/s':>10} "
          f"{'peak RSS +MiB':>13}  target")
    for name, origin, r in rows:
        target, ok = TARGETS[name]
        verdict = f"{target} {'ok' if ok(r) else 'MISSED'}" if target else "(cache hit, memory map)"
        print(f"{name:<11} {origin:<14} {r['count']:>7} {r['seconds']:>8.3f} {r['cpu']:>6.3f} {r['best']:>7.3f} "
              f"{r['rate']:>10,.0f} {r['peak_mib']:>13.1f}  {verdict}")
    print("\nfirst s: wall time of the first import in a fresh process (cpu s: its CPU time); best s: best of")
    print(f"3 there; images/s from the first. Load average when done: {load:.1f} (other work slows wall times).")
    print("peak RSS +MiB: growth of ru_maxrss during the first import (not tracemalloc).")


if __name__ == "__main__":
    main()
