"""``/api/v1/models``: list, details, sample grids, generation, evaluation (as a job), download and upload, delete."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from genforge.errors import GenforgeError
from genforge.imaging import make_grid, png_bytes
from genforge.model_folder import META_FILE, WEIGHTS_FILE, update_meta
from genforge.server.db import ModelRow
from genforge.server.deps import PNG, Context, get_ctx, is_generator, job_out, model_out
from genforge.server.errors import ApiError
from genforge.server.schemas import MAX_SEED, ErrorOut, EvaluateIn, GenerateIn, GenerateOut, JobOut, ModelOut
from genforge.server.onnx_models import ONNX_FILE, OnnxModel
from genforge.server.schemas import InterpolateIn
from genforge.server.store import model_row_values, new_id, valid_id

router = APIRouter(prefix="/api/v1", tags=["models"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 409, 413, 415, 422)}
ZIP = {200: {"content": {"application/zip": {}}, "description": "A zip file."}}


def load(ctx: Context, row: ModelRow):
    return ctx.stores.model(row.id, row.path, row.format)


def generator(ctx: Context, model_id: str):
    row = ctx.repo.model(model_id)
    if not is_generator(row.algo):
        raise ApiError(409, f"model {model_id!r} is a {row.algo!r} model, which does not generate images.")
    return row, load(ctx, row)


@router.get("/models", response_model=list[ModelOut], summary="List models with their key metrics")
def list_models(ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    with ctx.db.session() as session:
        rows = session.scalars(select(ModelRow).order_by(ModelRow.created, ModelRow.id)).all()
    return [model_out(r, full=False) for r in rows]


@router.get("/models/{model_id}", response_model=ModelOut, responses=ERRORS,
            summary="A model's parameters, history and metrics")
def get_model(model_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return model_out(ctx.repo.model(model_id))


@router.get("/models/{model_id}/samples.png", response_class=Response, responses={**PNG, **ERRORS},
            summary="A grid of generated images (seed 0 unless given)")
def samples(model_id: str, n: int = Query(64, ge=1, le=256), seed: int = Query(0, ge=0, le=MAX_SEED),
            ctx: Context = Depends(get_ctx)) -> Response:
    _, model = generator(ctx, model_id)
    return Response(png_bytes(make_grid(model.predict(n, seed=seed).images)), media_type="image/png")


@router.post("/models/{model_id}/generate", responses={**PNG, **ZIP, **ERRORS, 200: {
                 "content": {"image/png": {}, "application/zip": {}, "application/json": {
                     "schema": GenerateOut.model_json_schema()}},
                 "description": "A PNG grid, a zip of PNGs, or JSON pixels (N, H, W, C)."}},
             summary="Generate images: a PNG grid, a zip of PNGs or JSON")
def generate(model_id: str, body: GenerateIn, ctx: Context = Depends(get_ctx)) -> Response:
    row, model = generator(ctx, model_id)
    if body.n > ctx.settings.max_generate:
        raise ApiError(422, f"n: at most {ctx.settings.max_generate} images per request, got {body.n}.")
    frame = model.predict(body.n, seed=body.seed, labels=body.labels, **body.sampling_options())
    images = np.asarray(frame.images)
    if body.format == "png":
        return Response(png_bytes(make_grid(images, nrow=body.nrow)), media_type="image/png")
    if body.format == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for i, image in enumerate(images):
                archive.writestr(f"{model_id}_{i:04d}.png", png_bytes(image))
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{model_id}-samples.zip"'})
    payload = {"n": len(images), "shape": list(images.shape),
               "labels": frame.labels.tolist() if frame.labels is not None else None,
               "class_names": frame.class_names if frame.labels is not None else None, "images": images.tolist()}
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


@router.post("/models/{model_id}/interpolate", response_class=Response, responses={**PNG, **ERRORS},
             summary="A latent walk: one row of images along the path between two seeds' noise")
def interpolate(model_id: str, body: InterpolateIn, ctx: Context = Depends(get_ctx)) -> Response:
    _, model = generator(ctx, model_id)
    frame = model.interpolate(body.seed_a, body.seed_b, steps=body.steps, label=body.label)
    return Response(png_bytes(make_grid(np.asarray(frame.images), nrow=body.steps)), media_type="image/png")


@router.post("/models/{model_id}/evaluate", status_code=202, response_model=JobOut, responses=ERRORS,
             summary="Score the model on a frame, as a job: the scores go to the job's result and the model")
def evaluate(model_id: str, body: EvaluateIn, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    """``model_performance(frame)`` runs in a worker process, queued with the training jobs (``--max-jobs``);
    follow the job at /api/v1/jobs/{id} (or its /events): when done, its ``result`` is
    ``{"model_id", "frame", "metrics"}`` and the metrics are stored with the model."""
    row = ctx.repo.model(model_id)
    if row.format == "onnx":
        raise ApiError(409, f"model {model_id!r} is an ONNX export, which only generates images; evaluate the "
                            "genforge model it was exported from.")
    frame = ctx.repo.frame(body.frame)
    schema = row.frame_schema or {}
    shape = tuple(schema.get(k) for k in ("height", "width", "channels"))
    if None not in shape and shape != (frame.height, frame.width, frame.channels):
        raise ApiError(422, f"frame: images are {(frame.height, frame.width, frame.channels)} (H, W, C), this model's "
                            f"{shape}; import the frame with the model's image_size and channels.")
    job = ctx.repo.add_job("evaluate", row.algo, frame.id, {"frame": frame.id}, model_id=model_id,
                           message=f"queued: evaluate {model_id} on {frame.id}")
    ctx.supervisor.notify()
    return job_out(job)


@router.get("/models/{model_id}/download", response_class=Response, responses={**ZIP, **ERRORS, 200: {
                "content": {"application/zip": {}, "application/octet-stream": {}},
                "description": "A zip of the model folder, or the .onnx file of an ONNX model."}},
            summary="The model folder (model.json + weights.safetensors) as a zip, or an ONNX model's .onnx file")
def download(model_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    row = ctx.repo.model(model_id)
    folder = Path(row.path)
    if row.format == "onnx":
        return Response((folder / ONNX_FILE).read_bytes(), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{model_id}.onnx"'})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (META_FILE, WEIGHTS_FILE):
            archive.write(folder / name, f"{model_id}/{name}")
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{model_id}.zip"'})


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "A zip holding model.json and weights.safetensors (as /download gives), "
                                           "or a file named *.onnx that `genforge export MODEL --format onnx` "
                                           "wrote (a GAN generator or VAE decoder)."}},
}}}}}


@router.post("/models", status_code=201, response_model=ModelOut, responses=ERRORS, openapi_extra=_UPLOAD_BODY,
             summary="Upload a saved model (a zip of model.json + weights.safetensors) or an exported .onnx generator")
async def upload_model(request: Request, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise ApiError(415, "upload the model as multipart/form-data with a zip in the field 'file'.")
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "file: the multipart upload needs a zip in the field 'file'.")
        data = await upload.read()
        onnx = (upload.filename or "").lower().endswith(".onnx")
    finally:
        await form.close()
    return await run_in_threadpool(_install_onnx if onnx else _install_model, ctx, data)


def _install_onnx(ctx: Context, data: bytes) -> dict[str, Any]:
    """Keep an exported generator as models/<id>/model.onnx, once onnxruntime has loaded and run it."""
    staging = ctx.repo.staging(".upload-")
    try:
        (staging / ONNX_FILE).write_bytes(data)
        try:
            model = OnnxModel(staging)
        except GenforgeError as error:
            text = str(error).replace(str(staging / ONNX_FILE), "the uploaded file").replace(str(staging), "upload")
            raise ApiError(422, f"file: {text.rstrip('.')}. Upload the file that `genforge export MODEL --format "
                                "onnx` writes for a GAN or VAE model.") from None
        ident = new_id(f"{model.algo}-onnx")
        return model_out(ctx.repo.add_model(ident, staging, model.row_values(ctx.settings.models_dir / ident)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _install_model(ctx: Context, data: bytes) -> dict[str, Any]:
    from genforge.artifacts import load_model

    staging = ctx.repo.staging(".upload-")
    try:
        _extract(data, staging, ctx.settings.max_upload_bytes)
        try:
            model = load_model(staging)  # safetensors and JSON only; checks the format and the checksum
        except (GenforgeError, KeyError, TypeError, ValueError) as error:
            raise ApiError(422, f"file: not a loadable genforge model ({error}).") from None
        ident = str(model.model_id or "")
        if not valid_id(ident) or ctx.repo.id_taken(ident):
            ident = new_id(f"{model.algo}-upload")
            update_meta(staging, model_id=ident)
        values = model_row_values(staging, source="upload")
        return model_out(ctx.repo.add_model(ident, staging, values))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(data: bytes, staging: Path, limit: int) -> None:
    """Copy model.json and weights.safetensors out of the zip (at its top or in one folder); nothing else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ApiError(422, "file: not a zip archive; upload the zip that /download gives, or an exported "
                            "generator as a file named *.onnx.") from None
    with archive:
        found = {}
        for info in archive.infolist():
            parts = info.filename.replace("\\", "/").strip("/").split("/")
            if info.is_dir() or len(parts) > 2 or parts[-1] not in (META_FILE, WEIGHTS_FILE):
                continue
            if parts[-1] in found:
                raise ApiError(422, f"file: the zip holds more than one {parts[-1]}; upload one model at a time.")
            if info.file_size > limit:
                raise ApiError(413, f"file: {info.filename} inflates to {info.file_size} bytes, over the limit of {limit}.")
            found[parts[-1]] = info
        missing = [n for n in (META_FILE, WEIGHTS_FILE) if n not in found]
        if missing:
            raise ApiError(422, f"file: the zip lacks {', '.join(missing)}; a model is model.json + weights.safetensors.")
        for name, info in found.items():
            with archive.open(info) as source, open(staging / name, "wb") as target:
                copied = 0
                while block := source.read(1 << 20):
                    copied += len(block)
                    if copied > limit:
                        raise ApiError(413, f"file: {name} inflates past the limit of {limit} bytes.")
                    target.write(block)


@router.delete("/models/{model_id}", status_code=204, response_class=Response, responses=ERRORS,
               summary="Delete a model and its files")
def delete_model(model_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    ctx.repo.delete_model(model_id)
    ctx.stores.models.drop(model_id)
    return Response(status_code=204)
