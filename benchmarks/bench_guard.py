"""What the divergence guard costs a healthy GAN run: wall time guarded / unguarded (target < 1.03).

Both runs train the default GANEstimator (dcgan, width 32, hinge, EMA, batch 64) on the same 28x28 images
with the same seed, alternating guarded and unguarded in this one process so that machine noise hits both
alike; neither finds anything to roll back, so the difference is the guard's own work: reading the
running means it already gets, a finite-weights check, the collapse check's fixed-noise grid and the
in-memory snapshot after every epoch. Prints the median of each and their ratio, and the guard's work per
epoch measured on its own (which does not grow with the epoch's length, so longer epochs cost relatively less).

    python benchmarks/bench_guard.py [--images 3200] [--epochs 2] [--repeats 5] [--device auto] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import genforge as gf
from genforge.training.checkpoint import Snapshot
from genforge.training.guard import DivergenceGuard, GuardSettings
from genforge.training.loop import Callback

from bench_train import load_images  # noqa: E402  (the script's folder is on sys.path)


class EpochWork(Callback):
    """Times the guard's epoch-end work (checks and snapshot) on the live loop, outside the timed runs."""

    order = 30

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_end(self, loop, row) -> None:
        guard = DivergenceGuard(GuardSettings(), [])
        guard.real_spread = 0.3
        started = time.perf_counter()
        guard.findings(dict(loop.running_means or {}), {}, guard.sample_spread(loop), 1.0)
        guard.broken_networks(loop)
        Snapshot(loop)
        if loop.config.device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - started)


def train_seconds(frame: gf.Frame, guarded: bool, args: argparse.Namespace, callbacks=()) -> tuple[float, float, gf.GANEstimator]:
    """Wall and CPU seconds of one training run (CPU time: what this process itself spent, which other work
    on a shared machine disturbs far less than the wall clock)."""
    gan = gf.GANEstimator(epochs=args.epochs, batch_size=64, seed=1, verbose=False, device=args.device,
                          divergence_guard=guarded)
    started, cpu = time.perf_counter(), time.process_time()
    gan.train(training_frame=frame, callbacks=list(callbacks))
    return time.perf_counter() - started, time.process_time() - cpu, gan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200, help="training images (64 per step)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    frame = load_images(args.images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {frame!r}, {args.epochs} epochs of "
          f"{args.images // 64} steps, device {args.device}")
    train_seconds(frame.head(256), True, argparse.Namespace(**{**vars(args), "epochs": 1}))  # warm-up
    times: dict[tuple[str, bool], list[float]] = {(c, g): [] for c in ("wall", "cpu") for g in (True, False)}
    for repeat in range(args.repeats):
        for guarded in ((False, True) if repeat % 2 == 0 else (True, False)):
            wall, cpu, gan = train_seconds(frame, guarded, args)
            times["wall", guarded].append(wall)
            times["cpu", guarded].append(cpu)
            if guarded:
                assert gan.training_events() == [], gan.training_events()  # healthy: nothing to roll back
    print(f"{'run':<18}{'seconds (median of ' + str(args.repeats) + ')':>28}   all")
    for clock in ("wall", "cpu"):
        for guarded, name in ((False, "unguarded"), (True, "guarded")):
            values = times[clock, guarded]
            print(f"{name + ' ' + clock:<18}{statistics.median(values):>28.3f}   {', '.join(f'{t:.2f}' for t in values)}")
    for clock in ("wall", "cpu"):
        # Each repeat's two runs are next to each other in time: their ratio sees the same machine load.
        pairs = sorted(g / u for g, u in zip(times[clock, True], times[clock, False]))
        medians = statistics.median(times[clock, True]) / statistics.median(times[clock, False])
        print(f"ratio guarded / unguarded, {clock} time: {medians:.3f} (medians); paired {statistics.median(pairs):.3f} "
              f"(median of {len(pairs)}, range {pairs[0]:.3f}-{pairs[-1]:.3f}); target < 1.03")
    plain = statistics.median(times["wall", False])
    work = EpochWork()
    train_seconds(frame, False, args, [work])
    per_epoch = statistics.median(work.seconds)
    print(f"the guard's epoch-end work: {per_epoch * 1000:.1f} ms per epoch = {per_epoch / (plain / args.epochs):.2%} "
          f"of an epoch of {args.images // 64} steps here (a 60,000-image epoch has {60000 // 64})")


if __name__ == "__main__":
    main()
