"""``evaluate``: every metric on one pair of frames, with features extracted once; ``model_scores`` for a
generator (GAN or VAE) against a reference frame.

The result is one flat dict: each score next to what it depends on (``extractor``, ``reference``,
``n_generated``, ``n_reference``; ``training`` and ``n_training`` for memorization).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.metrics.class_coverage import class_coverage
from genforge.metrics.extractors import FeatureExtractor, get_extractor
from genforge.metrics.features import Features, check_frame, context, extract, extract_pair
from genforge.metrics.frechet import fid, kid
from genforge.metrics.inception_score import inception_score
from genforge.metrics.memorization import closest_pairs_grid, memorization
from genforge.metrics.prdc import precision_recall

# Metric names -> what they need; evaluate(metrics=[...]) picks from these.
METRICS: dict[str, str] = {
    "fid": "features", "kid": "features", "inception_score": "probabilities", "precision_recall": "features",
    "memorization": "training frame", "class_coverage": "class probabilities",
}
DEFAULT_METRICS = tuple(METRICS)


def evaluate(generated: Frame, reference: Frame | Features, extractor: Any = None, training: Frame | None = None,
             metrics: tuple[str, ...] | list[str] | None = None, nearest_k: int = 5,
             memorization_space: str = "pixel", memorization_percentile: float = 1.0,
             memorization_threshold: float | None = None, kid_subset_size: int = 1000,
             pairs_path: str | Path | None = None, strict: bool = True) -> dict[str, Any]:
    """Score ``generated`` images against real ``reference`` images (a held-out split).

    ``extractor``: None (the built-in evaluator that fits the reference frame), a built-in name, a saved
    CNNEstimator folder, an Inception-v3 weights file, a CNNEstimator or a FeatureExtractor.
    ``training``: the model's training images; with it, memorization is measured (its threshold calibrated
    on ``reference``) and class coverage compares with the training labels. ``pairs_path`` writes the
    closest generated/training pairs as a PNG grid. ``reference`` may also be its Features from
    ``gf.metrics.extract`` (to score many models against one split), and ``memorization_threshold`` a
    threshold calibrated before (from an earlier result). With ``strict=False`` a metric that the sample counts
    do not allow (too few images for k-NN, say) is listed under ``skipped`` with the reason, not raised.
    """
    started = time.monotonic()
    chosen = _check_metrics(metrics)
    check_frame(generated, "generated")
    reference_frame = check_frame(reference.frame if isinstance(reference, Features) else reference, "reference")
    if training is not None:
        check_frame(training, "training")
        if training.image_shape != reference_frame.image_shape:
            raise DataError(f"training images are {training.image_shape}, reference images "
                            f"{reference_frame.image_shape}; compare images of one shape.")
    if isinstance(reference, Features) and not isinstance(extractor, FeatureExtractor):
        raise ParameterError("reference features need the FeatureExtractor that made them: pass extractor=.")
    ex = extractor if isinstance(extractor, FeatureExtractor) else get_extractor(extractor, reference_frame)
    gen, ref = extract_pair(generated, reference, ex)
    scores: dict[str, Any] = {**context(gen, ref), **ex.describe()}
    if training is not None:
        scores.update({"training": training.name or "training", "n_training": len(training)})

    skipped: dict[str, str] = {}

    def run(name: str, compute: Callable[[], dict[str, Any]], keep: Callable[[str], bool]) -> dict[str, Any] | None:
        if name not in chosen:
            return None
        try:
            result = compute()
        except DataError as error:
            if strict:
                raise
            skipped[name] = str(error)
            return None
        scores.update({k: v for k, v in result.items() if keep(k)})
        return result

    context_keys = {"extractor", "reference", "n_generated", "n_reference", "training", "n_training"}
    run("fid", lambda: fid(gen, ref), lambda k: k == "fid")
    run("kid", lambda: kid(gen, ref, subset_size=kid_subset_size), lambda k: k not in context_keys)
    if gen.probabilities is not None:
        run("inception_score", lambda: inception_score(gen), lambda k: k not in context_keys)
    run("precision_recall", lambda: precision_recall(gen, ref, nearest_k=nearest_k), lambda k: k not in context_keys)
    if gen.probabilities is not None and gen.class_names:
        expected = training if training is not None and training.labels is not None else ref
        run("class_coverage", lambda: class_coverage(gen, expected), lambda k: k not in context_keys)
    if training is not None:
        result = run("memorization", lambda: memorization(generated, training, reference_frame, space=memorization_space,
                                                          extractor=ex, percentile=memorization_percentile,
                                                          threshold=memorization_threshold),
                     lambda k: k not in context_keys)
        if result is not None and pairs_path is not None:
            closest_pairs_grid(result, generated, training, pairs_path)
            scores["closest_pairs_png"] = str(pairs_path)
    if skipped:
        scores["skipped"] = skipped
    scores["seconds"] = round(time.monotonic() - started, 2)
    return scores


def model_scores(model: Any, frame: Frame, n: int | None = None, extractor: Any = None,
                 training: Frame | None = None, seed: int = 0, metrics: tuple[str, ...] | None = None,
                 pairs_path: str | Path | None = None, **options: Any) -> dict[str, Any]:
    """Generate ``n`` images (default: as many as ``frame`` holds) from a GAN or VAE and ``evaluate`` them
    against ``frame``. The extractor defaults to the model's ``evaluator`` parameter, then to the built-in
    evaluator that fits the frame."""
    check_frame(frame, "frame")
    count = len(frame) if n is None else int(n)
    if count < 2:
        raise DataError(f"n must be at least 2 to score a generator, got {count}.")
    spec = extractor if extractor is not None else _model_evaluator(model)
    generated = sample(model, count, seed)
    if generated.image_shape != frame.image_shape:
        raise DataError(f"the model makes {generated.image_shape} images, the frame holds {frame.image_shape}; "
                        "score against images of the model's shape.")
    scores = evaluate(generated, frame, spec, training=training, metrics=metrics, pairs_path=pairs_path, **options)
    return {"model_id": getattr(model, "model_id", None), **scores}


def performance_scores(model: Any, frame: Frame, n: int | None = None, extractor: Any = None,
                       training: Frame | None = None, seed: int = 0) -> dict[str, Any]:
    """What a generator's ``model_performance`` adds: ``model_scores`` that never fail for the frame's size
    or kind. Metrics the sample counts do not allow, or all of them when no extractor fits the images (no
    built-in evaluator and none given), are listed under ``skipped`` with the reason."""
    spec = extractor if extractor is not None else _model_evaluator(model)
    try:
        ex = spec if isinstance(spec, FeatureExtractor) else get_extractor(spec, frame)
    except ParameterError as error:
        if extractor is not None:
            raise
        return {"skipped": {"quality": str(error)}}
    try:
        return model_scores(model, frame, n=n, extractor=ex, training=training, seed=seed, strict=False)
    except DataError as error:  # e.g. a frame of one image: the discriminator or ELBO scores still stand
        return {"skipped": {"quality": str(error)}}


def sample(model: Any, n: int, seed: int = 0) -> Frame:
    """``n`` images from a generator, in batches, as one Frame; restores the networks' train/eval modes."""
    modules = getattr(model, "networks", {})
    modes = {name: module.training for name, module in modules.items()}
    try:
        generated = model.predict(int(n), seed=seed)
    finally:
        for name, module in modules.items():
            module.train(modes[name])
    generated.name = f"{getattr(model, 'model_id', None) or model.algo} samples"
    return generated


def default_training_source(source: str) -> str | None:
    """The training split of a built-in test split ("fashion-mnist:test" -> "fashion-mnist:train")."""
    if isinstance(source, str) and source.endswith(":test"):
        return source[: -len(":test")] + ":train"
    return None


def fid_scorer(model: Any, reference: Frame, samples: int = 1000, extractor: Any = None,
               seed: int = 0) -> Callable[[], dict[str, float]]:
    """A callable giving ``{"fid": ...}`` of ``samples`` fresh images from ``model`` against ``reference``
    (its first ``samples`` images); the reference features are extracted once. Used for per-epoch scoring."""
    if samples < 2:
        raise ParameterError(f"score_samples must be at least 2, got {samples}.")
    ref_frame = reference.shuffle(seed)[:samples] if len(reference) > samples else reference
    ex = extractor if isinstance(extractor, FeatureExtractor) else get_extractor(extractor, ref_frame)
    ref = extract(ref_frame, ex, "reference")

    def score() -> dict[str, float]:
        generated = sample(model, len(ref), seed)
        gen = extract(generated, ex, "generated")
        return {"fid": round(fid(gen, ref)["fid"], 4)}

    return score


def _model_evaluator(model: Any) -> Any:
    try:
        return model.get_params().get("evaluator")
    except AttributeError:
        return None


def _check_metrics(metrics) -> tuple[str, ...]:
    if metrics is None:
        return DEFAULT_METRICS
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ParameterError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}.")
    return tuple(metrics)
