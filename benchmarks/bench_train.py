"""Training throughput of genforge's loop against a plain hand-written PyTorch loop.

Both train the identical networks (the default GANEstimator's dcgan G and D), loss (hinge), optimizers,
EMA and batch size on the same 28x28 images, in this one process, alternating so that machine noise hits
both alike. Prints images/s of each and their ratio (target >= 1.0: the framework costs nothing), then
sampling throughput for 10,000 images.

    python benchmarks/bench_train.py [--steps 60] [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import genforge as gf
from genforge.losses import get_loss
from genforge.nets import build_discriminator, build_generator
from genforge.training.ema import make_ema, update_ema


def load_images(count: int) -> gf.Frame:
    try:
        from genforge.data import import_file

        return import_file("fashion-mnist:train").head(count)
    except Exception:  # no dataset here: random 28x28 images exercise the same code
        rng = np.random.default_rng(0)
        return gf.Frame.from_numpy(rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))


def plain_loop(frame: gf.Frame, steps: int, batch_size: int, seed: int) -> float:
    """What a user would write by hand: same nets, loss, Adam settings and EMA. Returns images/s."""
    torch.manual_seed(seed)
    shape = (1, 28, 28)
    G = build_generator("dcgan", latent_dim=100, image_shape=shape, width=32)
    D = build_discriminator("dcgan", image_shape=shape, width=32, spectral_norm=True)
    G_ema = make_ema(G)
    opt_g = torch.optim.Adam(G.parameters(), lr=4e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))
    loss = get_loss("hinge")
    data = torch.from_numpy(frame.to_numpy()).permute(0, 3, 1, 2).contiguous()
    started = time.perf_counter()
    for step in range(steps):
        index = torch.randint(0, len(data), (batch_size,))
        real = data[index].float() / 127.5 - 1
        z = torch.randn(batch_size, 100)
        with torch.no_grad():
            fake = G(z)
        d_loss = loss.discriminator_loss(D(real), D(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        z = torch.randn(batch_size, 100)
        g_loss = loss.generator_loss(D(G(z)))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        update_ema(G_ema, G, 0.999, step)
    return steps * batch_size / (time.perf_counter() - started)


def genforge_loop(frame: gf.Frame, steps: int, batch_size: int, seed: int) -> tuple[float, gf.GANEstimator]:
    epochs = 1
    subset = frame.head(steps * batch_size)
    gan = gf.GANEstimator(epochs=epochs, batch_size=batch_size, seed=seed, verbose=False)
    started = time.perf_counter()
    gan.train(training_frame=subset)
    elapsed = time.perf_counter() - started  # includes set-up, grids and the checkpoint: all the user waits for
    return steps * batch_size / elapsed, gan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    frame = load_images(args.steps * args.batch_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {frame!r}")
    plain_loop(frame, 5, args.batch_size, 0)  # warm-up: first calls pay for allocator and kernel set-up
    plain, ours = [], []
    gan = None
    for repeat in range(args.repeats):
        plain.append(plain_loop(frame, args.steps, args.batch_size, repeat))
        rate, gan = genforge_loop(frame, args.steps, args.batch_size, repeat)
        ours.append(rate)
    best_plain, best_ours = max(plain), max(ours)
    print(f"{'loop':<22}{'images/s (best of ' + str(args.repeats) + ')':>26}")
    print(f"{'plain PyTorch':<22}{best_plain:>26.1f}")
    print(f"{'genforge':<22}{best_ours:>26.1f}")
    print(f"ratio genforge / plain: {best_ours / best_plain:.3f}")

    started = time.perf_counter()
    gan.predict(10_000, seed=0)
    seconds = time.perf_counter() - started
    print(f"sampling: 10,000 images in {seconds:.2f} s = {10_000 / seconds:,.0f} images/s")


if __name__ == "__main__":
    main()
