"""``/api/v1/frames``: import a built-in or server-side dataset, upload a file, list, preview, delete."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.imaging import make_grid, png_bytes
from genforge.server.db import FrameRow
from genforge.server.deps import PNG, Context, frame_out, get_ctx
from genforge.server.errors import ApiError, describe_validation
from genforge.server.schemas import IMPORT_OPTIONS, DatasetOut, ErrorOut, FrameImport, FrameOut, ImportOptions
from genforge.server.store import check_size, import_frame, import_options

router = APIRouter(prefix="/api/v1", tags=["frames"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 403, 404, 409, 413, 415, 422)}

def form_fields(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``model``'s fields as multipart form fields: optional ones without their null."""
    fields = {}
    for name, schema in model.model_json_schema()["properties"].items():
        choices = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        fields[name] = {**choices[0], **({"description": schema["description"]} if "description" in schema else {})}
    return fields


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": FrameImport.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "A CSV, .zip of images, .npz/.npy, IDX (.gz) or Parquet file."},
                    "name": {"type": "string"},
                    **form_fields(ImportOptions),  # the same rules as the JSON body's options
                },
            }},
        },
    }
}


@router.get("/datasets", response_model=list[DatasetOut], summary="Built-in datasets this server can import")
def list_builtin() -> list[dict[str, Any]]:
    from genforge.data import list_datasets

    return [{k: entry.get(k) for k in ("name", "description", "available", "rows")} for entry in list_datasets()]


@router.post("/frames", status_code=201, response_model=FrameOut, responses=ERRORS, openapi_extra=_UPLOAD_BODY,
             summary="Import a dataset: JSON {source} or a multipart upload (field 'file')")
async def create_frame(request: Request, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _upload(request, ctx)
    if kind not in ("application/json", ""):
        raise ApiError(415, "send JSON {\"source\": ...} or a multipart/form-data upload with the field 'file'.")
    try:
        body = FrameImport.model_validate_json(await request.body() or b"{}")
    except ValidationError as error:
        raise ApiError(422, describe_validation(error)) from None
    frame, source_kind = await run_in_threadpool(import_frame, ctx.settings, body.source, body.options())
    return await run_in_threadpool(register, ctx, frame, body.name or body.source, body.source, source_kind)


async def _upload(request: Request, ctx: Context) -> dict[str, Any]:
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", None):
        raise ApiError(422, "file: the multipart upload needs a file in the field 'file'.")
    options = import_options({k: form.get(k) for k in IMPORT_OPTIONS}, form=True)
    filename = _safe_name(upload.filename)
    workdir = Path(tempfile.mkdtemp(prefix="upload-", dir=ctx.settings.data_dir))
    try:
        target = workdir / filename
        with open(target, "wb") as handle:
            while chunk := await upload.read(1 << 20):
                handle.write(chunk)
        from genforge.data import import_file
        from genforge.server.limits import import_limits

        def work() -> dict[str, Any]:
            # Errors name the file by its temporary path; genforge.server.scrub sends it as the user named it.
            frame = import_file(str(target), **options, limit=ctx.settings.max_images + 1,
                                **import_limits(ctx.settings))
            check_size(ctx.settings, frame)
            name = form.get("name") if isinstance(form.get("name"), str) and form.get("name") else upload.filename
            return register(ctx, frame, str(name)[:256], str(upload.filename)[:1024], "upload")

        return await run_in_threadpool(work)
    finally:
        await form.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _safe_name(filename: str) -> str:
    """The upload's base name with only safe characters (readers look at suffixes such as .csv, .idx3-ubyte.gz)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename.replace("\\", "/")).name).lstrip(".")[-120:]
    return name or "upload"


def register(ctx: Context, frame: Frame, name: str, source: str, kind: str) -> dict[str, Any]:
    """Store and record an imported frame; its API record."""
    return frame_out(ctx.repo.register_frame(frame, name, source, kind))


@router.get("/frames", response_model=list[FrameOut], summary="List frames")
def list_frames(ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    with ctx.db.session() as session:
        return [frame_out(r) for r in session.scalars(select(FrameRow).order_by(FrameRow.created, FrameRow.id))]


def load_frame(ctx: Context, frame_id: str) -> Frame:
    row = ctx.repo.frame(frame_id)
    return ctx.stores.frame(row.id, row.path, row.name)


@router.get("/frames/{frame_id}", response_model=FrameOut, responses=ERRORS, summary="A frame with class counts")
def get_frame(frame_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return frame_out(ctx.repo.frame(frame_id))


@router.get("/frames/{frame_id}/preview.png", response_class=Response, responses={**PNG, **ERRORS},
            summary="A grid of the frame's first images")
def preview(frame_id: str, n: int = Query(64, ge=1, le=1024), nrow: int | None = Query(None, ge=1, le=256),
            ctx: Context = Depends(get_ctx)) -> Response:
    frame = load_frame(ctx, frame_id)
    try:
        grid = make_grid(frame.images[:n], nrow=nrow)
    except DataError as error:
        raise ApiError(422, str(error)) from None
    return Response(png_bytes(grid), media_type="image/png")


@router.delete("/frames/{frame_id}", status_code=204, response_class=Response, responses=ERRORS,
               summary="Delete a frame")
def delete_frame(frame_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    ctx.repo.delete_frame(frame_id)
    ctx.stores.frames.drop(frame_id)
    return Response(status_code=204)
