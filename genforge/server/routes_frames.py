"""``/api/v1/frames``: import a built-in or server-side dataset, upload a file, list, preview, delete."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import or_, select

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.imaging import make_grid, png_bytes
from genforge.server.db import FrameRow, JobRow
from genforge.server.deps import PNG, Context, frame_out, get_ctx
from genforge.server.errors import ApiError, describe_validation, not_found
from genforge.server.schemas import DatasetOut, ErrorOut, FrameImport, FrameOut
from genforge.server.store import check_size, import_frame, import_options, new_id, save_frame

router = APIRouter(prefix="/api/v1", tags=["frames"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 403, 404, 409, 413, 415, 422)}

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
                    "image_size": {"type": "integer", "minimum": 1, "maximum": 1024},
                    "channels": {"type": "integer", "enum": [1, 3]},
                    "on_error": {"type": "string", "enum": ["raise", "skip"]},
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
    options = {"image_size": body.image_size, "channels": body.channels,
               "on_error": body.on_error if body.on_error != "raise" else None}
    frame, source_kind = await run_in_threadpool(import_frame, ctx.settings, body.source, options)
    return await run_in_threadpool(_register, ctx, frame, body.name or body.source, body.source, source_kind)


async def _upload(request: Request, ctx: Context) -> dict[str, Any]:
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", None):
        raise ApiError(422, "file: the multipart upload needs a file in the field 'file'.")
    options = import_options({k: _form_value(k, form.get(k)) for k in ("image_size", "channels", "on_error")})
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
            return _register(ctx, frame, str(name)[:256], str(upload.filename)[:1024], "upload")

        return await run_in_threadpool(work)
    finally:
        await form.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _form_value(key: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(422, f"{key}: expected a plain form value, not a file.")
    if key == "on_error":
        if value not in ("raise", "skip"):
            raise ApiError(422, f"on_error: expected 'raise' or 'skip', got {value!r}.")
        return None if value == "raise" else value
    try:
        number = int(value)
    except ValueError:
        raise ApiError(422, f"{key}: expected an integer, got {value!r}.") from None
    if key == "channels" and number not in (1, 3):
        raise ApiError(422, f"channels: expected 1 or 3, got {number}.")
    if key == "image_size" and not 1 <= number <= 1024:
        raise ApiError(422, f"image_size: expected 1..1024, got {number}.")
    return number


def _safe_name(filename: str) -> str:
    """The upload's base name with only safe characters (readers look at suffixes such as .csv, .idx3-ubyte.gz)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename.replace("\\", "/")).name).lstrip(".")[-120:]
    return name or "upload"


def _register(ctx: Context, frame: Frame, name: str, source: str, kind: str) -> dict[str, Any]:
    ident = new_id("frame")
    path = save_frame(ctx.settings, frame, ident)
    h, w, c = frame.image_shape
    row = FrameRow(id=ident, name=name, source=source, kind=kind, path=str(path), rows=len(frame), height=h,
                   width=w, channels=c, class_names=frame.class_names if frame.labels is not None else None,
                   class_counts=frame.class_counts() or None, skipped=len(getattr(frame, "skipped", []) or []))
    with ctx.db.session() as session:
        session.add(row)
        session.commit()
    return frame_out(row)


@router.get("/frames", response_model=list[FrameOut], summary="List frames")
def list_frames(ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    with ctx.db.session() as session:
        return [frame_out(r) for r in session.scalars(select(FrameRow).order_by(FrameRow.created, FrameRow.id))]


def frame_row(ctx: Context, frame_id: str) -> FrameRow:
    with ctx.db.session() as session:
        row = session.get(FrameRow, frame_id)
    if row is None:
        raise not_found("frame", frame_id)
    return row


def load_frame(ctx: Context, frame_id: str) -> Frame:
    row = frame_row(ctx, frame_id)
    return ctx.stores.frame(row.id, row.path, row.name)


@router.get("/frames/{frame_id}", response_model=FrameOut, responses=ERRORS, summary="A frame with class counts")
def get_frame(frame_id: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return frame_out(frame_row(ctx, frame_id))


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
    with ctx.db.session() as session:
        row = session.get(FrameRow, frame_id)
        if row is None:
            raise not_found("frame", frame_id)
        busy = session.scalars(select(JobRow.id).where(
            JobRow.status.in_(("queued", "running")),
            or_(JobRow.training_frame == frame_id, JobRow.validation_frame == frame_id))).first()
        if busy:
            raise ApiError(409, f"frame {frame_id!r} is used by the {busy} job, which has not finished; cancel it first.")
        session.delete(row)
        session.commit()
    Path(row.path).unlink(missing_ok=True)
    ctx.stores.frames.drop(frame_id)
    return Response(status_code=204)
