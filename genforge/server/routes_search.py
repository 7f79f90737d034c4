"""``/api/v1/automl`` and ``/api/v1/grids``: model searches as jobs, their leaderboards (sorted by any
column, live as Server-Sent Events), and the served model of each (``/v2/models/{project_name}``).

A search is one job (kind "automl" or "grid", queued under ``--max-jobs`` like any job) whose worker runs the
selection API (``gf.AutoML`` / ``gf.GridSearch``) with the Optuna study in the server's own database; each
candidate's row and model are recorded as it finishes (``leaderboard.record``). ``workers`` > 1 adds jobs of
kind "search-worker" that run more trials of the same study, each one more job slot, so that the trainings of
a search never outnumber ``--max-jobs``.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from genforge.errors import ParameterError
from genforge.estimators import ESTIMATORS
from genforge.server import leaderboard
from genforge.server.db import SEARCH_KINDS, JobRow, ModelRow
from genforge.server.deps import Context, get_ctx, is_generator, job_out
from genforge.server.errors import ApiError
from genforge.server.paths import check_job_parameters
from genforge.server.routes_frames import load_frame
from genforge.server.routes_jobs import SERVER_PARAMS, snapshot_events
from genforge.server.schemas import ErrorOut
from genforge.server.search_spec import automl_options, grid_options, project_name, sort_metric_of
from genforge.server.schemas_search import (
    AutoMLCreate, GridCreate, LeaderboardOut, SearchOut, ServeIn, ServedOut,
)

router = APIRouter(prefix="/api/v1", tags=["model search"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 409, 422)}
CREATE_ERRORS = {**ERRORS, 503: {"model": ErrorOut, "description": "Optuna is not installed on the server."}}
MAX_GRID = 100_000  # combinations a grid may name (a Cartesian grid past this is a typo, and costly to list)


def search_algos() -> list[str]:
    """The algorithms a search may train: the registered generators."""
    return sorted(a for a in ESTIMATORS if is_generator(a))


# ------------------------------------------------------------------------------ validation
def _frames(ctx: Context, body: Any, names: tuple[str, ...]):
    frame = load_frame(ctx, body.training_frame)
    for name in names:
        ident = getattr(body, name, None)
        if ident:
            other = load_frame(ctx, ident)
            if other.image_shape != frame.image_shape:
                raise ApiError(422, f"{name}: images are {other.image_shape}, the training frame's {frame.image_shape} "
                                    "(H, W, C); import it with the same image_size and channels.")
    return frame


def _evaluator(ctx: Context, value: str | None) -> None:
    from genforge.server.paths import resolve_evaluator

    resolve_evaluator(ctx.db, value)  # 422 unless a built-in name or a CNN model id; never a path


def _workers(ctx: Context, workers: int) -> None:
    if workers > ctx.settings.max_jobs:
        raise ApiError(422, f"workers: at most {ctx.settings.max_jobs}, this server's --max-jobs (each worker "
                            f"trains in one job slot), got {workers}.")


def _served_name(ctx: Context, field: str, name: str | None) -> None:
    if name and ctx.repo.find(ModelRow, name) is not None:
        raise ApiError(422, f"{field}: {name!r} is the id of a model on this server; /v2/models/{name} would serve "
                            "that model. Choose another name.")


def _algos(field: str, names: list[str] | None) -> list[str]:
    known = search_algos()
    for name in names or []:
        if name not in known:
            raise ApiError(422, f"{field}: unknown algorithm {str(name)[:50]!r}; a search trains {', '.join(known)}.")
    return list(names or [])


def validate_automl(ctx: Context, body: AutoMLCreate) -> dict[str, Any]:
    """Check an AutoML request as ``gf.AutoML(...).train`` would, before anything is queued."""
    include = _algos("include_algos", body.include_algos)
    exclude = _algos("exclude_algos", body.exclude_algos)
    both = sorted(set(include) & set(exclude))
    if both:
        raise ApiError(422, f"include_algos and exclude_algos both name {', '.join(both)}; name each in one list.")
    if not set(include or search_algos()) - set(exclude):
        raise ApiError(422, f"exclude_algos: leaves no algorithm to search (of {', '.join(search_algos())}).")
    _workers(ctx, body.workers)
    _evaluator(ctx, body.evaluator)
    _served_name(ctx, "project_name", body.project_name)
    if body.fixed_params:
        for name in body.fixed_params:
            _candidate_param("fixed_params", name)
        check_job_parameters(ctx.db, body.fixed_params, {})
    spec = body.model_dump()
    _selection_api(lambda selection: selection.AutoML(**automl_options(spec), project_name="check", verbose=False))
    _frames(ctx, body, ("validation_frame", "leaderboard_frame"))
    return spec


def _selection_api(make):
    """Build the selection API's object, as the worker will, so that its own checks run now: a
    ParameterError becomes a 422 (503 when the search machinery, Optuna, is not installed)."""
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ApiError(503, "this server cannot run searches: Optuna is not installed (pip install "
                            "'genforge[automl]').")
    import genforge.selection as selection

    try:
        return make(selection)
    except (ParameterError, ValueError, TypeError) as error:
        raise ApiError(422, str(error)) from None


def _candidate_param(where: str, name: str) -> None:
    """Parameters a search sets for each candidate itself, or takes once for the whole search."""
    if name in (*SERVER_PARAMS, "checkpoint"):
        raise ApiError(422, f"{where}.{name}: set by the server for every candidate; leave it out.")
    if name == "evaluator":
        raise ApiError(422, f"{where}.evaluator: the search scores every candidate with one evaluator; give it as "
                            "the request's own 'evaluator' field.")


def _checked(cls, params: dict[str, Any], where: str) -> Any:
    try:
        model = cls(**params)
        model.validated_params()
        return model
    except (ParameterError, ValueError, TypeError) as error:
        raise ApiError(422, f"{where}: {error}") from None


def validate_grid(ctx: Context, body: GridCreate) -> dict[str, Any]:
    """Check a grid as ``gf.GridSearch(...).train`` would: unknown names, values that fail the estimator's own
    checks and empty lists are refused, naming the parameter, before anything is queued."""
    if body.algo not in search_algos():
        raise ApiError(422, f"algo: unknown algorithm {body.algo[:50]!r}; a grid trains one of {', '.join(search_algos())}.")
    cls = ESTIMATORS[body.algo]
    schema = {s["name"]: s for s in cls.PARAMS.schema()}
    for where, names in (("parameters", body.parameters), ("hyper_params", body.hyper_params)):
        for name in names:
            _candidate_param(where, name)
    try:
        hyper = {cls.PARAMS.canonical(name): values for name, values in body.hyper_params.items()}
        base = {cls.PARAMS.canonical(name): value for name, value in body.parameters.items()}
    except ParameterError as error:
        raise ApiError(422, f"hyper_params: {error}") from None
    if len(hyper) != len(body.hyper_params):
        raise ApiError(422, "hyper_params: a parameter is named twice (under two of its names).")
    for name in sorted(set(hyper) & set(base)):
        raise ApiError(422, f"hyper_params.{name}: also fixed in parameters; search it or fix it, not both.")
    check_job_parameters(ctx.db, base, schema)
    _checked(cls, base, "parameters")
    for name, values in hyper.items():
        if not values:
            raise ApiError(422, f"hyper_params.{name}: no values to try; give at least one.")
        for i, value in enumerate(values):
            check_job_parameters(ctx.db, {name: value}, schema)
            _checked(cls, {**base, name: value}, f"hyper_params.{name}[{i}]")
    combinations = math.prod(len(v) for v in hyper.values())
    if combinations > MAX_GRID:
        raise ApiError(422, f"hyper_params: {combinations} combinations, more than {MAX_GRID}; search fewer values "
                            "(or use the RandomDiscrete strategy over a smaller grid).")
    _workers(ctx, body.workers)
    _evaluator(ctx, body.evaluator)
    _served_name(ctx, "grid_id", body.grid_id)
    spec = {**body.model_dump(), "parameters": base, "hyper_params": hyper}
    grid = _selection_api(lambda selection: selection.GridSearch(cls(**base), **grid_options(spec), grid_id="check",
                                                                 verbose=False))
    frame = _frames(ctx, body, ("validation_frame", "leaderboard_frame"))
    for combo in grid.combinations:  # every model must suit the frame (train() checks it too, later)
        try:
            cls(**{**base, **combo}).check_training_frame(frame)
        except (ParameterError, ValueError) as error:
            raise ApiError(422, f"training_frame: does not suit hyper_params {combo}: {error}") from None
    return spec


# ------------------------------------------------------------------------------ views
def search_job(ctx: Context, search_id: str) -> JobRow:
    row = ctx.repo.find(JobRow, search_id)
    if row is None or row.kind not in SEARCH_KINDS:
        raise ApiError(404, f"search {search_id[:100]!r} not found; list them at /api/v1/automl.")
    return row


def search_out(ctx: Context, row: JobRow) -> dict[str, Any]:
    spec = dict(row.parameters or {})
    metric = sort_metric_of(spec)
    ranked = leaderboard.rows(ctx.db, row.id, metric)
    lead = leaderboard.leader(ctx.db, row.id, metric)
    name = project_name(row)
    served = next(iter(s for s in leaderboard.served_names(ctx.db) if s["name"] == name), None)
    with ctx.db.session() as session:
        workers = session.scalars(select(JobRow).where(JobRow.parent == row.id).order_by(JobRow.created)).all()
    return {"id": row.id, "kind": row.kind, "status": row.status, "message": row.message or "",
            "progress": row.progress or 0.0, "spec": spec, "project_name": name, "sort_metric": metric,
            "models": len(ranked), "leader": lead, "served": served, "job": job_out(row),
            "workers": [job_out(w) for w in workers]}


def _create(ctx: Context, kind: str, algo: str, body: Any, spec: dict[str, Any]) -> dict[str, Any]:
    what = "AutoML search" if kind == "automl" else f"grid search of {algo}"
    row = ctx.repo.add_job(kind, algo, body.training_frame, spec, validation_frame=body.validation_frame,
                           message=f"queued: {what}")
    ctx.supervisor.notify()
    return search_out(ctx, row)


@router.post("/automl", status_code=201, response_model=SearchOut, responses=CREATE_ERRORS,
             summary="Start an AutoML search (H2OAutoML): a leaderboard of generators ranked by FID")
def create_automl(body: AutoMLCreate, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return _create(ctx, "automl", "automl", body, validate_automl(ctx, body))


@router.post("/grids", status_code=201, response_model=SearchOut, responses=CREATE_ERRORS,
             summary="Start a grid search (H2OGridSearch) over one algorithm's hyper-parameters")
def create_grid(body: GridCreate, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return _create(ctx, "grid", body.algo, body, validate_grid(ctx, body))


@router.get("/automl", response_model=list[SearchOut], summary="List AutoML and grid searches, newest first")
def list_searches(ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    with ctx.db.session() as session:
        found = session.scalars(select(JobRow).where(JobRow.kind.in_(SEARCH_KINDS))
                                .order_by(JobRow.created.desc(), JobRow.id)).all()
    return [search_out(ctx, r) for r in found]


@router.get("/automl/{search_id}", response_model=SearchOut, responses=ERRORS, summary="A search: status, leader, served model")
@router.get("/grids/{search_id}", response_model=SearchOut, responses=ERRORS, summary="A grid search (as /automl/{id})")
def get_search(search_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return search_out(ctx, search_job(ctx, search_id))


def leaderboard_out(ctx: Context, search_id: str, sort_by: str | None, decreasing: bool | None) -> dict[str, Any]:
    row = search_job(ctx, search_id)
    out = search_out(ctx, row)
    column = sort_by or out["sort_metric"]
    direction = leaderboard.natural_decreasing(column) if decreasing is None else decreasing
    return {"search_id": row.id, "status": row.status, "sort_by": column, "decreasing": direction,
            "leader": (out["leader"] or {}).get("model_id"), "served": (out["served"] or {}).get("model_id"),
            "rows": leaderboard.rows(ctx.db, row.id, column, direction)}


@router.get("/automl/{search_id}/leaderboard", response_model=LeaderboardOut, responses=ERRORS,
            summary="The leaderboard, one row per candidate, sorted by any column")
@router.get("/grids/{search_id}/leaderboard", response_model=LeaderboardOut, responses=ERRORS,
            summary="A grid's models with their scores (as /automl/{id}/leaderboard)")
def get_leaderboard(search_id: str, ctx: Context = Depends(get_ctx),
                    sort_by: str | None = Query(None, max_length=64, description=f"One of {', '.join(leaderboard.COLUMNS)} "
                                                "(default: the search's sort_metric)."),
                    decreasing: bool | None = Query(None, description="Default: best first (lowest FID, highest "
                                                    "precision, ...).")) -> dict[str, Any]:
    return leaderboard_out(ctx, search_id, sort_by, decreasing)


@router.get("/automl/{search_id}/events", responses={200: {"content": {"text/event-stream": {}},
                                                           "description": "Search snapshots as Server-Sent Events."},
                                                      **ERRORS},
            response_class=StreamingResponse, summary="Stream the search and its leaderboard until it ends (SSE)")
async def search_events(search_id: str, request: Request, ctx: Context = Depends(get_ctx)) -> StreamingResponse:
    def snapshot() -> dict[str, Any]:
        out = search_out(ctx, search_job(ctx, search_id))
        out["rows"] = leaderboard.rows(ctx.db, search_id, out["sort_metric"])
        return out

    first = await run_in_threadpool(snapshot)
    return snapshot_events(request, "search", first, snapshot, poll_secs=0.5)


@router.post("/automl/{search_id}/cancel", response_model=SearchOut, responses=ERRORS,
             summary="Cancel a search (and its worker jobs); its finished models stay")
def cancel_search(search_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    search_job(ctx, search_id)
    ctx.supervisor.cancel(search_id)
    return search_out(ctx, search_job(ctx, search_id))


@router.post("/automl/{search_id}/resume", response_model=SearchOut, responses=ERRORS,
             summary="Resume a cancelled, interrupted or failed search from its study (finished candidates are kept)")
def resume_search(search_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    search_job(ctx, search_id)
    ctx.supervisor.resume(search_id)
    return search_out(ctx, search_job(ctx, search_id))


@router.post("/automl/{search_id}/serve", response_model=ServedOut, responses=ERRORS,
             summary="Make a model of this leaderboard the one served as /v2/models/{project_name}")
def serve_model(search_id: str, body: ServeIn, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    row = search_job(ctx, search_id)
    entry = next((r for r in leaderboard.rows(ctx.db, row.id, "created") if r["model_id"] == body.model_id), None)
    if entry is None:
        raise ApiError(422, f"model_id: {body.model_id[:128]!r} is no model on the leaderboard of {row.id!r}; pick "
                            f"one from /api/v1/automl/{row.id}/leaderboard.")
    if ctx.repo.find(ModelRow, body.model_id) is None:
        raise ApiError(409, f"model {body.model_id!r} was deleted; pick another one of the leaderboard.")
    if entry["status"] == "memorizes":
        raise ApiError(409, f"model {body.model_id!r} is flagged: it copies training images ({entry['reason']}). "
                            f"To serve it anyway, name it explicitly: PUT /api/v1/served/{project_name(row)}.")
    return leaderboard.serve(ctx.db, project_name(row), body.model_id, search_id=row.id, chosen=True)

