"""One training job in its own process: ``python -m genforge.server.worker JOB_ID --db URL --data-dir DIR``.

The worker reads the job from the database, trains with the run folder as ``run_dir`` (so a checkpoint is
written after every epoch), reports progress through the estimator's ``on_progress`` hook, saves the model
and records it. Every write is conditional on the job's ``attempt`` and ``running`` status: a worker whose
job was cancelled, or restarted elsewhere, stops instead of overwriting it. It exits when its server dies.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

from sqlalchemy import update

log = logging.getLogger("genforge.worker")


class JobGone(Exception):
    """The job was cancelled or taken over: stop quietly."""


class Reporter:
    """Writes the training loop's progress snapshots to the job row, at most twice a second (and at each
    epoch's end)."""

    MIN_INTERVAL = 0.5

    def __init__(self, db, job_id: str, attempt: int) -> None:
        self.db, self.job_id, self.attempt = db, job_id, attempt
        self.last = 0.0

    def write(self, **values) -> None:
        from genforge.server.db import JobRow, utcnow

        with self.db.session() as session:
            result = session.execute(
                update(JobRow).where(JobRow.id == self.job_id, JobRow.attempt == self.attempt,
                                     JobRow.status == "running").values(updated=utcnow(), **values))
            session.commit()
        if result.rowcount == 0:
            raise JobGone()

    def __call__(self, snap: dict) -> None:
        now = time.monotonic()
        if not snap["epoch_end"] and now - self.last < self.MIN_INTERVAL:
            return
        self.last = now
        values = {"progress": round(float(snap["progress"]), 4), "epoch": snap["epoch"], "epochs": snap["epochs"],
                  "images_per_sec": snap["images_per_sec"], "eta_secs": snap["eta_secs"],
                  "metrics": snap["metrics"], "message": f"training: epoch {min(snap['epoch'] + 1, snap['epochs'])}/{snap['epochs']}"}
        if snap["epoch_end"]:
            values["history"] = list(snap["history"])
            values["message"] = f"training: epoch {snap['epoch']}/{snap['epochs']} done"
        self.write(**values)


def _watch_parent(parent: int) -> None:
    """Exit when the server that started us is gone (a SIGKILLed server leaves us to init)."""
    while True:
        if os.getppid() != parent:
            os._exit(3)
        time.sleep(0.5)


def run(job_id: str, db_url: str, data_dir: Path, attempt: int) -> int:
    from genforge.artifacts import save_model
    from genforge.errors import GenforgeError
    from genforge.estimators import get_estimator
    from genforge.serialization import existing_folder
    from genforge.server.db import Database, FrameRow, JobRow, ModelRow, utcnow
    from genforge.server.store import model_row_values, read_frame

    db = Database(db_url)
    reporter = Reporter(db, job_id, attempt)
    with db.session() as session:
        job = session.get(JobRow, job_id)
        if job is None or job.attempt != attempt or job.status != "running":
            return 0
        frames = {fid: session.get(FrameRow, fid) for fid in (job.training_frame, job.validation_frame) if fid}
        params = dict(job.parameters or {})
        if params.get("checkpoint"):
            source = session.get(ModelRow, params["checkpoint"])
            params["checkpoint"] = source.path if source is not None else None
            if source is None:
                reporter.write(status="failed", message=f"checkpoint model {job.parameters['checkpoint']!r} no longer exists.",
                               finished=utcnow(), pid=None)
                return 0
    if params.get("evaluator") is not None:
        from genforge.server.errors import ApiError
        from genforge.server.paths import resolve_evaluator

        try:  # a built-in name or a model id becomes its folder now, as the checkpoint's id did
            params["evaluator"] = resolve_evaluator(db, params["evaluator"])
        except ApiError as error:
            reporter.write(status="failed", message=error.detail, finished=utcnow(), pid=None)
            return 0
    run_dir = Path(job.run_dir)
    model_path: Path | None = None
    try:
        missing = [fid for fid, row in frames.items() if row is None]
        if missing:
            raise GenforgeError(f"frame {missing[0]!r} was deleted before the job started.")
        train = read_frame(frames[job.training_frame].path, frames[job.training_frame].name)
        valid = read_frame(frames[job.validation_frame].path) if job.validation_frame else None
        if job.resume and existing_folder(run_dir / "checkpoint") is not None:
            params["checkpoint"] = str(run_dir / "checkpoint")
        params.update(run_dir=str(run_dir), verbose=False)
        model = get_estimator(job.algo)(**params)
        model.on_progress = reporter
        reporter.write(message="training: loading data" if not job.resume else "training: resuming from checkpoint")
        model.train(training_frame=train, validation_frame=valid)
        if "evaluator" in params:
            model.set_params(evaluator=(job.parameters or {}).get("evaluator"))  # the name or id, not our folder
        model_path = save_model(model, data_dir / "models", force=True)
        values = model_row_values(model_path, job_id=job_id, source="job")
        with db.session() as session:
            result = session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.attempt == attempt, JobRow.status == "running")
                .values(status="done", progress=1.0, model_id=model.model_id, history=model._history,
                        message=f"done: model {model.model_id}" + _stopped(model), finished=utcnow(),
                        updated=utcnow(), pid=None, eta_secs=0.0))
            if result.rowcount == 0:
                session.rollback()
                raise JobGone()
            session.merge(ModelRow(id=model.model_id, **values))
            session.commit()
        return 0
    except JobGone:
        if model_path is not None:
            shutil.rmtree(model_path, ignore_errors=True)
        return 0
    except GenforgeError as error:
        _fail(reporter, str(error))
        return 1
    except Exception as error:  # noqa: BLE001 - reported on the job; the traceback goes to worker.log
        traceback.print_exc()
        _fail(reporter, f"internal error while training ({type(error).__name__}: {error}); see {run_dir / 'worker.log'}.")
        return 1


def _stopped(model) -> str:
    reason = model._info.get("stopped_reason")
    return f" (stopped early: {reason})" if reason else ""


def _fail(reporter: Reporter, message: str) -> None:
    from genforge.server.db import utcnow

    try:
        reporter.write(status="failed", message=message, finished=utcnow(), pid=None)
    except JobGone:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genforge.server.worker", description=__doc__)
    parser.add_argument("job_id")
    parser.add_argument("--db", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.parent:
        threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(f"worker {os.getpid()} for job {args.job_id} (attempt {args.attempt})", flush=True)
    return run(args.job_id, args.db, Path(args.data_dir), args.attempt)


if __name__ == "__main__":
    sys.exit(main())
