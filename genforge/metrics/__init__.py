"""``gf.metrics``: FID, KID, Inception-style score, precision/recall/density/coverage, memorization and
class coverage of generated images, on features from a domain classifier or Inception-v3.

    import genforge as gf
    scores = gf.metrics.evaluate(generated, gf.import_file("fashion-mnist:test"),
                                 training=gf.import_file("fashion-mnist:train"))
    scores["fid"], scores["extractor"], scores["n_generated"]

Every score carries the extractor, the reference split and the sample counts it was computed with.
Importing this package also installs the scorers the estimators use without importing it: the
sample-quality scores of ``model_performance`` and the FID callback of ``stopping_metric="fid"``.
"""

from genforge.estimators.quality import register_quality_scorer
from genforge.metrics.callbacks import fid_callback
from genforge.metrics.class_coverage import class_coverage
from genforge.metrics.domain import builtin_evaluators, match_evaluator, read_record, train_evaluator
from genforge.metrics.evaluate import (
    METRICS, default_training_source, evaluate, fid_scorer, model_scores, performance_scores, sample,
)
from genforge.metrics.extractors import (
    ClassifierExtractor, FeatureExtractor, InceptionExtractor, ModuleExtractor, builtin_extractor, get_extractor,
)
from genforge.metrics.features import Features, extract
from genforge.metrics.frechet import fid, kid
from genforge.metrics.inception_score import inception_score
from genforge.metrics.memorization import closest_pairs_grid, memorization
from genforge.metrics.prdc import precision_recall

__all__ = [
    "evaluate", "model_scores", "fid", "kid", "inception_score", "precision_recall", "memorization",
    "closest_pairs_grid", "class_coverage", "extract", "Features", "FeatureExtractor", "ClassifierExtractor",
    "InceptionExtractor", "ModuleExtractor", "get_extractor", "builtin_extractor", "builtin_evaluators",
    "match_evaluator", "read_record", "train_evaluator", "fid_scorer", "sample", "default_training_source",
    "METRICS", "fid_callback", "performance_scores",
]

# A generator's model_performance adds these sample-quality scores (estimators cannot import metrics).
register_quality_scorer(performance_scores)
