"""Sample quality per CPU-minute on fashion-mnist: the default GANEstimator, the default VAEEstimator, the
default DiffusionEstimator and a plain hand-written PyTorch DCGAN (the TensorFlow DCGAN tutorial's networks),
each trained for the same wall-clock budget, then scored with the same packaged domain evaluator
(fashion-mnist-cnn) on 10,000 samples against the 10,000 test images, with the 60,000 training images for
memorization. The diffusion row samples with ``--sampler`` (dpm++) in ``--steps`` (25) steps.

    python benchmarks/bench_quality.py                 # 10 minutes each (40+ minutes in all)
    python benchmarks/bench_quality.py --minutes 1     # a quick look
    python benchmarks/bench_quality.py --only gan,dcgan --json results.json
    python benchmarks/bench_quality.py --only gan --minutes 2 --gan-params '{"width": 32}'   # tuning
    python benchmarks/bench_quality.py --only diffusion --diffusion-params '{"width": 16}'    # tuning
    python benchmarks/bench_quality.py --sampling-table                # train diffusion, then the table
    python benchmarks/bench_quality.py --sampling-table --model models/diffusion-...   # a saved model's table

``--sampling-table`` trains the default DiffusionEstimator for ``--minutes`` (or loads the saved one that
``--model`` names), then times drawing ``--samples`` 28x28 images with each sampler at each of
``--table-steps`` (10, 25, 50) and scores each set's FID against the test images.

Targets: the default GANEstimator's FID at most one third of the plain DCGAN's, with every class covered;
the default DiffusionEstimator's FID below the VAE's and the plain DCGAN's, and 10,000 samples at 25 steps
in at most 120 s.
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
    cls = {"gan": gf.GANEstimator, "vae": gf.VAEEstimator, "diffusion": gf.DiffusionEstimator}[name]
    params = {"epochs": 100_000, "max_runtime_secs": seconds, "seed": seed, "verbose": False, **(overrides or {})}
    model = cls(**params).train(training_frame=train)
    return model, images_trained(model), time.monotonic() - started


def images_trained(model) -> int:
    """Images a genforge model has trained on: its optimisation steps times its batch size."""
    history = model.scoring_history().rows
    return (history[-1]["step"] if history else 0) * model.get_params()["batch_size"]


LABELS = {"gan": "GANEstimator (defaults)", "vae": "VAEEstimator (defaults)",
          "diffusion": "DiffusionEstimator (defaults)", "dcgan": "plain PyTorch DCGAN (TF tutorial)"}
SAMPLERS = ("ddpm", "ddim", "dpm++")
COLUMNS = [("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.3f}"), ("precision", "precision", "{:.3f}"),
           ("recall", "recall", "{:.3f}"), ("density", "density", "{:.3f}"), ("coverage", "coverage", "{:.3f}"),
           ("memorization", "memorized", "{:.4f}"), ("class_coverage", "classes", "{:.2f}"),
           ("class_tv", "class TV", "{:.3f}"), ("images_per_sec", "train img/s", "{:.0f}"),
           ("images_trained", "images", "{:,}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="Training budget per model (wall clock).")
    parser.add_argument("--samples", type=int, default=10_000, help="Generated images scored per model.")
    parser.add_argument("--only", default="gan,vae,diffusion,dcgan",
                        help="Comma-separated subset of gan, vae, diffusion, dcgan.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="Also write the full scores to this JSON file.")
    parser.add_argument("--gan-params", default=None,
                        help='JSON of GANEstimator parameters to change, for tuning, e.g. \'{"width": 32}\'.')
    parser.add_argument("--diffusion-params", default=None,
                        help='JSON of DiffusionEstimator parameters to change, for tuning, e.g. \'{"width": 16}\'.')
    parser.add_argument("--steps", type=int, default=25, help="Diffusion row: sampling steps.")
    parser.add_argument("--sampler", default="dpm++", choices=SAMPLERS, help="Diffusion row: the sampler.")
    parser.add_argument("--sampling-table", action="store_true",
                        help="Train the diffusion model only, then time and score every sampler at --table-steps.")
    parser.add_argument("--table-steps", default="10,25,50", help="Step counts of the sampling table.")
    parser.add_argument("--model", default=None,
                        help="Sampling table of this saved diffusion model (a gf.save_model folder) instead of "
                             "training one for --minutes.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gan_params = json.loads(args.gan_params) if args.gan_params else {}
    diffusion_params = json.loads(args.diffusion_params) if args.diffusion_params else {}
    overrides = {"gan": gan_params, "diffusion": diffusion_params}
    if args.model and not args.sampling_table:
        parser.error("--model names the saved model of a --sampling-table run; add --sampling-table")
    names = ["diffusion"] if args.sampling_table else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(LABELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(LABELS)}")

    train = gf.import_file("fashion-mnist:train")
    test = gf.import_file("fashion-mnist:test")
    extractor = gf.metrics.builtin_extractor("fashion-mnist")
    scope = f"the saved model {args.model}" if args.model else f"budget {args.minutes:g} min per model"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {scope}; extractor {extractor.name} "
          f"(test accuracy {extractor.record.get('test_accuracy')}); {args.samples:,} samples vs {test!r}")
    reference = gf.metrics.extract(test, extractor, "reference")  # the same for every model: extracted once
    threshold = None  # memorization threshold, calibrated (test -> train distances) with the first model
    if gan_params:
        LABELS["gan"] = "GANEstimator " + json.dumps(gan_params)[:24]
    if diffusion_params:
        LABELS["diffusion"] = "Diffusion " + json.dumps(diffusion_params)[:26]
    if args.sampling_table:
        sampling_table(args, train, reference, extractor, diffusion_params)
        return
    results = {}
    for name in names:
        model, images, seconds = train_one(name, train, args.minutes * 60, args.seed, overrides.get(name))
        started = time.monotonic()
        options = {"steps": args.steps, "sampler": args.sampler} if name == "diffusion" else {}
        generated = model.predict(args.samples, seed=args.seed, **options)
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
    if "diffusion" in results:
        fid = results["diffusion"]["fid"]
        for other in ("vae", "dcgan", "gan"):
            if other in results:
                print(f"FID DiffusionEstimator {fid:.2f} vs {LABELS[other]} {results[other]['fid']:.2f}: "
                      f"{'below' if fid < results[other]['fid'] else 'NOT below'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"minutes": args.minutes, "samples": args.samples, "results": results}, handle, indent=2,
                      default=float)
        print(f"wrote {args.json}")


def sampling_table(args, train: gf.Frame, reference, extractor, overrides: dict) -> None:
    """Seconds to draw ``args.samples`` images per sampler and step count, with the FID of each set."""
    if args.model:  # a saved model: its own training, nothing trained here
        model = gf.load_model(args.model)
        if model.algo != "diffusion":
            raise SystemExit(f"--model {args.model} is a {model.algo} model; the sampling table needs a diffusion one.")
        images = images_trained(model)
        seconds = sum(row.get("seconds", 0.0) for row in model.scoring_history().rows)
    else:
        model, images, seconds = train_one("diffusion", train, args.minutes * 60, args.seed, overrides)
    print(f"{LABELS['diffusion']}: trained on {images:,} images in {seconds:.0f} s; sampling {args.samples:,} "
          f"{train.image_shape[0]}x{train.image_shape[1]} images per cell", flush=True)
    steps_list = [int(s) for s in args.table_steps.split(",") if s.strip()]
    rows = {}
    for sampler in SAMPLERS:
        for steps in steps_list:
            started = time.monotonic()
            generated = model.predict(args.samples, seed=args.seed, steps=steps, sampler=sampler)
            elapsed = time.monotonic() - started
            fid = gf.metrics.evaluate(generated, reference, extractor=extractor, metrics=("fid",))["fid"]
            rows[(sampler, steps)] = (elapsed, fid)
            print(f"  {sampler:>6} {steps:>3} steps: {elapsed:8.1f} s  FID {fid:8.2f}  (load {os.getloadavg()[0]:.1f})",
                  flush=True)
    print()
    print(f"{'sampler':<8}" + "".join(f"{f'{n} steps: s / FID':>24}" for n in steps_list))
    for sampler in SAMPLERS:
        print(f"{sampler:<8}" + "".join(f"{rows[(sampler, n)][0]:>14.1f} / {rows[(sampler, n)][1]:>7.2f}"
                                        for n in steps_list))
    if 25 in steps_list:
        per_10k = rows[("dpm++", 25)][0] * 10_000 / args.samples
        print(f"\n10,000 samples at 25 steps (dpm++), scaled from {args.samples:,}: {per_10k:.0f} s "
              f"(target <= 120 s: {'met' if per_10k <= 120 else 'NOT met'})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "minutes": None if args.model else args.minutes, "samples": args.samples,
                       "images_trained": images, "training_seconds": round(seconds, 1),
                       "table": {f"{s}@{n}": {"seconds": v[0], "fid": v[1]} for (s, n), v in rows.items()}},
                      handle, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
