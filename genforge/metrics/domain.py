"""Domain evaluators: CNN classifiers trained on a built-in dataset, shipped as package data.

Each lives in ``genforge/metrics/evaluators/<dataset>/`` as a saved CNNEstimator (``model.json`` +
``weights.safetensors``) next to ``record.json``: how it was trained (parameters, seed, epochs, seconds,
command, date) and its accuracy on the dataset's test split. ``genforge evaluator train --frame NAME``
re-trains one (into the package folder, or ``--out``).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from genforge._version import __version__
from genforge.errors import DataError, ParameterError
from genforge.frame import Frame

EVALUATORS_DIR = Path(__file__).resolve().parent / "evaluators"
RECORD_FILE = "record.json"

# How each built-in evaluator is trained: the training frame, the frame its accuracy is measured on
# (a held-out split), and the CNNEstimator parameters. Small nets: the weights stay around 1 MB.
RECIPES: dict[str, dict[str, Any]] = {
    "fashion-mnist": {
        "train": "fashion-mnist:train", "test": "fashion-mnist:test",
        "params": {"architecture": "deep", "width": 32, "dense": 128, "dropout": 0.25, "epochs": 3,
                   "batch_size": 128, "lr": 2e-3, "lr_schedule": "cosine", "seed": 0},
    },
    "digits": {
        # digits has no official test split: a fixed 80/20 split of its 1,797 images.
        "train": "digits", "test": None, "split": 0.8, "split_seed": 0,
        "params": {"architecture": "small", "width": 16, "dense": 64, "dropout": 0.1, "epochs": 40,
                   "batch_size": 32, "lr": 2e-3, "lr_schedule": "cosine", "seed": 0},
    },
}


def builtin_evaluators() -> list[str]:
    """Names of the evaluators that ship with this package (folders holding a record.json)."""
    if not EVALUATORS_DIR.is_dir():
        return []
    return sorted(p.name for p in EVALUATORS_DIR.iterdir() if (p / RECORD_FILE).is_file())


def evaluator_folder(name: str) -> Path:
    """The package folder of the built-in evaluator ``name`` (``fashion-mnist:test`` counts as ``fashion-mnist``)."""
    key = _dataset_key(name)
    folder = EVALUATORS_DIR / key
    if not (folder / RECORD_FILE).is_file():
        known = ", ".join(builtin_evaluators()) or "none"
        raise ParameterError(
            f"There is no built-in evaluator {name!r} (built-in: {known}); train one with "
            f"`genforge evaluator train --frame {key}`, or pass a saved CNNEstimator folder or Inception weights."
        )
    return folder


def read_record(folder: str | Path) -> dict:
    """The evaluator's training record (empty for a plain saved CNNEstimator without one)."""
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def match_evaluator(frame: Frame) -> str | None:
    """The built-in evaluator whose images have ``frame``'s shape (and class names, when it has labels)."""
    for name in builtin_evaluators():
        record = read_record(EVALUATORS_DIR / name)
        if tuple(record.get("image_shape", ())) != frame.image_shape:
            continue
        if frame.class_names and record.get("class_names") and list(frame.class_names) != record["class_names"]:
            continue
        return name
    return None


def train_evaluator(dataset: str, out: str | Path | None = None, epochs: int | None = None,
                    verbose: bool = True, command: str | None = None, **params: Any) -> Path:
    """Train the domain evaluator of a built-in dataset and write it (model, weights, record.json).

    ``out`` is the folder to write into (default: the package's ``evaluators/<dataset>``, replaced).
    ``epochs`` and ``params`` override the recipe's CNNEstimator parameters. Returns the folder.
    """
    import torch

    from genforge.artifacts import save_model
    from genforge.data import import_file
    from genforge.estimators.cnn import CNNEstimator

    key = _dataset_key(dataset)
    if key not in RECIPES:
        raise ParameterError(f"No evaluator recipe for {dataset!r}; built-in recipes: {', '.join(sorted(RECIPES))}.")
    recipe = RECIPES[key]
    settings = {**recipe["params"], **params, "verbose": verbose}
    if epochs is not None:
        settings["epochs"] = int(epochs)
    frame = import_file(recipe["train"])
    if recipe["test"] is None:
        train, test = frame.split_frame([recipe["split"]], seed=recipe["split_seed"])
        test_name = f"{recipe['train']} (held-out {1 - recipe['split']:.0%}, split seed {recipe['split_seed']})"
    else:
        train, test = frame, import_file(recipe["test"])
        test_name = recipe["test"]
    started = time.monotonic()
    model = CNNEstimator(**settings).train(training_frame=train)
    seconds = time.monotonic() - started
    performance = model.model_performance(test)
    target = Path(out) if out is not None else EVALUATORS_DIR / key
    with tempfile.TemporaryDirectory() as tmp:
        saved = save_model(model, tmp)
        target.mkdir(parents=True, exist_ok=True)
        for item in saved.iterdir():
            if item.is_file():
                shutil.copy2(item, target / item.name)
    record = {
        "dataset": key,
        "extractor": f"{key}-cnn",
        "training_frame": recipe["train"] if recipe["test"] else f"{recipe['train']} (80% split, seed {recipe['split_seed']})",
        "n_training": len(train),
        "test_frame": test_name,
        "n_test": len(test),
        "test_accuracy": round(performance["accuracy"], 4),
        "test_logloss": round(performance["logloss"], 4),
        "params": {k: v for k, v in settings.items() if k != "verbose"},
        "seed": settings.get("seed"),
        "epochs": len(model.scoring_history()),
        "seconds": round(seconds, 1),
        "image_shape": list(train.image_shape),
        "class_names": list(train.class_names or []),
        "feature_dim": int(settings.get("dense", 128)),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(model.compute_device),
        "command": command or f"genforge evaluator train --frame {key}",
        "genforge": __version__,
    }
    (target / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return target


def _dataset_key(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise DataError(f"an evaluator name must be a non-empty string, got {name!r}.")
    return name.split(":", 1)[0]
