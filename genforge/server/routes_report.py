"""``/api/v1/models/{id}/report`` (a job), ``report.html`` / ``report.json`` (the newest finished report),
``directions`` and ``traverse`` (a walk along a latent direction, as a PNG grid).

The traversal follows the directions of the model's newest report when it has one. Without a report they
are found in the request from 512 samples: for a GAN or VAE that is a few hundred milliseconds (one batch of
small images and a PCA), cached per model; a diffusion model needs many denoising steps per sample, so it
gets a 409 asking for a report (a job) first.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from genforge.errors import GenforgeError
from genforge.imaging import make_grid, png_bytes
from genforge.server.db import JobRow
from genforge.server.deps import PNG, Context, get_ctx, job_out
from genforge.server.errors import ApiError
from genforge.server.report_job import REPORT_HTML, REPORT_JSON
from genforge.server.routes_models import ERRORS, generator
from genforge.server.schemas import JobOut, ReportIn, TraverseIn

router = APIRouter(prefix="/api/v1", tags=["models"])
HTML = {200: {"content": {"text/html": {}}, "description": "A self-contained HTML page."}}
DIRECTION_SAMPLES = 512
_CACHE: dict[tuple[str, str], dict[str, Any]] = {}  # (model id, created) -> directions found in a request
_LOCK = threading.Lock()


@router.post("/models/{model_id}/report", status_code=202, response_model=JobOut, responses=ERRORS,
             summary="Write the model report (samples, copies, bias, training health, latent directions), as a job")
def create_report(model_id: str, body: ReportIn, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    """``model.report(frame)`` runs in a worker process, queued with the training jobs; when the job is done,
    GET .../report.html and .../report.json give the page and its figures."""
    row, _ = generator(ctx, model_id)
    if row.format == "onnx":
        raise ApiError(409, f"model {model_id!r} is an ONNX export, which keeps no history or evaluator; report on "
                            "the genforge model it was exported from.")
    shape = tuple((row.frame_schema or {}).get(k) for k in ("height", "width", "channels"))
    for key in ("frame", "training_frame"):
        frame_id = getattr(body, key)
        if frame_id is None:
            continue
        frame = ctx.repo.frame(frame_id)
        if None not in shape and shape != (frame.height, frame.width, frame.channels):
            raise ApiError(422, f"{key}: images are {(frame.height, frame.width, frame.channels)} (H, W, C), this "
                                f"model's {shape}; import the frame with the model's image_size and channels.")
    params = body.model_dump()
    job = ctx.repo.add_job("report", row.algo, body.frame, params, model_id=model_id,
                           message=f"queued: report on {model_id} against {body.frame}")
    ctx.supervisor.notify()
    return job_out(job)


def _latest(ctx: Context, model_id: str) -> Path:
    ctx.repo.model(model_id)  # 404 for an unknown model
    with ctx.db.session() as session:
        runs = session.scalars(select(JobRow.run_dir).where(
            JobRow.kind == "report", JobRow.model_id == model_id, JobRow.status == "done")
            .order_by(JobRow.finished.desc(), JobRow.id.desc())).all()
    for run_dir in runs:
        if (Path(run_dir) / REPORT_HTML).is_file() and (Path(run_dir) / REPORT_JSON).is_file():
            return Path(run_dir)
    raise ApiError(404, f"model {model_id!r} has no report yet; POST /api/v1/models/{model_id}/report to write one.")


@router.get("/models/{model_id}/report.html", response_class=Response, responses={**HTML, **ERRORS},
            summary="The model's newest report as one self-contained HTML page")
def report_html(model_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    page = (_latest(ctx, model_id) / REPORT_HTML).read_bytes()
    # The page holds no script; the policy says so to the browser as well.
    return Response(page, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


@router.get("/models/{model_id}/report.json", responses=ERRORS, summary="The figures of the model's newest report")
def report_json(model_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    return Response((_latest(ctx, model_id) / REPORT_JSON).read_bytes(), media_type="application/json")


def directions(ctx: Context, model_id: str) -> tuple[Any, dict[str, Any], str]:
    """The model, its directions ({"main": [...], "classes": [...]}) and where they come from."""
    row, model = generator(ctx, model_id)
    model = getattr(model, "runtime", model)  # an ONNX export: its OnnxGenerator walks the latent space
    try:
        data = json.loads((_latest(ctx, model_id) / REPORT_JSON).read_text())
        found = data.get("directions") or {}
        if "main" in found:
            return model, found, "report"
    except ApiError:
        pass
    if row.algo == "diffusion":
        raise ApiError(409, f"model {model_id!r} is a diffusion model: finding its directions takes thousands of "
                            f"denoising steps; POST /api/v1/models/{model_id}/report first (a job), then walk them.")
    key = (row.id, str(row.created))
    with _LOCK:
        if key not in _CACHE:
            from genforge.report.directions import all_directions
            from genforge.server.paths import resolve_evaluator

            try:
                extractor = resolve_evaluator(ctx.db, (row.parameters or {}).get("evaluator"))
            except ApiError:
                extractor = None
            try:
                _CACHE[key] = all_directions(model, k=5, samples=DIRECTION_SAMPLES, extractor=extractor)
            except GenforgeError as error:
                raise ApiError(409, f"no latent directions for model {model_id!r}: {error}") from None
        return model, _CACHE[key], "computed"


@router.get("/models/{model_id}/directions", responses=ERRORS,
            summary="The model's latent directions: main ones (pc1, ...) and toward each class (class:NAME)")
def list_directions(model_id: str, vectors: bool = Query(False, description="Include the unit vectors."),
                    ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    _, found, source = directions(ctx, model_id)

    def public(entry: dict, prefix: str) -> dict:
        out = {k: v for k, v in entry.items() if k != "vector" or vectors}
        out["id"] = f"{prefix}{entry['name']}"
        return out

    return {"source": source, "main": [public(d, "") for d in found.get("main", [])],
            "classes": [public(d, "class:") for d in found.get("classes", []) if "vector" in d],
            "skipped": {d["name"]: d["skipped"] for d in found.get("classes", []) if "skipped" in d}}


@router.post("/models/{model_id}/traverse", response_class=Response, responses={**PNG, **ERRORS},
             summary="A walk along a latent direction: rows of images from -scale to +scale")
def traverse(model_id: str, body: TraverseIn, ctx: Context = Depends(get_ctx)) -> Response:
    model, found, _ = directions(ctx, model_id)
    if body.direction.startswith("class:"):
        name = body.direction[len("class:"):]
        entry = next((d for d in found.get("classes", []) if d["name"] == name and "vector" in d), None)
        known = [d["name"] for d in found.get("classes", []) if "vector" in d]
    else:
        entry = next((d for d in found.get("main", []) if d["name"] == body.direction), None)
        known = [d["name"] for d in found.get("main", [])]
    if entry is None:
        raise ApiError(422, f"direction: {body.direction!r} is not a direction of model {model_id!r}; it has "
                            f"{', '.join(known[:12]) or 'none of that kind'}"
                            f"{' (prefix class names with class:)' if body.direction.startswith('class:') else ''}.")
    z = np.concatenate([model.noise(1, body.seed + i) for i in range(body.rows)])
    labels = None if body.label is None else [body.label] * body.rows
    frame = model.traverse(z, np.asarray(entry["vector"], np.float32), steps=body.steps, scale=body.scale, labels=labels)
    return Response(png_bytes(make_grid(np.asarray(frame.images), nrow=body.steps)), media_type="image/png")
