"""One unit of a search: train a candidate to its rung's epochs (resuming its checkpoint), score it, save it.

The candidate's run folder (``<out>/runs/c<i>``) holds its checkpoint, written every epoch: a promoted
candidate, or a unit re-run after its process died, continues from there (exact resume: weights,
optimizers, RNG, step counter, history). The scores are those of ``genforge.metrics.evaluate`` on
``score_samples`` generated images against the scoring frame (the leaderboard frame, else the validation
frame, else a held-out tenth of the training frame), with memorization measured against the training frame.

A candidate's ``status``: ``diverged`` (a loss or the FID became NaN or infinite), ``failed`` (any other
error: the reason is its message), ``collapsed`` (the samples hardly differ from one another: their pixel
spread is under ``COLLAPSE_RATIO`` of the real images'), ``memorizes`` (memorization above the search's
threshold) or ``ok``. None of them stops the search.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genforge.errors import DataError, TrainingError
from genforge.files import ReplacedWarning
from genforge.frame import Frame
from genforge.selection.frames import load_frame
from genforge.selection.leaderboard import COLUMNS

COLLAPSE_RATIO = 0.1


@dataclass
class Unit:
    """What to train: candidate ``candidate`` of algorithm ``algo`` with ``params`` to ``epochs`` epochs."""

    candidate: int
    rung: int
    algo: str
    params: dict
    epochs: int
    model_id: str
    seconds_left: float | None = None  # of the search's budget
    train_secs: float | None = None  # training seconds the candidate reaches at this rung (time rungs)
    trained_secs: float = 0.0  # training seconds the candidate had before this unit (earlier rungs)


@dataclass
class Context:
    """A process's view of the search: frames, the extractor and the reference features (made once)."""

    config: dict
    training: Frame
    validation: Frame | None
    reference: Frame
    _extractor: Any = field(default=None, repr=False)
    _reference_features: Any = field(default=None, repr=False)
    _memorization_threshold: float | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config: dict) -> "Context":
        frames = config["frames"]
        return cls.from_frames(config, load_frame(frames["training"]), load_frame(frames.get("validation")),
                               load_frame(frames.get("leaderboard")))

    @classmethod
    def from_frames(cls, config: dict, training: Frame, validation: Frame | None,
                    leaderboard: Frame | None) -> "Context":
        """Scoring on the leaderboard frame, else the validation frame, else a held-out tenth of the
        training frame (then not trained on)."""
        reference = leaderboard if leaderboard is not None else validation
        if reference is None:
            reference, training = _holdout(training, config["seed"])
        return cls(config, training, validation, reference)

    @property
    def out(self) -> Path:
        return Path(self.config["out"])

    def extractor(self):
        if self._extractor is None:
            from genforge.metrics import get_extractor

            self._extractor = get_extractor(self.config.get("evaluator"), self.reference)
        return self._extractor

    def prepare(self) -> None:
        """What every score needs, made once per process before its first unit, so that no candidate's time
        carries it: the extractor, the scoring frame's features and the memorization threshold (calibrated
        on the scoring frame against the training frame)."""
        from genforge.metrics import memorization

        self.reference_features()
        if self._memorization_threshold is None:
            try:
                found = memorization(self.reference[:2], self.training, self.reference)
                self._memorization_threshold = float(found["memorization_threshold"])
            except Exception:  # noqa: BLE001 - left to each score, which reports what is wrong
                pass

    def metrics(self) -> tuple[str, ...]:
        """The metrics to compute: class coverage only where the extractor's classes are the frame's."""
        from genforge.metrics import METRICS

        names = getattr(self.extractor(), "class_names", None)
        same = self.training.class_names is None or (names is not None and list(names) == self.training.class_names)
        return tuple(m for m in METRICS if m != "class_coverage" or same)

    def reference_features(self):
        if self._reference_features is None:
            from genforge.metrics import extract

            self._reference_features = extract(self.reference, self.extractor(), "reference")
        return self._reference_features


def _holdout(frame: Frame, seed: int) -> tuple[Frame, Frame]:
    shuffled = frame.shuffle(seed)
    n = max(2, len(frame) // 10)
    return shuffled[:n], shuffled[n:]


def run_unit(ctx: Context, unit: Unit) -> dict[str, Any]:
    """Train, score and save ``unit``'s candidate; returns its leaderboard row (never raises for the
    candidate's own failures; KeyboardInterrupt and the like pass through)."""
    from genforge.artifacts import load_model, save_model
    from genforge.estimators import get_estimator
    from genforge.model_folder import find_model_folder
    from genforge.training.checkpoint import CHECKPOINT_DIR, checkpoint_epoch

    row: dict[str, Any] = {**dict.fromkeys(COLUMNS), "model_id": unit.model_id, "algo": unit.algo, "status": "ok", "reason": None,
                           "rung": unit.rung, "epochs": 0, "params": json.dumps(unit.params, sort_keys=True),
                           "model_path": None}
    run_dir = ctx.out / "runs" / f"c{unit.candidate}"
    checkpoint = run_dir / CHECKPOINT_DIR
    resume = find_model_folder(checkpoint) is not None
    params = {"checkpoint_every": _checkpoint_every(unit, len(ctx.training)), **unit.params, "epochs": unit.epochs,
              "run_dir": str(run_dir), "verbose": False, "checkpoint": str(checkpoint) if resume else None}
    limit = unit.seconds_left
    if unit.train_secs is not None:  # what this rung adds to the candidate's training so far
        more = unit.train_secs - unit.trained_secs
        limit = more if limit is None else min(limit, more)
    if limit is not None:
        params["max_runtime_secs"] = max(0.5, float(limit))
    started = time.monotonic()
    try:
        if resume and (checkpoint_epoch(run_dir) >= unit.epochs or (limit is not None and limit <= 0)):
            model = load_model(checkpoint)  # trained already (its process died while scoring)
        else:
            model = get_estimator(unit.algo)(**params).train(training_frame=ctx.training,
                                                             validation_frame=ctx.validation)
    except TrainingError as error:
        status = "diverged" if "diverged" in str(error) else "failed"
        return {**row, "status": status, "reason": _reason(error), "training_secs": unit.trained_secs + _secs(started)}
    except Exception as error:  # noqa: BLE001 - a failing candidate is a leaderboard row, not the search's end
        return {**row, "status": "failed", "reason": _reason(error), "training_secs": unit.trained_secs + _secs(started)}
    model.model_id = unit.model_id
    history = model.scoring_history().rows
    # training_secs: wall-clock seconds of train() over the candidate's rungs (checkpoints and grids included,
    # as the time rungs count them); images_per_sec: the last epoch's rate of optimisation steps alone.
    row.update(epochs=len(history), training_secs=round(unit.trained_secs + _secs(started), 3),
               images_per_sec=_last(history, "images_per_sec"))
    try:
        row.update(score(ctx, model))
    except Exception as error:  # noqa: BLE001
        return {**row, "status": "failed", "reason": "scoring failed: " + _reason(error)}
    row["status"], row["reason"] = classify(row, ctx.config["memorization_threshold"])
    if row["status"] != "diverged":
        # Saved as a model to use: the search's run folder, checkpoint and time cap are not its settings.
        model.set_params(checkpoint=None, run_dir=None, max_runtime_secs=0.0, verbose=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReplacedWarning)  # the folder of its previous rung, replaced
            row["model_path"] = str(save_model(model, ctx.out, force=True))
    return row


def score(ctx: Context, model: Any) -> dict[str, Any]:
    """The leaderboard scores of ``model`` (see the module docstring); ``diversity`` is the samples' pixel
    spread relative to the reference images'."""
    from genforge.metrics import evaluate, sample

    generated = sample(model, int(ctx.config["score_samples"]), seed=0)
    scores = evaluate(generated, ctx.reference_features(), ctx.extractor(), training=ctx.training,
                      metrics=ctx.metrics(), memorization_threshold=ctx._memorization_threshold, strict=False)
    if "fid" in (scores.get("skipped") or {}):
        raise DataError(f"no FID: {scores['skipped']['fid']}")
    if ctx._memorization_threshold is None and "memorization_threshold" in scores:
        ctx._memorization_threshold = float(scores["memorization_threshold"])  # calibrated once per process
    real = ctx.reference.to_numpy((0, 1)).std(axis=0).mean()
    fake = generated.to_numpy((0, 1)).std(axis=0).mean()
    out = {name: _number(scores.get(name)) for name in ("fid", "kid", "precision", "recall", "coverage", "memorization")}
    out["classes_covered"] = scores.get("classes_covered")
    out["diversity"] = round(float(fake / real), 4) if real > 0 else None
    return out


def classify(row: dict, memorization_threshold: float) -> tuple[str, str | None]:
    """A scored row's status and reason."""
    fid = row.get("fid")
    if fid is None or not math.isfinite(fid):
        return "diverged", "the FID is not finite (the samples hold NaN or infinite values)"
    if row.get("diversity") is not None and row["diversity"] < COLLAPSE_RATIO:
        return "collapsed", (f"mode collapse: the samples' pixel spread is {row['diversity']:.3f} of the real "
                             f"images' (under {COLLAPSE_RATIO})")
    memorized = row.get("memorization")
    if memorized is not None and memorized > memorization_threshold:
        return "memorizes", (f"{memorized:.1%} of the samples are near-copies of training images (threshold "
                             f"{memorization_threshold:.1%}); it cannot lead")
    return "ok", None


def _checkpoint_every(unit: Unit, images: int) -> int:
    """Checkpoints about every 200 optimisation steps: each epoch on large frames, fewer on tiny ones, where
    writing a checkpoint every epoch would cost more than the epoch."""
    batch = int(unit.params.get("batch_size") or 64)
    steps = max(1, images // max(1, batch))
    return max(1, math.ceil(200 / steps))


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
        return round(float(value), 6) if math.isfinite(float(value)) else None
    return None


def _last(history: list[dict], column: str) -> float | None:
    values = [r[column] for r in history if isinstance(r.get(column), (int, float))]
    return values[-1] if values else None


def _secs(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]

