"""Sample quality per CPU-minute on fashion-mnist: the default GANEstimator, the default VAEEstimator and a
plain hand-written PyTorch DCGAN (the TensorFlow DCGAN tutorial's networks), each trained for the same
wall-clock budget, then scored with the same packaged domain evaluator (fashion-mnist-cnn) on 10,000
samples against the 10,000 test images, with the 60,000 training images for memorization.

    python benchmarks/bench_quality.py                 # 10 minutes each (30+ minutes in all)
    python benchmarks/bench_quality.py --minutes 1     # a quick look
    python benchmarks/bench_quality.py --only gan,dcgan --json results.json
    python benchmarks/bench_quality.py --only gan --minutes 2 --gan-params '{"width": 32}'   # tuning

Target: the default GANEstimator's FID at most one third of the plain DCGAN's, with every class covered.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from torch import nn

import genforge as gf

# ---------------------------------------------------------------------------------------------- plain DCGAN
# As in https://www.tensorflow.org/tutorials/generative/dcgan, written in PyTorch: what a user would write by
# hand. Keras' BatchNormalization momentum 0.99 is PyTorch's 0.01, its epsilon 1e-3; LeakyReLU slope 0.3.


class TutorialGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100) -> None:
        super().__init__()
        bn = dict(eps=1e-3, momentum=0.01)
        self.dense = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256, **bn),
                                   nn.LeakyReLU(0.3))
        self.convs = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128, **bn), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False), nn.BatchNorm2d(64, **bn),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.convs(self.dense(z).view(-1, 256, 7, 7))


class TutorialDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PlainDCGAN:
    """Trains the tutorial's DCGAN: BCE, Adam(2e-4, beta1 0.5), batch 128, reshuffled every epoch."""

    algo = "plain-dcgan"

    def __init__(self, seed: int = 0, batch_size: int = 128, latent_dim: int = 100) -> None:
        torch.manual_seed(seed)
        self.G, self.D = TutorialGenerator(latent_dim), TutorialDiscriminator()
        self.batch_size, self.latent_dim, self.seed = batch_size, latent_dim, seed
        self.model_id = "plain-dcgan"
        self.images_seen = 0

    def train(self, frame: gf.Frame, seconds: float) -> "PlainDCGAN":
        opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()
        data = torch.from_numpy(frame.to_numpy((-1, 1), channels_first=True))
        generator = torch.Generator().manual_seed(self.seed)
        started = time.monotonic()
        self.G.train()
        self.D.train()
        while time.monotonic() - started < seconds:
            order = torch.randperm(len(data), generator=generator)
            for start in range(0, len(data) - self.batch_size + 1, self.batch_size):
                real = data[order[start : start + self.batch_size]]
                fake = self.G(torch.randn(len(real), self.latent_dim))
                real_out, fake_out = self.D(real), self.D(fake.detach())
                d_loss = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                out = self.D(fake)
                g_loss = bce(out, torch.ones_like(out))
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                self.images_seen += len(real)
                if time.monotonic() - started >= seconds:
                    break
        return self

    @torch.no_grad()
    def predict(self, n: int, seed: int | None = None) -> gf.Frame:
        self.G.eval()
        z = torch.randn(int(n), self.latent_dim, generator=torch.Generator().manual_seed(seed or 0))
        images = torch.cat([self.G(z[i : i + 500]) for i in range(0, len(z), 500)])
        self.G.train()
        return gf.Frame.from_numpy(images.permute(0, 2, 3, 1).clamp(-1, 1).numpy(), name="plain-dcgan samples")


# ---------------------------------------------------------------------------------------------- the runs
def train_one(name: str, train: gf.Frame, seconds: float, seed: int, overrides: dict | None = None):
    """Train model ``name`` for ``seconds`` of wall clock; returns (model, images trained, training seconds)."""
    started = time.monotonic()
    if name == "dcgan":
        model = PlainDCGAN(seed=seed).train(train, seconds)
        return model, model.images_seen, time.monotonic() - started
    cls = gf.GANEstimator if name == "gan" else gf.VAEEstimator
    params = {"epochs": 100_000, "max_runtime_secs": seconds, "seed": seed, "verbose": False, **(overrides or {})}
    model = cls(**params).train(training_frame=train)
    elapsed = time.monotonic() - started
    history = model.scoring_history().rows
    steps = history[-1]["step"] if history else 0
    return model, steps * model.get_params()["batch_size"], elapsed


LABELS = {"gan": "GANEstimator (defaults)", "vae": "VAEEstimator (defaults)", "dcgan": "plain PyTorch DCGAN (TF tutorial)"}
COLUMNS = [("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.3f}"), ("precision", "precision", "{:.3f}"),
           ("recall", "recall", "{:.3f}"), ("density", "density", "{:.3f}"), ("coverage", "coverage", "{:.3f}"),
           ("memorization", "memorized", "{:.4f}"), ("class_coverage", "classes", "{:.2f}"),
           ("class_tv", "class TV", "{:.3f}"), ("images_per_sec", "train img/s", "{:.0f}"),
           ("images_trained", "images", "{:,}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="Training budget per model (wall clock).")
    parser.add_argument("--samples", type=int, default=10_000, help="Generated images scored per model.")
    parser.add_argument("--only", default="gan,vae,dcgan", help="Comma-separated subset of gan, vae, dcgan.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="Also write the full scores to this JSON file.")
    parser.add_argument("--gan-params", default=None,
                        help='JSON of GANEstimator parameters to change, for tuning, e.g. \'{"width": 32}\'.')
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gan_params = json.loads(args.gan_params) if args.gan_params else {}
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(LABELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(LABELS)}")

    train = gf.import_file("fashion-mnist:train")
    test = gf.import_file("fashion-mnist:test")
    extractor = gf.metrics.builtin_extractor("fashion-mnist")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; budget {args.minutes:g} min per model; extractor {extractor.name} "
          f"(test accuracy {extractor.record.get('test_accuracy')}); {args.samples:,} samples vs {test!r}")
    reference = gf.metrics.extract(test, extractor, "reference")  # the same for every model: extracted once
    threshold = None  # memorization threshold, calibrated (test -> train distances) with the first model
    if gan_params:
        LABELS["gan"] = "GANEstimator " + json.dumps(gan_params)[:24]
    results = {}
    for name in names:
        model, images, seconds = train_one(name, train, args.minutes * 60, args.seed, gan_params if name == "gan" else None)
        started = time.monotonic()
        generated = model.predict(args.samples, seed=args.seed)
        scores = gf.metrics.evaluate(generated, reference, extractor=extractor, training=train,
                                     memorization_threshold=threshold, pairs_path=f"bench_quality_{name}_pairs.png")
        threshold = scores["memorization_threshold"]
        generated.head(64).to_png(f"bench_quality_{name}_samples.png", force=True)  # a re-run replaces its own grids
        scores.update({"images_trained": int(images), "train_seconds": round(seconds, 1),
                       "images_per_sec": images / max(seconds, 1e-9), "score_seconds": round(time.monotonic() - started, 1),
                       "load_after": round(os.getloadavg()[0], 1)})
        results[name] = scores
        print(f"{LABELS[name]}: FID {scores['fid']:.2f} after {images:,} images in {seconds:.0f} s "
              f"(scored in {scores['score_seconds']:.0f} s, load {scores['load_after']})", flush=True)

    print()
    print(f"{'model':<36}" + "".join(f"{title:>12}" for _, title, _ in COLUMNS))
    for name, scores in results.items():
        cells = "".join(f"{fmt.format(scores[key]):>12}" for key, _, fmt in COLUMNS)
        print(f"{LABELS[name]:<36}{cells}")
    if "gan" in results and "dcgan" in results:
        ratio = results["gan"]["fid"] / results["dcgan"]["fid"]
        every = results["gan"]["class_coverage"] == 1.0
        print(f"\nFID GANEstimator / plain DCGAN = {ratio:.3f} (target <= 0.333: {'met' if ratio <= 1 / 3 else 'NOT met'}); "
              f"every class covered: {every}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"minutes": args.minutes, "samples": args.samples, "results": results}, handle, indent=2,
                      default=float)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
