"""The engine under GridSearch, AutoML and ``genforge automl worker``: take the next unit, run it, record it.

Every process of a search (``train()`` of one, or workers on several machines) runs the same loop on the
shared study: fail the trials whose process died, ask the schedule for the next unit, claim it (a new
trial carrying its key; see ``study``), train and score it, store its leaderboard row in the trial and tell
Optuna its score. What a unit trains comes from the stored configuration: AutoML's candidates are drawn by
Optuna's TPE sampler over ``space`` (the first ones are the tuned defaults), a grid's are its combinations.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any, Callable

from genforge.errors import ParameterError
from genforge.selection.candidate import Context, Unit, run_unit
from genforge.selection.leaderboard import HIGHER_IS_BETTER, Leaderboard
from genforge.selection.schedule import Schedule, parse_key
from genforge.selection.study import (
    Heartbeat, claim, create_or_load, mark_stale, open_storage, optuna, release, storage_url, trials,
)

POLL_SECS = 1.0
CONFIG_VERSION = 1
ResultCallback = Callable[[dict], None]


def work(study, config: dict, on_result: ResultCallback | None = None, echo: Callable[[str], None] | None = None,
         context: Context | None = None) -> int:
    """Run units of ``study`` until its schedule is done; returns how many this process ran."""
    schedule = Schedule.from_config(config)
    ctx = context
    ran, prepared = 0, False
    while True:
        mark_stale(study)
        views = trials(study)
        action = schedule.next(views)
        if action.kind == "done":
            return ran
        if action.kind == "wait":
            time.sleep(POLL_SECS)
            continue
        if ctx is None:
            ctx = Context.load(config)
        if not prepared:
            try:
                ctx.prepare()  # outside the units' time (see Context.prepare)
            except Exception:  # noqa: BLE001 - each unit's scoring then reports the problem on its row
                pass
            prepared = True
        attrs, params, dists = _unit_attrs(config, views, action.candidate, action.rung)
        trial = claim(study, action.key, attrs, params, dists)
        if trial is None:
            continue  # another process took it first
        try:
            with Heartbeat(study._storage, trial._trial_id):
                row = _run(ctx, study, trial, config, action)
        except BaseException:
            study._storage.set_trial_user_attr(trial._trial_id, "note", "interrupted")
            study.tell(trial, state=optuna().trial.TrialState.FAIL)
            raise
        finally:
            release(study, trial)
        ran += 1
        if echo is not None:
            echo(_progress(row, schedule, trials(study)))
        if on_result is not None:
            on_result(dict(row))


def _unit_attrs(config: dict, views, candidate: int, rung: int) -> tuple[dict, dict, dict]:
    """The new trial's attributes and (for a fresh AutoML candidate) its fixed Optuna parameters."""
    attrs: dict[str, Any] = {"candidate": candidate, "rung": rung}
    if rung > 0:  # a promotion: the same candidate, resumed; no Optuna parameters (see schedule)
        first = next(v for v in sorted(views, key=lambda v: v.number)
                     if parse_key(v.key) == (candidate, 0) and v.row is not None and v.is_live)
        attrs.update(algo=first.attrs["algo"], params=first.attrs["params"])
        return attrs, {}, {}
    if config["kind"] == "grid":
        attrs.update(algo=config["algo"], params={"seed": config["seed"], **config["base_params"],
                                                  **config["combos"][candidate]})
        return attrs, {}, {}
    from genforge.selection.space import default_point, distributions

    if candidate < len(config["space"]):  # the tuned defaults come first, one per algorithm
        point = default_point(list(config["space"])[candidate], config["space"])
        dists = distributions(config["space"])
        return attrs, point, {k: dists[k] for k in point}
    return attrs, {}, {}


def _run(ctx: Context, study, trial, config: dict, action) -> dict:
    storage = study._storage
    attrs = trial.user_attrs
    if "params" not in attrs:  # a fresh AutoML candidate: Optuna's sampler draws its settings
        from genforge.selection.space import sample_params

        sampled = _sampling_trial(study, trial, config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TPE's multivariate mode is marked experimental
            algo, searched = sample_params(sampled, config["space"])
        fixed = {k: v for k, v in config["fixed_params"].items() if _takes(algo, k)}
        params = {**searched, **fixed, "seed": int(config["seed"]) + action.candidate}
        storage.set_trial_user_attr(trial._trial_id, "algo", algo)
        storage.set_trial_user_attr(trial._trial_id, "params", params)
    else:
        algo, params = attrs["algo"], dict(attrs["params"])
    rungs = config["rungs"]
    epochs = rungs[action.rung] if action.rung < len(rungs) else None  # past the last: the leader, exploited
    if epochs is None:  # time rungs: epochs only cap the run; a grid: the model's own epochs
        epochs = config.get("epoch_cap") or int(params.get("epochs") or _default_epochs(algo))
    model_id = f"{algo.upper()}_{action.candidate + 1}_{study.study_name}"
    unit = Unit(action.candidate, action.rung, algo, params, int(epochs), model_id, action.seconds_left,
                action.train_secs, _trained_secs(study, action.candidate, action.rung))
    row = run_unit(ctx, unit)
    storage.set_trial_user_attr(trial._trial_id, "row", row)
    value = row.get(config["sort_metric"])
    try:
        if row["status"] in ("ok", "memorizes", "collapsed") and isinstance(value, (int, float)) and math.isfinite(value):
            study.tell(trial, -value if config["sort_metric"] in HIGHER_IS_BETTER else value)
        else:
            study.tell(trial, state=optuna().trial.TrialState.FAIL)
    except Exception:  # noqa: BLE001 - taken for dead meanwhile (a frozen process): its unit is run again
        pass
    return row


def _trained_secs(study, candidate: int, rung: int) -> float:
    """The candidate's training seconds at its last rung before ``rung`` (0 for a fresh one)."""
    best = (-1, 0.0)
    for view in trials(study):
        parsed = parse_key(view.key)
        if parsed and parsed[0] == candidate and parsed[1] < rung and view.row is not None and view.is_live:
            best = max(best, (parsed[1], float(view.row.get("training_secs") or 0.0)))
    return best[1]


def _sampling_trial(study, trial, config: dict):
    """``trial`` bound to a study whose TPE sampler is seeded by the trial's number, so that processes
    sampling at the same moment draw different settings, and one process draws the same ones every run."""
    op = optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = op.samplers.TPESampler(seed=int(config["seed"]) + trial.number, multivariate=True, group=True,
                                         n_startup_trials=int(config.get("startup_trials", 5)))
    fresh = op.load_study(study_name=study.study_name, storage=study._storage, sampler=sampler)
    return op.Trial(fresh, trial._trial_id)


def _takes(algo: str, name: str) -> bool:
    from genforge.estimators import get_estimator

    return name in get_estimator(algo).PARAMS


def _default_epochs(algo: str) -> int:
    from genforge.estimators import get_estimator

    return int(get_estimator(algo).PARAMS["epochs"].default)


def rows(study) -> list[dict]:
    """One row per candidate: its result at the highest rung it finished (duplicates and interrupted
    trials left out)."""
    best: dict[int, tuple[int, dict]] = {}
    for view in trials(study):
        parsed = parse_key(view.key)
        if parsed is None or view.row is None or not view.is_live:
            continue
        candidate, rung = parsed
        if candidate not in best or rung > best[candidate][0]:
            best[candidate] = (rung, view.row)
    return [best[c][1] for c in sorted(best)]


def leaderboard(study, config: dict) -> Leaderboard:
    return Leaderboard(rows(study), config["sort_metric"])


def _progress(row: dict, schedule: Schedule, views) -> str:
    fid = f"fid {row['fid']:.3f}" if isinstance(row.get("fid"), float) else "no fid"
    done = len({parse_key(v.key)[0] for v in views if parse_key(v.key) and v.row is not None})
    budget = ""
    if schedule.max_runtime_secs:
        left = max(0.0, schedule.max_runtime_secs - schedule.spent(views))
        budget = f", {left:.0f} s of {schedule.max_runtime_secs:.0f} s left"
    elif schedule.max_models:
        budget = f" of {schedule.max_models}"
    what = row["status"] + (f" ({row['reason']})" if row.get("reason") else "")
    return (f"[{done} model{'s' if done != 1 else ''}{budget}] {row['model_id']} rung {row.get('rung', 0)}: "
            f"{row.get('epochs', 0)} epochs, {fid}, {what}")


def echo_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def check_version(config: dict) -> None:
    if config.get("version") != CONFIG_VERSION:
        raise ParameterError(f"the study was made by another version of genforge's search (format "
                             f"{config.get('version')!r}, this one reads {CONFIG_VERSION}); start a new study.")


def run_worker(study: str, storage: str, on_result: ResultCallback | None = None,
               verbose: bool = True) -> Leaderboard:
    """Run trials of the existing search ``study`` in ``storage`` (a SQLAlchemy URL) until its budget or
    ``max_models`` is spent (``genforge automl worker --study NAME --storage URL``); returns its
    leaderboard (all workers' rows)."""
    if not isinstance(storage, str) or not storage:
        raise ParameterError("a worker needs the study's storage URL (--storage sqlite:///... or postgresql://...).")
    found, config = create_or_load(open_storage(storage_url(storage, None)), study, None)
    check_version(config)
    work(found, config, on_result, echo_stderr if verbose else None)
    return leaderboard(found, config)
