"""``gf.GridSearch``: train one estimator over a grid of parameter values, as H2OGridSearch.

    grid = gf.GridSearch(gf.GANEstimator(epochs=5, seed=1), {"loss": ["hinge", "wgan-gp"], "width": [16, 32]},
                         search_criteria={"strategy": "RandomDiscrete", "max_models": 3, "seed": 1})
    grid.train(training_frame=train, validation_frame=valid)
    grid.get_grid(sort_by="fid")          # the leaderboard: one row per model, best first

``model`` is an estimator class, instance or algorithm name; an instance's parameters are the fixed base.
Names, values and combinations are checked against the estimator's own declarations when the grid is
made, and against the training frame before the first model trains, so a bad grid trains nothing.
Each combination is a trial of an Optuna study (``storage``), so ``train`` again resumes the grid.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any, Callable

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.selection.leaderboard import Leaderboard, check_sort_metric
from genforge.selection.results import SearchResults, check_number, default_name

MAX_GRID_MODELS = 1000  # combinations one grid may train; a larger grid needs max_models (RandomDiscrete)
STRATEGIES = ("Cartesian", "RandomDiscrete")
CRITERIA = ("strategy", "max_models", "max_runtime_secs", "seed", "stopping_metric", "stopping_rounds",
            "stopping_tolerance")
MANAGED = ("checkpoint", "run_dir", "overwrite")


class GridSearch(SearchResults):
    """A grid over ``hyper_params`` (name -> list of values) of ``model``; see the module docstring.

    ``search_criteria``: ``strategy`` ("Cartesian", the default, or "RandomDiscrete"), ``max_models``,
    ``max_runtime_secs`` (seconds of work summed over the models), ``seed`` (the RandomDiscrete order),
    ``stopping_metric`` / ``stopping_rounds`` / ``stopping_tolerance`` (stop when the best score of the
    last ``stopping_rounds`` models is no better, relatively, than the best before them).
    """

    def __init__(self, model: Any, hyper_params: dict[str, list], search_criteria: dict | None = None,
                 grid_id: str | None = None, storage: str | None = None, out: str | Path | None = None,
                 memorization_threshold: float = 0.1, score_samples: int = 1000, evaluator: str | None = None,
                 verbose: bool = True) -> None:
        self.estimator_class, self.base_params = _model(model)
        self.hyper_params = _check_hyper_params(self.estimator_class, hyper_params)
        self.search_criteria = _check_criteria(search_criteria)
        self.sort_metric = self.search_criteria["stopping_metric"]
        self.combinations = _combinations(self.hyper_params, self.search_criteria)
        for combo in self.combinations:  # the estimator's cross-parameter checks, per combination
            try:
                self.estimator_class(**{**self.base_params, **combo}).validated_params()
            except ParameterError as error:
                raise ParameterError(f"hyper_params combination {combo} is refused by "
                                     f"{self.estimator_class.__name__}: {error}") from None
        self.grid_id = grid_id or default_name(f"grid_{self.estimator_class.algo}")
        self.storage = storage
        self.out = Path(out) if out is not None else Path("grids") / self.grid_id
        self.memorization_threshold = check_number(memorization_threshold, "memorization_threshold", 0)
        self.score_samples = check_number(score_samples, "score_samples", 10, int, nullable=False, high=100000)
        self.evaluator = evaluator
        self.verbose = bool(verbose)

    def train(self, x: Any = None, y: Any = None, training_frame: Frame | str | None = None,
              validation_frame: Frame | str | None = None, leaderboard_frame: Frame | str | None = None,
              on_result: Callable[[dict], None] | None = None) -> "GridSearch":
        """Train the grid's models (or resume this grid_id's study); returns self. ``on_result(row)`` is
        called with each model's leaderboard row when it is scored or fails."""
        if y is not None:
            raise ParameterError("GridSearch.train takes no y: labels come with the frame.")
        if training_frame is None and isinstance(x, (Frame, str, Path)):
            training_frame = x
        self._start(self.grid_id, self.storage, self.out,
                    {"training": training_frame, "validation": validation_frame, "leaderboard": leaderboard_frame},
                    self._config_for, {"max_runtime_secs": self.search_criteria["max_runtime_secs"],
                                       "max_models": self.search_criteria["max_models"]}, on_result, self.verbose)
        return self

    def _config_for(self, training: Frame) -> dict:
        cls = self.estimator_class
        for combo in self.combinations:  # before anything trains: every model must suit the frame
            try:
                cls(**{**self.base_params, **combo}).check_training_frame(training)
            except (ParameterError, DataError) as error:
                raise type(error)(f"hyper_params combination {combo} does not suit the training frame: "
                                  f"{error}") from None
        criteria = self.search_criteria
        seed = self.base_params.get("seed")
        return {
            "kind": "grid", "algo": cls.algo, "base_params": self.base_params, "combos": self.combinations,
            "total_candidates": len(self.combinations), "rungs": [None], "round_size": 1, "reduction_factor": 2,
            "seed": int(seed if seed is not None else criteria["seed"] if criteria["seed"] is not None else 0),
            "sort_metric": self.sort_metric, "memorization_threshold": self.memorization_threshold,
            "score_samples": self.score_samples, "evaluator": self.evaluator,
            "stopping_rounds": criteria["stopping_rounds"], "stopping_tolerance": criteria["stopping_tolerance"],
        }

    def get_grid(self, sort_by: str = "fid", decreasing: bool | None = None) -> Leaderboard:
        """The grid's models with their scores, sorted by ``sort_by`` (best first unless ``decreasing``
        says otherwise)."""
        return self.leaderboard.sort(check_sort_metric(sort_by, "sort_by"), decreasing)

    def __repr__(self) -> str:
        state = f", {self.leaderboard.summary()}" if self._study is not None else ""
        return (f"GridSearch({self.estimator_class.__name__}, {len(self.combinations)} combinations, "
                f"grid_id={self.grid_id!r}{state})")


def _model(model: Any) -> tuple[type, dict]:
    from genforge.estimators import ESTIMATORS, Estimator, get_estimator

    if isinstance(model, str):
        return get_estimator(model), {}
    if isinstance(model, type) and issubclass(model, Estimator) and model in ESTIMATORS.values():
        return model, {}
    if isinstance(model, Estimator):
        cls = type(model)
        base = {k: v for k, v in model.get_params(deep=False).items() if v != cls.PARAMS[k].default}
        for name in MANAGED:
            if name in base:
                raise ParameterError(f"the grid's model sets {name}; a grid manages each model's run folder itself.")
        try:
            json.dumps(base)
        except TypeError:
            raise ParameterError("the grid's model has parameters that are not plain data (stored with the "
                                 "search); pass them as numbers, strings, lists or dicts.") from None
        for name, value in base.items():
            cls.PARAMS[name].validate(value)
        return cls, base
    raise ParameterError(f"GridSearch needs an estimator class, instance or algorithm name, got {type(model).__name__}.")


def _check_hyper_params(cls: type, hyper_params: Any) -> dict[str, list]:
    if not isinstance(hyper_params, dict) or not hyper_params:
        raise ParameterError("hyper_params must be a non-empty dict of parameter name -> list of values, "
                             "e.g. {'loss': ['hinge', 'wgan-gp']}.")
    out: dict[str, list] = {}
    for name, values in hyper_params.items():
        if not isinstance(name, str):
            raise ParameterError(f"hyper_params keys must be parameter names, got {name!r}.")
        try:
            canonical = cls.PARAMS.canonical(name)
        except ParameterError as error:
            raise ParameterError(f"hyper_params names {name!r}, which {cls.__name__} does not take: {error}") from None
        if canonical in MANAGED:
            raise ParameterError(f"hyper_params[{name!r}]: a grid manages {canonical} itself; leave it out.")
        if canonical in out:
            raise ParameterError(f"hyper_params gives {canonical!r} twice (as {name!r} and another spelling).")
        if not isinstance(values, (list, tuple)):
            raise ParameterError(f"hyper_params[{name!r}] must be a list of values, got {values!r}.")
        if not values:
            raise ParameterError(f"hyper_params[{name!r}] is an empty list: the grid would have no models.")
        for value in values:
            try:
                cls.PARAMS[canonical].validate(value)
            except ParameterError as error:
                raise ParameterError(f"hyper_params[{name!r}] holds {value!r}: {error}") from None
        try:
            json.dumps(list(values))
        except TypeError:
            raise ParameterError(f"hyper_params[{name!r}] holds values that are not plain data.") from None
        out[canonical] = list(values)
    return out


def _check_criteria(criteria: Any) -> dict:
    if criteria is None:
        criteria = {}
    if not isinstance(criteria, dict):
        raise ParameterError(f"search_criteria must be a dict, got {type(criteria).__name__}.")
    unknown = [k for k in criteria if k not in CRITERIA]
    if unknown:
        raise ParameterError(f"search_criteria has unknown keys {unknown}; known: {', '.join(CRITERIA)}.")
    strategy = criteria.get("strategy", "Cartesian")
    match = [s for s in STRATEGIES if isinstance(strategy, str) and s.lower() == strategy.lower()]
    if not match:
        raise ParameterError(f"search_criteria['strategy'] is {strategy!r}; choose 'Cartesian' or 'RandomDiscrete'.")
    metric = criteria.get("stopping_metric", "fid")
    metric = "fid" if isinstance(metric, str) and metric.lower() == "auto" else metric
    return {
        "strategy": match[0],
        "max_models": check_number(criteria.get("max_models"), "search_criteria['max_models']", 1, int),
        "max_runtime_secs": check_number(criteria.get("max_runtime_secs"), "search_criteria['max_runtime_secs']", 0)
        or None,
        "seed": check_number(criteria.get("seed"), "search_criteria['seed']", 0, int),
        "stopping_metric": check_sort_metric(metric, "search_criteria['stopping_metric']"),
        "stopping_rounds": check_number(criteria.get("stopping_rounds", 0), "search_criteria['stopping_rounds']", 0,
                                        int, nullable=False),
        "stopping_tolerance": check_number(criteria.get("stopping_tolerance", 1e-3),
                                           "search_criteria['stopping_tolerance']", 0, nullable=False),
    }


def _combinations(hyper_params: dict[str, list], criteria: dict) -> list[dict]:
    """The combinations to train, in order: Cartesian (the last name varies fastest) or a random order
    without repeats (RandomDiscrete, by ``seed``); at most ``max_models``. The grid is never built whole."""
    names = list(hyper_params)
    sizes = [len(hyper_params[n]) for n in names]
    total = 1
    for size in sizes:
        total *= size
    limit = criteria["max_models"]
    count = min(total, limit) if limit is not None else total
    if count > MAX_GRID_MODELS:
        raise ParameterError(f"the grid has {total} combinations, more than one grid trains ({MAX_GRID_MODELS}); "
                             "set search_criteria max_models (with strategy 'RandomDiscrete' to sample them).")
    if criteria["strategy"] == "Cartesian":
        indices = range(count)
    else:
        indices = random.Random(criteria["seed"]).sample(range(total), count)  # lazy over huge ranges

    def decode(index: int) -> dict:
        combo = {}
        for name, size in zip(reversed(names), reversed(sizes)):
            index, digit = divmod(index, size)
            combo[name] = hyper_params[name][digit]
        return {n: combo[n] for n in names}

    return [decode(i) for i in itertools.islice(indices, count)]
