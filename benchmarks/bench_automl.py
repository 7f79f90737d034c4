"""AutoML against the default GANEstimator for the same budget, on digits and fashion-mnist.

For each dataset: AutoML searches with ``--minutes`` of budget (candidates scored on a tenth of the
training split held out as the leaderboard frame), and the default GANEstimator trains for the same whole
budget on the same images, at the same time in a second process (each on ``--threads`` torch threads, 1 by
default: the two halves of a 2-core machine, so that both meet the same load; ``--sequential`` runs one
after the other). Both are then scored on the dataset's test split with the packaged domain evaluator
(``--score-samples`` generated images, the training images for memorization), as is every model on the
leaderboard, to see whether the leaderboard's order holds on data the search never saw.

    python benchmarks/bench_automl.py                              # 20 minutes per dataset (50+ minutes)
    python benchmarks/bench_automl.py --datasets digits --minutes 2 --json automl-digits.json

digits' test split is the 20% its evaluator was not trained on (split seed 0); fashion-mnist's is
fashion-mnist:test. Targets: the leader's test FID at most the default's on both datasets, and the Spearman
rank correlation of the leaderboard's FIDs with the test FIDs at least 0.8.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

import genforge as gf
from genforge.metrics import model_scores

EPOCHS = 100000  # the default GAN trains until its time is up


def splits(name: str) -> tuple[gf.Frame, gf.Frame, gf.Frame]:
    """(training, leaderboard, test) frames."""
    if name == "digits":
        train, test = gf.import_file("digits").split_frame([0.8], seed=0)  # the evaluator's own split
    else:
        train, test = gf.import_file("fashion-mnist"), gf.import_file("fashion-mnist:test")
    fit, board = train.split_frame([0.9], seed=1)
    return fit, board, test


def test_fid(model, test: gf.Frame, training: gf.Frame, samples: int) -> dict:
    scores = model_scores(model, test, n=samples, training=training, seed=0, strict=False)
    return {"fid": scores.get("fid"), "memorization": scores.get("memorization"), "recall": scores.get("recall")}


def train_default(name: str, budget: float, seed: int, threads: int, path: Path) -> float:
    """The default GANEstimator trained for the whole budget on the search's training images, saved at
    ``path``; returns its wall-clock seconds (also written beside it, for a process of its own)."""
    torch.set_num_threads(threads)
    fit, _, _ = splits(name)
    started = time.monotonic()
    default = gf.GANEstimator(seed=seed, epochs=EPOCHS, max_runtime_secs=budget, verbose=False).train(training_frame=fit)
    secs = time.monotonic() - started
    default.model_id = path.name
    gf.save_model(default, path.parent, force=True)
    path.with_suffix(".json").write_text(json.dumps({"secs": secs}))
    return secs


def run(name: str, minutes: float, seed: int, samples: int, search_samples: int, algos: list[str] | None,
        workdir: Path, sequential: bool) -> dict:
    budget = minutes * 60
    fit, board, test = splits(name)
    print(f"\n== {name}: {len(fit)} training, {len(board)} leaderboard, {len(test)} test images; "
          f"{minutes:g} min each{', one after the other' if sequential else ', side by side'}", flush=True)
    default_path = workdir / name / "default-gan"
    default_path.parent.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    side = None
    if not sequential:
        side = multiprocessing.get_context("spawn").Process(target=train_default,
                                                            args=(name, budget, seed, threads, default_path))
        side.start()
    started = time.monotonic()
    aml = gf.AutoML(max_runtime_secs=budget, seed=seed, project_name=f"bench_{name}", out=workdir / name,
                    include_algos=algos, score_samples=search_samples).train(training_frame=fit,
                                                                             leaderboard_frame=board)
    automl_secs = time.monotonic() - started
    leaderboard = aml.leaderboard
    print(repr(leaderboard), flush=True)

    if side is None:
        default_secs = train_default(name, budget, seed, threads, default_path)
    else:
        side.join()
        if side.exitcode != 0:
            raise SystemExit(f"the default GAN's process failed (exit code {side.exitcode})")
        default_secs = json.loads(default_path.with_suffix(".json").read_text())["secs"]
    default = gf.load_model(default_path)
    default_test = test_fid(default, test, fit, samples)

    rescored = []
    for row in leaderboard.rows:
        if row["model_path"] and isinstance(row["fid"], float):
            rescored.append({**{k: row[k] for k in ("model_id", "algo", "status", "fid", "epochs", "training_secs")},
                             "test": test_fid(gf.load_model(row["model_path"]), test, fit, samples)})
    pairs = [(r["fid"], r["test"]["fid"]) for r in rescored if r["test"]["fid"] is not None]
    rho = float(spearmanr(*zip(*pairs)).statistic) if len(pairs) >= 3 else float("nan")
    leader = leaderboard.best_row()
    leader_test = next((r["test"] for r in rescored if leader and r["model_id"] == leader["model_id"]), None)
    result = {
        "dataset": name, "minutes": minutes, "seed": seed, "score_samples": samples, "search_samples": search_samples,
        "threads": threads, "side_by_side": not sequential,
        "automl_secs": round(automl_secs, 1), "default_secs": round(default_secs, 1),
        "default": {"epochs": len(default.scoring_history()), **default_test},
        "leader": {**(leader or {}), "test": leader_test}, "leaderboard": json.loads(leaderboard.to_json()),
        "rescored": rescored, "spearman": rho,
    }
    print(f"{'model':<28} {'algo':<9} {'status':<10} {'epochs':>6} {'board FID':>10} {'test FID':>9}")
    for r in rescored:
        print(f"{r['model_id']:<28} {r['algo']:<9} {r['status']:<10} {r['epochs']:>6} {r['fid']:>10.3f} "
              f"{r['test']['fid']:>9.3f}")
    leader_fid = leader_test["fid"] if leader_test else float("nan")
    ratio = leader_fid / default_test["fid"] if default_test["fid"] else float("nan")
    print(f"{name}: leader {leader['model_id'] if leader else None} test FID {leader_fid:.3f} vs default GAN "
          f"{default_test['fid']:.3f} ({result['default']['epochs']} epochs): ratio {ratio:.3f} (target <= 1); "
          f"Spearman {rho:.3f} over {len(pairs)} models (target >= 0.8); search took {automl_secs:.0f} s, "
          f"the default {default_secs:.0f} s", flush=True)
    result["ratio"] = ratio
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,fashion-mnist")
    parser.add_argument("--minutes", type=float, default=20.0, help="budget of AutoML and of the default, each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--score-samples", type=int, default=2000, help="generated images per test score")
    parser.add_argument("--search-samples", type=int, default=1000, help="generated images per leaderboard score")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of each process; 0 = 1 side by side, else the cores the 1-minute load "
                             "average leaves idle (at least 1)")
    parser.add_argument("--sequential", action="store_true",
                        help="train the default GAN after the search rather than beside it")
    parser.add_argument("--include-algos", default=None, help="e.g. gan,vae (default: all installed)")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--keep", default=None, help="keep the searches' models in this folder")
    args = parser.parse_args()
    # On a shared machine more threads than idle cores is far slower than fewer (see bench_cnn.py): a GAN
    # epoch on digits took 24 s on 2 threads at load 8 and 1 s on one.
    cpus = os.cpu_count() or 1
    idle = max(1, min(cpus, cpus - round(os.getloadavg()[0])))
    torch.set_num_threads(args.threads or (idle if args.sequential else 1))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}")
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-automl-"))
    algos = args.include_algos.split(",") if args.include_algos else None
    try:
        results = [run(name, args.minutes, args.seed, args.score_samples, args.search_samples, algos, workdir,
                       args.sequential)
                   for name in args.datasets.split(",")]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\nsummary")
    for r in results:
        ok = r["ratio"] <= 1 and r["spearman"] >= 0.8 if not math.isnan(r["ratio"]) else False
        print(f"  {r['dataset']:<14} leader/default test FID {r['ratio']:.3f}  Spearman {r['spearman']:.3f}  "
              f"{'targets met' if ok else 'targets NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
