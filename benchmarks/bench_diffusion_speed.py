"""Denoiser speed of DiffusionEstimator UNet configurations on a 28x28 grayscale image, on this machine.

One sampling step is one denoiser evaluation per image, so 10,000 samples at 25 steps cost 250,000
evaluations. For each configuration this times evaluations per second (inference, chunks of ``--batch``
images) and prints the projected seconds for 10,000 samples at 25 steps and the speed against the first
row (the first default, before patches), measured in the same run, interleaved round by round so that a change
of machine load falls on every row alike.

    python benchmarks/bench_diffusion_speed.py
    python benchmarks/bench_diffusion_speed.py --seconds 5 --rounds 3 --threads 2

Target (issue 13): 10,000 samples at 25 steps in at most 120 s.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from genforge.estimators.diffusion import DIFFUSION_PARAMS
from genforge.nets.diffusion import Denoiser, build_unet, unet_config

SHAPE = (1, 28, 28)
DEFAULTS = {name: DIFFUSION_PARAMS[name].default for name in ("width", "channel_mults", "attention", "patch_size")}
CONFIGS = [
    {"width": 32, "channel_mults": [1, 2, 2], "attention": True, "patch_size": 1},  # the first default
    {"width": 32, "channel_mults": [1, 2, 2], "attention": False, "patch_size": 1},
    {"width": 16, "channel_mults": [1, 2], "attention": False, "patch_size": 1},
    {"width": 32, "channel_mults": [1, 2], "attention": True, "patch_size": 2},
    {"width": 32, "channel_mults": [1, 2], "attention": False, "patch_size": 2},
    {"width": 16, "channel_mults": [1, 2], "attention": False, "patch_size": 2},
    {"width": 64, "channel_mults": [1], "attention": False, "patch_size": 4},
]
if DEFAULTS not in CONFIGS:
    CONFIGS.append(DEFAULTS)


def denoiser(config: dict) -> Denoiser:
    cfg = unet_config(SHAPE, config["width"], config["channel_mults"], 1, config["attention"], 0, config["patch_size"])
    return Denoiser(build_unet(cfg), config["patch_size"]).eval()


def evaluations(net: Denoiser, batch: int, seconds: float) -> tuple[int, float]:
    """Images denoised in about ``seconds`` of repeated calls, and the seconds taken."""
    x, t = torch.randn(batch, *SHAPE), torch.full((batch,), 500)
    with torch.inference_mode():
        net(x, t)  # warm-up: first-call allocations and kernel choices
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            net(x, t)
            done += batch
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Timing per configuration and round.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds over every configuration.")
    parser.add_argument("--batch", type=int, default=256, help="Images per denoiser call (predict's chunk).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {SHAPE[1]}x{SHAPE[2]}x{SHAPE[0]}, batch {args.batch}")
    nets = [denoiser(config) for config in CONFIGS]
    done, spent = [0] * len(nets), [0.0] * len(nets)
    for _ in range(args.rounds):
        for i, net in enumerate(nets):
            images, seconds = evaluations(net, args.batch, args.seconds)
            done[i] += images
            spent[i] += seconds
    rates = [d / s for d, s in zip(done, spent)]
    print(f"{'width x channel_mults, attention, patch':<44}{'params':>9}{'evals/s':>10}{'10k@25 s':>10}{'vs first':>12}")
    for config, net, rate in zip(CONFIGS, nets, rates):
        label = (f"{config['width']} x {config['channel_mults']}, {'attn' if config['attention'] else 'no attn'}, "
                 f"patch {config['patch_size']}" + ("  (default)" if config == DEFAULTS else ""))
        params = sum(p.numel() for p in net.parameters())
        print(f"{label:<44}{params / 1e3:>8.0f}k{rate:>10.0f}{250_000 / rate:>10.0f}{rate / rates[0]:>11.2f}x")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
