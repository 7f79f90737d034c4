"""Training throughput in one process against N processes under torchrun + DDP (same global batch).

    .venv/bin/python benchmarks/bench_ddp.py                     # fashion-mnist:test, dcgan, 1 vs 2 processes
    .venv/bin/python benchmarks/bench_ddp.py --nproc 4 --device cuda --batch-size 256

Each run goes through the real command line (``genforge train``, then ``genforge train --nproc N``) and
the figure is the images/s of the last epoch recorded in the saved model's history (process start-up and
the first epoch's warm-up left out). With N processes each takes batch_size / N images per step, so both
runs optimise the same global batch. On the CPU, one process uses every core and N processes use
cores / N threads each; on the CPU a one-process, one-thread run is measured as well.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(nproc: int, args: argparse.Namespace, out: Path, threads: int | None = None) -> tuple[float, float]:
    per_rank = args.batch_size // nproc
    command = [sys.executable, "-m", "genforge", "train", "--algo", "gan", "--frame", args.frame,
               "--out", str(out), "--epochs", str(args.epochs), "--batch-size", str(per_rank), "--seed", "1",
               "--architecture", args.architecture, "--width", str(args.width), "--latent-dim", "32",
               "--device", args.device, "--verbose", "false", "--run-dir", str(out / "run")]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    if nproc > 1:
        command[4:4] = ["--nproc", str(nproc)]
        if args.device == "cpu":
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    started = time.monotonic()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    (folder,) = [p for p in out.iterdir() if p.name != "run"]
    history = json.loads((folder / "model.json").read_text())["history"]
    return float(history[-1]["images_per_sec"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", default="fashion-mnist:test")
    parser.add_argument("--architecture", default="dcgan")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (split over the processes)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"{args.frame}, {args.architecture} width {args.width}, global batch {args.batch_size}, "
          f"{args.epochs} epochs, device {args.device}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    runs = [(1, None), (args.nproc, None)]
    if args.device == "cpu":  # one process with one thread too: shows what threads vs processes buy
        runs.insert(1, (1, 1))
    for nproc, threads in runs:
        with tempfile.TemporaryDirectory() as tmp:
            rate, wall = run(nproc, args, Path(tmp), threads)
        label = f"processes={nproc}" + (f", threads={threads}" if threads else "")
        print(f"{label:<24} {rate:8.1f} images/s (last epoch), {wall:6.1f} s wall including start-up", flush=True)


if __name__ == "__main__":
    main()
