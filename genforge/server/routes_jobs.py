"""``/api/v1/estimators`` (parameter schemas) and ``/api/v1/jobs`` (training and evaluate jobs, their
progress as Server-Sent Events, cancel and resume). Evaluate jobs are started by ``POST
/api/v1/models/{id}/evaluate`` (routes_models)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Callable, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select

from genforge.errors import ParameterError
from genforge.estimators import ESTIMATORS, get_estimator
from genforge.server.db import FINAL_STATUSES, JobRow, ModelRow
from genforge.server.deps import PNG, Context, get_ctx, is_generator, job_out
from genforge.server.errors import ApiError, not_found
from genforge.server.paths import check_job_parameters
from genforge.server.routes_frames import load_frame
from genforge.server.schemas import ErrorOut, EstimatorOut, JobCreate, JobOut

router = APIRouter(prefix="/api/v1", tags=["jobs"])
ERRORS = {code: {"model": ErrorOut} for code in (404, 409, 422)}
Status = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
SERVER_PARAMS = ("run_dir", "verbose")  # set by the server for every job
CHECKPOINT_HELP = "A model id on this server to continue training from (its epochs count towards 'epochs')."


def estimator_out(algo: str) -> dict[str, Any]:
    cls = get_estimator(algo)
    params = []
    for schema in cls.PARAMS.schema():
        if schema["name"] in SERVER_PARAMS:
            continue
        if schema["name"] == "checkpoint":
            schema = {**schema, "help": CHECKPOINT_HELP}
        params.append(schema)
    doc = (cls.__doc__ or "").strip().splitlines()
    return {"algo": algo, "name": cls.__name__, "description": doc[0] if doc else "",
            "generator": is_generator(algo), "parameters": params}


@router.get("/estimators", response_model=list[EstimatorOut], tags=["estimators"],
            summary="Every algorithm with its parameter schema")
def list_estimators() -> list[dict[str, Any]]:
    return [estimator_out(algo) for algo in sorted(ESTIMATORS)]


@router.get("/estimators/{algo}", response_model=EstimatorOut, tags=["estimators"], responses=ERRORS,
            summary="One algorithm's parameter schema")
def one_estimator(algo: str) -> dict[str, Any]:
    if algo not in ESTIMATORS:
        raise not_found("algorithm", algo)
    return estimator_out(algo)


def validate_job(ctx: Context, body: JobCreate) -> dict[str, Any]:
    """Check the algorithm, parameters and frames as ``train`` would; returns the parameters to store."""
    if body.algo not in ESTIMATORS:
        raise ApiError(422, f"algo: unknown algorithm {body.algo!r}; choose one of: {', '.join(sorted(ESTIMATORS))}.")
    cls = ESTIMATORS[body.algo]
    for name in body.parameters:
        if name in SERVER_PARAMS:
            raise ApiError(422, f"parameters.{name}: set by the server for every job; leave it out.")
    params = dict(body.parameters)
    check_job_parameters(ctx.db, params, {s["name"]: s for s in cls.PARAMS.schema()})  # no file names
    try:
        model = cls(**params)
        checkpoint = model.get_params()["checkpoint"]
        if checkpoint is not None:
            _check_checkpoint(ctx, body.algo, checkpoint)
            model.set_params(checkpoint=None)  # the model id is resolved to its folder by the worker
        model.validated_params()
    except ParameterError as error:
        raise ApiError(422, f"parameters: {error}") from None
    frame = load_frame(ctx, body.training_frame)
    if body.validation_frame:
        valid = load_frame(ctx, body.validation_frame)
        if valid.image_shape != frame.image_shape:
            raise ApiError(422, f"validation_frame: images are {valid.image_shape}, the training frame's "
                                f"{frame.image_shape} (H, W, C); import it with the same image_size and channels.")
    try:
        model.check_training_frame(frame)
    except (ParameterError, ValueError) as error:
        raise ApiError(422, f"training_frame: {error}") from None
    return {model.PARAMS.canonical(k): v for k, v in params.items()}


def _check_checkpoint(ctx: Context, algo: str, checkpoint: Any) -> None:
    if not isinstance(checkpoint, str):
        raise ApiError(422, "parameters.checkpoint: expected a model id (a string).")
    row = ctx.repo.find(ModelRow, checkpoint)
    if row is None:
        raise ApiError(422, f"parameters.checkpoint: no model {checkpoint!r} on this server; list them at /api/v1/models.")
    if row.algo != algo:
        raise ApiError(422, f"parameters.checkpoint: {checkpoint!r} is a {row.algo!r} model, this job trains {algo!r}.")
    if row.format == "onnx":
        raise ApiError(422, f"parameters.checkpoint: {checkpoint!r} is an ONNX export, which cannot be trained "
                            "further; name the genforge model it was exported from.")


@router.post("/jobs", status_code=201, response_model=JobOut, responses=ERRORS, summary="Start a training job")
def create_job(body: JobCreate, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    params = validate_job(ctx, body)
    epochs = params.get("epochs", ESTIMATORS[body.algo].PARAMS["epochs"].default)
    row = ctx.repo.add_job("train", body.algo, body.training_frame, params, epochs=int(epochs),
                           validation_frame=body.validation_frame)
    ctx.supervisor.notify()
    return job_out(row)


@router.get("/jobs", response_model=list[JobOut], summary="List jobs, newest first")
def list_jobs(status: Status | None = Query(None, description="Only jobs with this status."),
              ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    query = select(JobRow).order_by(JobRow.created.desc(), JobRow.id)
    if status is not None:
        query = query.where(JobRow.status == status)
    with ctx.db.session() as session:
        return [job_out(r) for r in session.scalars(query)]


def job_snapshot(ctx: Context, job_id: str) -> dict[str, Any]:
    return job_out(ctx.repo.job(job_id))


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS, summary="A job's status and progress")
def get_job(job_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return job_snapshot(ctx, job_id)


@router.get("/jobs/{job_id}/events", responses={200: {"content": {"text/event-stream": {}},
                                                      "description": "Job snapshots as Server-Sent Events."},
                                                 **ERRORS},
            response_class=StreamingResponse, summary="Stream the job's snapshots until it ends (SSE)")
async def job_events(job_id: str, request: Request, ctx: Context = Depends(get_ctx)) -> StreamingResponse:
    first = await run_in_threadpool(job_snapshot, ctx, job_id)
    return snapshot_events(request, "job", first, lambda: job_snapshot(ctx, job_id), poll_secs=0.3)


def snapshot_events(request: Request, event: str, first: dict[str, Any], fetch: Callable[[], dict[str, Any]],
                    poll_secs: float) -> StreamingResponse:
    """Server-Sent Events of a job's (or a search's) snapshots: ``first``, then each changed one that
    ``fetch`` (run in the thread pool every ``poll_secs``) returns, until its status is final, the client
    goes or the job is deleted; a keep-alive comment after 15 quiet seconds."""

    async def stream():
        snapshot, last, last_sent = first, None, time.monotonic()
        while True:
            if snapshot != last:
                yield f"event: {event}\ndata: {json.dumps(snapshot)}\n\n"
                last, last_sent = snapshot, time.monotonic()
            if snapshot["status"] in FINAL_STATUSES or await request.is_disconnected():
                return
            if time.monotonic() - last_sent > 15:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            await asyncio.sleep(poll_secs)
            try:
                snapshot = await run_in_threadpool(fetch)
            except ApiError:  # deleted while streaming
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=ERRORS, summary="Cancel a queued or running job")
def cancel_job(job_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    ctx.supervisor.cancel(job_id)
    return job_snapshot(ctx, job_id)


@router.post("/jobs/{job_id}/resume", response_model=JobOut, responses=ERRORS,
             summary="Resume a cancelled, interrupted or failed job from its last checkpoint")
def resume_job(job_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    ctx.supervisor.resume(job_id)
    return job_snapshot(ctx, job_id)


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response, responses=ERRORS,
               summary="Delete a finished job and its run folder (its model stays)")
def delete_job(job_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    ctx.repo.delete_job(job_id)
    return Response(status_code=204)


def _run_file(ctx: Context, job_id: str, name: str) -> Path:
    run_dir = Path(ctx.repo.job(job_id).run_dir)
    if name == "samples":
        grids = sorted((run_dir / "samples").glob("epoch_*.png"))
        if not grids:
            raise ApiError(404, f"job {job_id!r} has no sample grid yet (one is written after each epoch).")
        return grids[-1]
    path = run_dir / "history.png"
    if not path.is_file():
        raise ApiError(404, f"job {job_id!r} has no history plot yet (one is written after each epoch).")
    return path


@router.get("/jobs/{job_id}/samples.png", response_class=FileResponse, responses={**PNG, **ERRORS},
            summary="The latest epoch's sample grid")
def job_samples(job_id: str, ctx: Context = Depends(get_ctx)) -> FileResponse:
    return FileResponse(_run_file(ctx, job_id, "samples"), media_type="image/png")


@router.get("/jobs/{job_id}/history.png", response_class=FileResponse, responses={**PNG, **ERRORS},
            summary="The loss curves so far")
def job_history_plot(job_id: str, ctx: Context = Depends(get_ctx)) -> FileResponse:
    return FileResponse(_run_file(ctx, job_id, "history"), media_type="image/png")
