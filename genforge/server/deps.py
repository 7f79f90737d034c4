"""What the routes share: the server context (settings, database, stores, supervisor), row converters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from genforge.server.db import Database, FrameRow, JobRow, ModelRow
from genforge.server.jobs import Supervisor
from genforge.server.repository import Repository
from genforge.server.settings import Settings
from genforge.server.store import Stores

PNG = {200: {"content": {"image/png": {}}, "description": "A PNG image."}}


@dataclass
class Context:
    settings: Settings
    db: Database
    stores: Stores
    supervisor: Supervisor
    repo: Repository


def get_ctx(request: Request) -> Context:
    return request.app.state.ctx


def iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def is_generator(algo: str) -> bool:
    """Whether the registered estimator ``algo`` makes images (its ``generates`` flag)."""
    from genforge.estimators import ESTIMATORS

    return bool(getattr(ESTIMATORS.get(algo), "generates", False))


def frame_out(row: FrameRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "source": row.source, "kind": row.kind, "rows": row.rows,
            "height": row.height, "width": row.width, "channels": row.channels, "class_names": row.class_names,
            "class_counts": row.class_counts, "skipped": row.skipped or 0, "created": iso(row.created)}


def job_out(row: JobRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind or "train", "algo": row.algo, "status": row.status,
            "progress": row.progress or 0.0, "message": row.message or "", "training_frame": row.training_frame,
            "validation_frame": row.validation_frame, "parameters": row.parameters or {}, "epoch": row.epoch or 0,
            "epochs": row.epochs or 0, "images_per_sec": row.images_per_sec, "eta_secs": row.eta_secs,
            "metrics": row.metrics, "history": row.history or [], "model_id": row.model_id,
            "result": row.result, "parent": row.parent, "created": iso(row.created), "started": iso(row.started),
            "finished": iso(row.finished)}


def public_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """A model's parameters without the server's own paths (run folder, checkpoint folder)."""
    out = {k: v for k, v in (params or {}).items() if k not in ("run_dir", "verbose")}
    if isinstance(out.get("checkpoint"), str) and ("/" in out["checkpoint"] or "\\" in out["checkpoint"]):
        out["checkpoint"] = None
    return out


def model_out(row: ModelRow, full: bool = True) -> dict[str, Any]:
    return {"id": row.id, "algo": row.algo, "generator": is_generator(row.algo),
            "parameters": public_params(row.parameters),
            "frame_schema": row.frame_schema, "metrics": row.metrics or {},
            "history": (row.history or []) if full else None,
            "training_events": list((row.info or {}).get("training_events") or []) if full else None,
            "job_id": row.job_id, "source": row.source,
            "format": row.format or "genforge", "created": iso(row.created)}
