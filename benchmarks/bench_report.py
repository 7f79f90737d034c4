"""How long a model report takes, section by section, for 28x28 models on fashion-mnist.

Trains a default-sized GANEstimator and VAEEstimator briefly (``--train-images`` images, one epoch: the
report's cost does not depend on how good the model is), then writes ``model.report`` on ``--samples``
generated images against fashion-mnist:test (as many of its images) with fashion-mnist:train (60,000
images) for Copies, and prints the seconds of each section. The reference in the same run is one
``model_performance`` of the same model on the same number of samples (FID, KID, precision/recall,
memorization against the 60,000 training images): the report's ratio to it says what the extra sections cost.

    python benchmarks/bench_report.py                       # gan and vae, 2,000 samples, 2 threads
    python benchmarks/bench_report.py --only gan --samples 5000

Target (issue 15): on 2 cores, a report on 2,000 samples of a 28x28 model in under a minute.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import genforge as gf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="gan,vae", help="comma-separated: gan, vae")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--train-images", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train = gf.import_file("fashion-mnist:train")
    test = gf.import_file("fashion-mnist:test")
    models = {"gan": lambda: gf.GANEstimator(epochs=1, seed=1, verbose=False),
              "vae": lambda: gf.VAEEstimator(epochs=1, seed=1, verbose=False)}
    print(f"torch threads {torch.get_num_threads()}; {args.samples} samples; reference frame {test.name} "
          f"({len(test)} images); training frame {train.name} ({len(train)} images)")
    for algo in [a.strip() for a in args.only.split(",") if a.strip()]:
        with tempfile.TemporaryDirectory() as tmp:
            model = models[algo]().set_params(run_dir=str(Path(tmp) / "run"))
            model.train(training_frame=train.shuffle(0)[: args.train_images])
            started = time.monotonic()
            model.model_performance(test.shuffle(0)[: args.samples], n=args.samples, training_frame=train)
            reference = time.monotonic() - started
            started = time.monotonic()
            result = model.report(test, path=Path(tmp) / "report.html", samples=args.samples, training_frame=train)
            total = time.monotonic() - started
            size = (Path(tmp) / "report.html").stat().st_size
        seconds = result["report"]["seconds"]
        print(f"\n{algo}: report in {total:.1f} s ({size / 1e6:.1f} MB of HTML); model_performance on the same "
              f"samples {reference:.1f} s; ratio {total / reference:.2f}")
        for name, value in seconds.items():
            print(f"  {name:<12} {value:7.2f} s")
        print(f"  {'target':<12} {'met' if total < 60 else 'NOT met'} (under 60 s)")


if __name__ == "__main__":
    main()
