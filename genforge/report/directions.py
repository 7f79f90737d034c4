"""Latent directions: how the latent space of a generator can be steered.

- Main directions, in the manner of GANSpace (Härkönen et al., 2020): the principal components of the
  domain evaluator's features of generated images, regressed back onto the latent vectors that made them
  (least squares of z on the standardised component scores); each direction moves the images along one
  main axis of variation that the evaluator sees.
- Class directions, in the manner of InterFaceGAN (Shen et al., 2020): the normal of a linear classifier in
  latent space (logistic regression, balanced) separating the latent vectors whose images the evaluator
  assigns to a class from the others; moving along it makes images of that class more likely.

Directions are unit float32 vectors of the latent width; ``model.traverse(z, direction, steps, scale)``
walks them. A conditional model picks its class by label, so it has no class directions here.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from genforge.errors import DataError, ParameterError
from genforge.metrics.extractors import FeatureExtractor
from genforge.metrics.features import Features, extract
from genforge.report.context import ReportContext, check_model, check_samples, generate, png_uri, resolve_extractor

MAX_K = 20
TRAVERSE_SEEDS, TRAVERSE_STEPS, TRAVERSE_SCALE = 4, 7, 3.0
PROBE_SEEDS = 48  # latent vectors on which a class direction's effect is measured


def fit_directions(z: np.ndarray, features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` unit latent directions ``(k, L)`` and the share of feature variance each component explains."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, random_state=0).fit(features.astype(np.float64))
    scores = pca.transform(features.astype(np.float64))
    scores /= scores.std(axis=0, keepdims=True) + 1e-12
    coef, *_ = np.linalg.lstsq(scores, z.astype(np.float64) - z.mean(axis=0), rcond=None)  # (k, L)
    norms = np.linalg.norm(coef, axis=1, keepdims=True)
    return (coef / np.maximum(norms, 1e-12)).astype(np.float32), pca.explained_variance_ratio_.astype(np.float64)


def fit_class_direction(z: np.ndarray, is_class: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """The unit normal of a balanced logistic regression of ``is_class`` on ``z``, and its training accuracy."""
    from sklearn.linear_model import LogisticRegression

    positives, n = int(is_class.sum()), len(is_class)
    if positives < 5 or n - positives < 5:
        raise DataError(f"the evaluator assigns {positives} of {n} generated images to class {name!r}; a direction "
                        "needs at least 5 images in and 5 out of the class: pass more samples (or the model does "
                        "not make this class at all).")
    classifier = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(z.astype(np.float64), is_class)
    w = classifier.coef_[0]
    return (w / max(np.linalg.norm(w), 1e-12)).astype(np.float32), float(classifier.score(z, is_class))


def check_k(k: Any, latent: int, width: int, samples: int) -> int:
    limit = min(MAX_K, latent, width, samples - 1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise ParameterError(f"k must be an integer from 1 to {limit} for this model (at most {MAX_K}, the latent "
                             f"width {latent} and the feature width {width}), got {k!r}.")
    return int(k)


def class_index(label: Any, names: list[str] | None, extractor: str) -> int:
    if not names:
        raise ParameterError(f"the {extractor} extractor does not classify, so there are no class directions; use "
                             "a domain evaluator (a CNNEstimator) as extractor.")
    if isinstance(label, str) and label in names:
        return names.index(label)
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= int(label) < len(names):
        return int(label)
    raise DataError(f"label {label!r} is not a class of the evaluator; classes: {names} (pass a name or an index).")


def _sampled(model: Any, samples: Any, extractor: Any, seed: Any) -> tuple[np.ndarray, Features, FeatureExtractor]:
    check_model(model)
    samples = check_samples(samples)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    z = model.noise(samples, int(seed))
    frame = generate(model, z)
    ex = resolve_extractor(model, extractor, frame)
    return z, extract(frame, ex, "generated"), ex


def latent_directions(model: Any, k: int = 5, samples: int = 2000, extractor: Any = None, seed: int = 0) -> np.ndarray:
    """``model.latent_directions(k)``: see ``Generator.latent_directions``."""
    check_model(model)
    z, feats, _ = _sampled(model, samples, extractor, seed)
    k = check_k(k, z.shape[1], feats.features.shape[1], len(z))
    return fit_directions(z, feats.features, k)[0]


def class_direction(model: Any, label: Any, samples: int = 2000, extractor: Any = None, seed: int = 0) -> np.ndarray:
    """``model.class_direction(label)``: see ``Generator.class_direction``."""
    check_model(model)
    if getattr(model, "num_classes", 0):
        raise ParameterError("this model is conditional: it makes a class when asked (labels=...), so it has no "
                             "class direction in its latent space; use latent_directions(k) to vary images within a class.")
    z, feats, ex = _sampled(model, samples, extractor, seed)
    index = class_index(label, ex.class_names, ex.name)
    return fit_class_direction(z, feats.probabilities.argmax(axis=1) == index, ex.class_names[index])[0]


def directions_section(ctx: ReportContext, k: int = 5) -> dict[str, Any]:
    k = min(int(k), MAX_K, ctx.z.shape[1], ctx.gen.features.shape[1], len(ctx.z) - 1)
    directions, explained = fit_directions(ctx.z, ctx.gen.features, k)
    seeds_z = ctx.model.noise(TRAVERSE_SEEDS, ctx.seed + 1)
    out: dict[str, Any] = {"method": "GANSpace-style PCA of evaluator features, regressed onto z",
                           "steps": TRAVERSE_STEPS, "scale": TRAVERSE_SCALE, "main": [], "classes": []}
    figures = []
    for i, (direction, share) in enumerate(zip(directions, explained)):
        frame = ctx.model.traverse(seeds_z, direction, steps=TRAVERSE_STEPS, scale=TRAVERSE_SCALE)
        out["main"].append({"name": f"pc{i + 1}", "explained_variance": float(share), "vector": direction.tolist()})
        figures.append((f"Direction {i + 1} ({100 * share:.1f}% of the feature variance)",
                        f'<img class="traversal" alt="traversal along direction {i + 1}" '
                        f'src="{png_uri(frame.images, nrow=TRAVERSE_STEPS)}">'))
    names = list(ctx.extractor.class_names or [])
    if ctx.conditional:
        out["classes_skipped"] = "a conditional model makes a class when asked (labels=...); no class directions."
    elif not names or ctx.gen.probabilities is None:
        out["classes_skipped"] = f"the {ctx.extractor.name} extractor does not classify."
    else:
        figures += _class_directions(ctx, names, out)
    out["html"] = figures
    return out


def _class_directions(ctx: ReportContext, names: list[str], out: dict) -> list[tuple[str, str]]:
    predicted = ctx.gen.probabilities.argmax(axis=1)
    probe = ctx.model.noise(PROBE_SEEDS, ctx.seed + 2)
    rows, cells = [], []
    for index, name in enumerate(names):
        try:
            direction, accuracy = fit_class_direction(ctx.z, predicted == index, name)
        except DataError as error:
            out["classes"].append({"name": name, "skipped": str(error)})
            continue
        # The measured effect: the evaluator's probability of the class at -scale, 0 and +scale.
        walked = ctx.model.traverse(probe, direction, steps=3, scale=TRAVERSE_SCALE)
        probs = extract(walked, ctx.extractor, "traversal").probabilities[:, index].reshape(len(probe), 3).mean(axis=0)
        out["classes"].append({"name": name, "accuracy": accuracy, "probability": {"minus": float(probs[0]),
                               "zero": float(probs[1]), "plus": float(probs[2])}, "vector": direction.tolist()})
        grid = ctx.model.traverse(probe[:1], direction, steps=TRAVERSE_STEPS, scale=TRAVERSE_SCALE)
        rows.append(grid.images)
        cells.append(f"<tr><td>{html.escape(name)}</td><td>{accuracy:.2f}</td><td>{probs[0]:.2f}</td><td>{probs[1]:.2f}</td>"
                     f"<td>{probs[2]:.2f}</td></tr>")
    if not rows:
        return []
    table = ("<table class=\"data\"><thead><tr><th>class</th><th>fit accuracy</th><th>p(class) at −3</th>"
             "<th>at 0</th><th>at +3</th></tr></thead><tbody>" + "".join(cells) + "</tbody></table>")
    image = f'<img class="traversal" alt="class directions" src="{png_uri(np.concatenate(rows), nrow=TRAVERSE_STEPS)}">'
    return [("Toward each class (one row per class, −3 to +3)", image),
            (f"Measured: the evaluator's mean probability of the class along its direction ({PROBE_SEEDS} seeds)",
             table)]


def all_directions(model: Any, k: int = 5, samples: int = 512, extractor: Any = None, seed: int = 0) -> dict[str, Any]:
    """The main directions and (unconditional models, classifying evaluators) every class direction, from one
    set of samples, in the form of a report's ``directions`` section (without its images): what the server's
    traversal follows when the model has no report yet."""
    check_model(model)
    z, feats, ex = _sampled(model, samples, extractor, seed)
    k = min(int(k), MAX_K, z.shape[1], feats.features.shape[1], len(z) - 1)
    directions, explained = fit_directions(z, feats.features, k)
    out: dict[str, Any] = {"main": [{"name": f"pc{i + 1}", "explained_variance": float(share), "vector": d.tolist()}
                                    for i, (d, share) in enumerate(zip(directions, explained))], "classes": []}
    if getattr(model, "num_classes", 0) or not ex.class_names or feats.probabilities is None:
        return out
    predicted = feats.probabilities.argmax(axis=1)
    for index, name in enumerate(ex.class_names):
        try:
            direction, accuracy = fit_class_direction(z, predicted == index, name)
        except DataError as error:
            out["classes"].append({"name": name, "skipped": str(error)})
            continue
        out["classes"].append({"name": name, "accuracy": accuracy, "vector": direction.tolist()})
    return out
