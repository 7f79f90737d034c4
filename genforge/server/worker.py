"""One job in its own process: ``python -m genforge.server.worker JOB_ID --db URL --data-dir DIR``.

A training job: the worker reads the job from the database, trains with the run folder as ``run_dir`` (so a
checkpoint is written after every epoch), reports progress through a ``ProgressReport`` training callback,
saves the model and records it (through ``Repository.add_model``). An evaluate job: it loads its own copy of
the model, runs ``model_performance(frame)`` and stores the scores (``Repository.set_metrics``). A report job:
the model report into the run folder (see ``server.report_job``). A search (kinds "automl", "grid",
"search-worker") runs in ``search_worker``. Every write
is conditional on the job's ``attempt`` and ``running`` status: a worker whose job was cancelled, or
restarted elsewhere, stops instead of overwriting it. It exits when its server dies.
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
            from genforge.server.repository import JobGone

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
    """Run the job ``job_id`` (attempt ``attempt``): train, or for ``kind == "evaluate"`` score a model."""
    from genforge.errors import GenforgeError
    from genforge.server.db import Database, JobRow
    from genforge.server.repository import JobGone, Repository
    from genforge.server.settings import Settings

    db = Database(db_url)
    repo = Repository(db, Settings(data_dir=data_dir, db_url=db_url))
    reporter = Reporter(db, job_id, attempt)
    job = repo.find(JobRow, job_id)
    if job is None or job.attempt != attempt or job.status != "running":
        return 0
    try:
        if job.kind == "evaluate":
            evaluate(repo, job, reporter)
        elif job.kind in ("automl", "grid", "search-worker"):
            from genforge.server import search_worker

            (search_worker.run_trials if job.kind == "search-worker" else search_worker.run_search)(repo, job, reporter)
        elif job.kind == "report":
            from genforge.server.report_job import run_report

            run_report(repo, job, reporter)
        else:
            train(repo, job, reporter)
        return 0
    except JobGone:
        return 0
    except GenforgeError as error:
        _fail(reporter, str(error))
        return 1
    except Exception as error:  # noqa: BLE001 - reported on the job; the traceback goes to worker.log
        traceback.print_exc()
        doing = {"evaluate": "evaluating", "train": "training", "report": "writing the report"}.get(job.kind, "searching")
        _fail(reporter, f"internal error while {doing} ({type(error).__name__}: {error}); see "
                        f"{Path(job.run_dir) / 'worker.log'}.")
        return 1


def train(repo, job, reporter: Reporter) -> None:
    """Train, save the model, and record it with the job's final update (one transaction: see add_model)."""
    from genforge.artifacts import load_model, save_model
    from genforge.errors import GenforgeError
    from genforge.estimators import get_estimator
    from genforge.model_folder import find_model_folder
    from genforge.server.db import FrameRow, ModelRow, utcnow
    from genforge.server.repository import JobEnd
    from genforge.server.store import model_row_values, read_frame
    from genforge.training.checkpoint import CHECKPOINT_DIR, checkpoint_epoch
    from genforge.training.progress import ProgressReport

    params = dict(job.parameters or {})
    if params.get("checkpoint"):
        source = repo.find(ModelRow, params["checkpoint"])
        if source is None:
            raise GenforgeError(f"checkpoint model {params['checkpoint']!r} no longer exists.")
        params["checkpoint"] = source.path
    if params.get("evaluator") is not None:
        # A built-in name or a model id becomes its folder now, as the checkpoint's id did (never a path).
        params["evaluator"] = _evaluator_folder(repo, params["evaluator"])
    frames = {fid: repo.find(FrameRow, fid) for fid in (job.training_frame, job.validation_frame) if fid}
    missing = [fid for fid, row in frames.items() if row is None]
    if missing:
        raise GenforgeError(f"frame {missing[0]!r} was deleted before the job started.")
    run_dir = Path(job.run_dir)
    train_frame = read_frame(frames[job.training_frame].path, frames[job.training_frame].name)
    valid = read_frame(frames[job.validation_frame].path) if job.validation_frame else None
    if job.resume and find_model_folder(run_dir / CHECKPOINT_DIR) is not None:
        params["checkpoint"] = str(run_dir / CHECKPOINT_DIR)
    params.update(run_dir=str(run_dir), verbose=False)
    model = get_estimator(job.algo)(**params)
    if job.resume and checkpoint_epoch(run_dir) >= model.get_params()["epochs"]:
        # Training had finished when the earlier attempt failed (while recording the model): keep its result.
        reporter.write(message="training had finished; recording the model of the last checkpoint")
        model = load_model(run_dir / CHECKPOINT_DIR)
    else:
        reporter.write(message="training: loading data" if not job.resume else "training: resuming from checkpoint")
        model.train(training_frame=train_frame, validation_frame=valid, callbacks=[ProgressReport(reporter)])
    if "evaluator" in params:
        model.set_params(evaluator=(job.parameters or {}).get("evaluator"))  # the name or id, not our folder
    # Written into a hidden staging folder; add_model moves it to models/<id> and keeps it only once the
    # model's row and the job's "done" are committed together.
    staging = repo.staging(".pending-")
    try:
        staged = save_model(model, staging, force=True)
        values = model_row_values(staged, job_id=job.id, source="job")
        end = JobEnd(job.id, reporter.attempt, dict(
            status="done", progress=1.0, model_id=model.model_id, history=model.scoring_history().rows,
            message=f"done: model {model.model_id}" + _stopped(model), finished=utcnow(), pid=None, eta_secs=0.0))
        repo.add_model(model.model_id, staged, values, end)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def evaluate(repo, job, reporter: Reporter) -> None:
    """``model_performance(frame)`` on this worker's own copy of the model; the scores go to the job's
    ``result``, the model's row and its model.json (see Repository.set_metrics)."""
    import json

    from genforge.artifacts import load_model
    from genforge.errors import GenforgeError
    from genforge.serialization import json_default
    from genforge.server.db import FrameRow, ModelRow, utcnow
    from genforge.server.repository import JobEnd
    from genforge.server.store import read_frame

    frame_id = (job.parameters or {}).get("frame") or job.training_frame
    row, frame_row = repo.find(ModelRow, job.model_id), repo.find(FrameRow, frame_id)
    if row is None:
        raise GenforgeError(f"model {job.model_id!r} was deleted before it could be evaluated.")
    if frame_row is None:
        raise GenforgeError(f"frame {frame_id!r} was deleted before the evaluation started.")
    reporter.write(message=f"evaluating {row.id} on {frame_id}: loading", progress=0.05)
    model = load_model(row.path)
    if "evaluator" in model.get_params():
        # The stored value is a built-in name or a model id here; a path (from an uploaded model.json) means
        # nothing on this server and is never read: the built-in evaluator that fits the frame is used.
        try:
            model.set_params(evaluator=_evaluator_folder(repo, (row.parameters or {}).get("evaluator")))
        except GenforgeError:
            model.set_params(evaluator=None)
    frame = read_frame(frame_row.path, frame_row.name)
    reporter.write(message=f"evaluating {row.id} on {frame_id} ({len(frame)} images)", progress=0.1)
    metrics = json.loads(json.dumps(model.model_performance(frame), default=json_default))
    result = {"model_id": row.id, "frame": frame_id, "metrics": metrics}
    end = JobEnd(job.id, reporter.attempt, dict(
        status="done", progress=1.0, result=result, message=f"done: {row.id} scored on {frame_id}",
        finished=utcnow(), pid=None, eta_secs=0.0))
    repo.set_metrics(row.id, metrics, end)


def _evaluator_folder(repo, value):
    """The folder of a job's ``evaluator`` (a built-in name or a CNN model id), or a GenforgeError."""
    from genforge.errors import GenforgeError
    from genforge.server.errors import ApiError
    from genforge.server.paths import resolve_evaluator

    try:
        return resolve_evaluator(repo.db, value)
    except ApiError as error:
        raise GenforgeError(error.detail) from None


def _stopped(model) -> str:
    reason = model.stopped_reason
    return f" (stopped early: {reason})" if reason else ""


def _fail(reporter: Reporter, message: str) -> None:
    from genforge.server.db import utcnow
    from genforge.server.repository import JobGone

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
