"""The server's state changes, in one place: rows of frames, jobs and models together with their files.

Routes, the training/evaluation worker and the startup preload all go through :class:`Repository`, so that
a row and its file are created, changed and removed together: a frame's ``.npz`` file is written before its
row is committed and removed if the commit fails; a model folder is moved to ``models/<id>/`` and kept only
once its row is committed (a finished job's row update is in the same transaction); model metrics go to the
row and, through ``genforge.artifacts.model_io.write_metrics``, to the folder's model.json.
Lookups raise the API's 404 (``ApiError``), state conflicts its 409.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from genforge.errors import GenforgeError
from genforge.frame import Frame
from genforge.server.db import (MODEL_JOB_KINDS, SEARCH_KINDS, Database, FrameRow, JobRow, LeaderboardRow, ModelRow,
                                ServedRow, utcnow)
from genforge.server.errors import ApiError, not_found
from genforge.server.settings import Settings
from genforge.server.store import new_id, save_frame

log = logging.getLogger("genforge.server")
Row = TypeVar("Row", FrameRow, JobRow, ModelRow)
ACTIVE = ("queued", "running")
STAGING_PREFIXES = (".upload-", ".pending-")  # model folders being written (uploads, finished jobs)
_WHAT = {FrameRow: "frame", JobRow: "job", ModelRow: "model"}
_ID_PREFIXES = {"train": "job", "evaluate": "eval", "report": "report", "automl": "automl", "grid": "grid",
               "search-worker": "trials"}


class JobGone(Exception):
    """The job was cancelled or taken over by another attempt: its worker stops without recording anything."""


class RecordError(GenforgeError, RuntimeError):
    """The database refused to record a change (the files that went with it were removed)."""


@dataclass
class JobEnd:
    """A worker's final update of its job: applied only while the job is still ``running`` under ``attempt``."""

    job_id: str
    attempt: int
    values: dict[str, Any] = field(default_factory=dict)


def require(session: Session, cls: type[Row], ident: str) -> Row:
    """The row ``ident`` of ``cls`` in ``session``, or the API's 404 naming it."""
    row = session.get(cls, ident)
    if row is None:
        raise not_found(_WHAT[cls], ident)
    return row


def end_job(session: Session, end: JobEnd) -> None:
    """Apply ``end`` in ``session`` (not committed); raises JobGone when the job has moved on."""
    result = session.execute(
        update(JobRow).where(JobRow.id == end.job_id, JobRow.attempt == end.attempt, JobRow.status == "running")
        .values(updated=utcnow(), **end.values))
    if result.rowcount == 0:
        raise JobGone()


def _refused(what: str, error: SQLAlchemyError) -> RecordError:
    # The driver's own message, without the SQL statement and its parameters (they hold server-side paths).
    reason = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0][:200]
    return RecordError(f"the database refused to record {what} ({reason}); nothing was kept.")


class Repository:
    """Frames, jobs and models of one server: its database and its data dir."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    # ------------------------------------------------------------------------------ lookups (404)
    def get(self, cls: type[Row], ident: str) -> Row:
        with self.db.session() as session:
            return require(session, cls, ident)

    def frame(self, ident: str) -> FrameRow:
        return self.get(FrameRow, ident)

    def job(self, ident: str) -> JobRow:
        return self.get(JobRow, ident)

    def model(self, ident: str) -> ModelRow:
        return self.get(ModelRow, ident)

    def find(self, cls: type[Row], ident: str | None) -> Row | None:
        """The row, or None (for the worker, which reports a missing row on its job instead of as a 404)."""
        if not ident:
            return None
        with self.db.session() as session:
            return session.get(cls, ident)

    # ------------------------------------------------------------------------------ frames
    def register_frame(self, frame: Frame, name: str, source: str, kind: str) -> FrameRow:
        """Store ``frame`` as ``frames/<id>.npz`` and record it; the file is removed if the row is not kept."""
        ident = new_id("frame")
        path = save_frame(self.settings, frame, ident)
        h, w, c = frame.image_shape
        row = FrameRow(id=ident, name=name, source=source, kind=kind, path=str(path), rows=len(frame), height=h,
                       width=w, channels=c, class_names=frame.class_names if frame.labels is not None else None,
                       class_counts=frame.class_counts() or None, skipped=len(getattr(frame, "skipped", []) or []))
        try:
            with self.db.session() as session:
                session.add(row)
                session.commit()
        except BaseException as error:
            path.unlink(missing_ok=True)
            if isinstance(error, SQLAlchemyError):
                raise _refused(f"the frame {name!r}", error) from None
            raise
        return row

    def has_builtin(self, name: str) -> bool:
        with self.db.session() as session:
            return session.scalars(select(FrameRow.id).where(FrameRow.kind == "builtin",
                                                             FrameRow.source == name)).first() is not None

    def delete_frame(self, ident: str) -> FrameRow:
        """Remove the frame and its file; 409 while a queued or running job uses it."""
        with self.db.session() as session:
            row = require(session, FrameRow, ident)
            busy = session.scalars(select(JobRow.id).where(
                JobRow.status.in_(ACTIVE), or_(JobRow.training_frame == ident, JobRow.validation_frame == ident))).first()
            busy = busy or next((j.id for j in session.scalars(select(JobRow).where(  # a search's leaderboard_frame
                JobRow.status.in_(ACTIVE), JobRow.kind.in_(SEARCH_KINDS)))
                if (j.parameters or {}).get("leaderboard_frame") == ident), None)
            if busy:
                raise ApiError(409, f"frame {ident!r} is used by the {busy} job, which has not finished; cancel it first.")
            session.delete(row)
            session.commit()
        Path(row.path).unlink(missing_ok=True)
        return row

    # ------------------------------------------------------------------------------ jobs
    def add_job(self, kind: str, algo: str, frame: str, parameters: dict[str, Any], *, epochs: int = 0,
                validation_frame: str | None = None, model_id: str | None = None, message: str = "queued",
                parent: str | None = None) -> JobRow:
        """A queued job (``kind``: one of db.JOB_KINDS) with its run folder under ``runs/<id>``."""
        ident = new_id(_ID_PREFIXES.get(kind, kind))
        row = JobRow(id=ident, kind=kind, algo=algo, training_frame=frame, validation_frame=validation_frame,
                     parameters=parameters, status="queued", progress=0.0, message=message, epoch=0, epochs=epochs,
                     history=[], model_id=model_id, run_dir=str(self.settings.runs_dir / ident), attempt=0, resume=0,
                     parent=parent)
        with self.db.session() as session:
            session.add(row)
            session.commit()
        return row

    def delete_job(self, ident: str) -> JobRow:
        """Remove a finished job and its run folder (its model stays; a search's models, leaderboard and
        worker jobs go with it, its models stay); 409 while it is queued or running."""
        with self.db.session() as session:
            row = require(session, JobRow, ident)
            if row.status in ACTIVE:
                raise ApiError(409, f"job {ident!r} is {row.status}; cancel it first.")
            children = session.scalars(select(JobRow).where(JobRow.parent == ident)).all()
            busy = next((c.id for c in children if c.status in ACTIVE), None)
            if busy:
                raise ApiError(409, f"job {ident!r} still has the {busy} worker job running; cancel it first.")
            for child in children:
                session.delete(child)
            session.execute(delete(LeaderboardRow).where(LeaderboardRow.search_id == ident))
            session.delete(row)
            session.commit()
        for folder in (row.run_dir, *(c.run_dir for c in children)):
            shutil.rmtree(folder, ignore_errors=True)
        if row.kind in SEARCH_KINDS:
            self._delete_study(row.id)
        return row

    def _delete_study(self, name: str) -> None:
        """Remove a deleted search's Optuna study (its trials) from the database, when there is one."""
        try:
            import optuna

            optuna.delete_study(study_name=name, storage=self.db.url)
        except Exception as error:  # noqa: BLE001 - no study (it never started), or no Optuna: nothing to remove
            log.info("no study %s removed: %s", name, type(error).__name__)

    # ------------------------------------------------------------------------------ models
    def id_taken(self, ident: str) -> bool:
        """Whether ``ident`` names a model row or a folder in models/ already."""
        with self.db.session() as session:
            return session.get(ModelRow, ident) is not None or (self.settings.models_dir / ident).exists()

    def staging(self, prefix: str) -> Path:
        """A fresh hidden folder under models/ to write a model into before ``add_model`` moves it."""
        import tempfile

        if prefix not in STAGING_PREFIXES:  # sweep_staging removes only these at startup
            raise ValueError(f"staging prefix must be one of {STAGING_PREFIXES}, got {prefix!r}.")
        self.settings.models_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.settings.models_dir))

    def add_model(self, ident: str, staged: Path, values: dict[str, Any], end: JobEnd | None = None) -> ModelRow:
        """Move the fully written folder ``staged`` to ``models/<ident>`` and record it, with ``end`` (a
        finished job's update) in the same transaction. The folder is kept only once the row is committed:
        when the job has moved on (JobGone) or the database refuses, it is removed and the error raised.
        (A process killed in between leaves at most the folder, never a row without one.)"""
        from genforge.serialization import replace_folder

        target = self.settings.models_dir / ident
        moved = False
        try:
            replace_folder(staged, target)
            moved = True
            with self.db.session() as session:
                if end is not None:
                    end_job(session, end)
                row = session.merge(ModelRow(id=ident, **{**values, "path": str(target)}))
                session.commit()
        except BaseException as error:
            shutil.rmtree(target if moved else staged, ignore_errors=True)
            if isinstance(error, SQLAlchemyError):
                raise _refused(f"the model {ident!r}", error) from None
            raise
        return row

    def set_metrics(self, model_id: str, metrics: dict[str, Any], end: JobEnd | None = None) -> dict[str, Any]:
        """Merge ``metrics`` into the model's stored metrics, in its row and in its folder's model.json;
        with ``end`` (the evaluate job's final update) in the same transaction. Returns the merged metrics.

        model.json is rewritten before the commit, so whoever sees the job done also finds the scores in a
        download; if the folder cannot be written the database still keeps them."""
        from genforge.artifacts.model_io import write_metrics

        try:
            with self.db.session() as session:
                if end is not None:
                    end_job(session, end)  # first: takes the write lock, so concurrent merges do not lose scores
                row = session.get(ModelRow, model_id)
                if row is None:
                    raise GenforgeError(f"model {model_id!r} was deleted while it was being evaluated.")
                merged = {**(row.metrics or {}), **metrics}
                row.metrics = merged
                session.flush()
                try:
                    write_metrics(Path(row.path), merged)
                except (GenforgeError, OSError) as error:
                    log.warning("could not write the metrics of %s into its model.json: %s", model_id, error)
                session.commit()
        except SQLAlchemyError as error:
            raise _refused(f"the metrics of {model_id!r}", error) from None
        return merged

    def delete_model(self, ident: str) -> ModelRow:
        """Remove the model and its folder (when it lies in models/); 409 while a job evaluates it."""
        with self.db.session() as session:
            row = require(session, ModelRow, ident)
            busy = session.scalars(select(JobRow.id).where(
                JobRow.status.in_(ACTIVE), JobRow.kind.in_(MODEL_JOB_KINDS), JobRow.model_id == ident)).first()
            if busy:
                raise ApiError(409, f"model {ident!r} is being evaluated or reported on by the {busy} job; wait for it "
                                    "or cancel it.")
            served = session.scalars(select(ServedRow.name).where(ServedRow.model_id == ident)).first()
            if served:
                raise ApiError(409, f"model {ident!r} is served as {served!r}; serve another model under that name "
                                    f"(PUT /api/v1/served/{served}) or remove the name (DELETE) first.")
            session.delete(row)
            session.commit()
        if Path(row.path).resolve().parent == self.settings.models_dir:
            shutil.rmtree(row.path, ignore_errors=True)
        return row

    def sweep_staging(self) -> int:
        """Remove model folders left half-written by a server or worker that died (at startup only)."""
        removed = 0
        if self.settings.models_dir.is_dir():
            for path in self.settings.models_dir.iterdir():
                if path.is_dir() and path.name.startswith(STAGING_PREFIXES):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        return removed
