"""The job supervisor: training, evaluation and model searches run in worker processes (``python -m
genforge.server.worker``), never in a request handler; at most ``max_jobs`` at a time, the rest queued in
creation order. Every kind of job is one process that trains at most one model at a time, so that
``max_jobs`` bounds the trainings running at once, a search's included (see routes_search).

State lives in the database, so a restarted server finds its jobs again: jobs that were running when a
server died become ``interrupted`` and can be resumed from the checkpoint their worker left in the run
folder; a search is queued again at once, and resumes from its Optuna study. Cancelling terminates the
worker; the last checkpoint (written atomically after each epoch) stays.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select, update

from genforge.training.checkpoint import checkpoint_epoch
from genforge.server.db import MODEL_JOB_KINDS, SEARCH_KINDS, Database, JobRow, utcnow
from genforge.server.errors import ApiError
from genforge.server.repository import require
from genforge.server.settings import Settings

log = logging.getLogger("genforge.server")
RESUMABLE = ("cancelled", "interrupted", "failed")


class Supervisor:
    """Starts queued jobs in worker processes and watches them; one per server process."""

    POLL_SECS = 0.2

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.procs: dict[str, tuple[subprocess.Popen, int]] = {}
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.recover()
        self.thread = threading.Thread(target=self._run, name="genforge-jobs", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the loop and the workers; their jobs become ``interrupted`` (resumable), searches ``queued``."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        with self.lock:
            for job_id, (proc, attempt) in list(self.procs.items()):
                _terminate(proc)
                with self.db.session() as session:
                    row = session.get(JobRow, job_id)
                    search = row is not None and row.kind in (*SEARCH_KINDS, "search-worker")
                if search:  # the next start resumes it from its study
                    with self.db.session() as session:
                        session.execute(update(JobRow).where(
                            JobRow.id == job_id, JobRow.attempt == attempt, JobRow.status == "running").values(
                            status="queued", resume=1, pid=None, updated=utcnow(),
                            message="the server stopped during the search; queued to resume at its next start."))
                        session.commit()
                    continue
                self._finish(job_id, attempt, "interrupted",
                             "the server stopped while this job ran; resume it to continue from its last checkpoint.")
            self.procs.clear()

    def recover(self) -> None:
        """Jobs left ``running`` by a server that died are ``interrupted``; their orphan workers are ended.
        A search (and its worker jobs) goes back to the queue instead: it resumes from its study, which keeps
        every finished candidate."""
        with self.db.session() as session:
            rows = session.scalars(select(JobRow).where(JobRow.status == "running")).all()
            for row in rows:
                _kill_orphan(row.pid, row.id)
                if row.kind in (*SEARCH_KINDS, "search-worker"):
                    row.status, row.resume, row.pid, row.updated = "queued", 1, None, utcnow()
                    row.message = "the server stopped during the search; queued to resume (finished candidates are kept)."
                    continue
                epoch = checkpoint_epoch(row.run_dir)
                where = f"its last checkpoint is epoch {epoch}" if epoch else "no epoch had finished"
                row.status, row.pid, row.finished, row.updated = "interrupted", None, utcnow(), utcnow()
                row.message = f"the server stopped while this job ran ({where}); POST .../resume to continue."
                if row.kind in MODEL_JOB_KINDS:
                    row.message = f"the server stopped while this {row.kind} job ran; POST .../resume to run it again."
            session.commit()
        if rows:
            log.warning("%d job(s) were running when the server last stopped; marked interrupted", len(rows))

    def notify(self) -> None:
        self.wake.set()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the supervisor must outlive one bad tick
                log.exception("job supervisor tick failed")
            self.wake.wait(self.POLL_SECS)
            self.wake.clear()

    # ------------------------------------------------------------------------------ scheduling
    def tick(self) -> None:
        with self.lock:
            self._reap()
            free = self.settings.max_jobs - len(self.procs)
            if free <= 0 or self.stopping.is_set():
                return
            with self.db.session() as session:
                queued = session.scalars(
                    select(JobRow).where(JobRow.status == "queued").order_by(JobRow.created, JobRow.id).limit(free)
                ).all()
            for row in queued:
                self._launch(row.id)

    def _launch(self, job_id: str) -> None:
        with self.db.session() as session:
            row = session.get(JobRow, job_id)
            if row is None or row.status != "queued":
                return
            attempt = row.attempt + 1
            row.status, row.attempt, row.started, row.updated = "running", attempt, utcnow(), utcnow()
            row.finished, row.message = None, "starting a worker process"
            session.commit()
            run_dir = Path(row.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "genforge.server.worker", job_id, "--db", self.db.url,
                   "--data-dir", str(self.settings.data_dir), "--attempt", str(attempt), "--parent", str(os.getpid())]
        if self.settings.worker_threads:
            command += ["--threads", str(self.settings.worker_threads)]
        try:
            with open(run_dir / "worker.log", "ab") as logfile:
                proc = subprocess.Popen(command, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=str(self.settings.data_dir))
        except OSError as error:
            self._finish(job_id, attempt, "failed", f"could not start a worker process: {error}")
            return
        self.procs[job_id] = (proc, attempt)
        self._set(job_id, attempt, pid=proc.pid)

    def _reap(self) -> None:
        for job_id, (proc, attempt) in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[job_id]
            # A worker that wrote no final status died on its way (killed, out of memory, ...).
            self._finish(job_id, attempt, "failed",
                         f"the worker process exited with code {code} before finishing; see {Path(self._run_dir(job_id)) / 'worker.log'}.")

    # ------------------------------------------------------------------------------ user actions
    def cancel(self, job_id: str) -> None:
        with self.lock:
            with self.db.session() as session:
                row = require(session, JobRow, job_id)
                if row.status not in ("queued", "running"):
                    raise ApiError(409, f"job {job_id!r} is {row.status}; only queued or running jobs can be cancelled.")
                was_running, training = row.status == "running", row.kind in ("train",)
                searching = row.kind in (*SEARCH_KINDS, "search-worker")
                children = [c.id for c in session.scalars(select(JobRow).where(
                    JobRow.parent == job_id, JobRow.status.in_(("queued", "running"))))]
                row.status, row.finished, row.updated, row.pid = "cancelled", utcnow(), utcnow(), None
                row.message = "cancelled before it started." if not was_running else "cancelling..."
                session.commit()
            entry = self.procs.pop(job_id, None)
            if entry is not None:
                _terminate(entry[0])
            if was_running and training:
                epoch = checkpoint_epoch(self._run_dir(job_id))
                kept = f"the checkpoint of epoch {epoch} is kept; resume to continue." if epoch else "no epoch had finished."
                self._set(job_id, None, message=f"cancelled; {kept}")
            elif was_running and searching:
                self._set(job_id, None, message="cancelled; the finished candidates and their models are kept; "
                                                "resume to continue the search.")
            elif was_running:
                self._set(job_id, None, message="cancelled; nothing was stored.")
            for child in children:  # a search's worker jobs end with it
                try:
                    self.cancel(child)
                except ApiError:  # finished meanwhile
                    pass
        self.wake.set()

    def resume(self, job_id: str) -> None:
        with self.lock, self.db.session() as session:
            row = require(session, JobRow, job_id)
            if row.status not in RESUMABLE:
                raise ApiError(409, f"job {job_id!r} is {row.status}; only {', '.join(RESUMABLE)} jobs can be resumed.")
            epoch = checkpoint_epoch(row.run_dir)
            row.status, row.resume, row.finished, row.updated, row.pid = "queued", 1, None, utcnow(), None
            row.message = f"queued to resume from epoch {epoch}." if epoch else "queued to start again (no checkpoint)."
            if row.kind in MODEL_JOB_KINDS:
                row.message = f"queued to {row.kind} again."
            if row.kind in SEARCH_KINDS:
                row.message = "queued to resume the search from its study (finished candidates are kept)."
                for child in session.scalars(select(JobRow).where(JobRow.parent == job_id,
                                                                  JobRow.status.in_(RESUMABLE))):
                    child.status, child.resume, child.finished, child.updated, child.pid = "queued", 1, None, utcnow(), None
                    child.message = "queued to run more trials of the search."
            session.commit()
        self.wake.set()

    # ------------------------------------------------------------------------------ helpers
    def _run_dir(self, job_id: str) -> str:
        with self.db.session() as session:
            row = session.get(JobRow, job_id)
            return row.run_dir if row is not None else str(self.settings.runs_dir / job_id)

    def _set(self, job_id: str, attempt: int | None, **values) -> None:
        query = update(JobRow).where(JobRow.id == job_id)
        if attempt is not None:
            query = query.where(JobRow.attempt == attempt)
        with self.db.session() as session:
            session.execute(query.values(updated=utcnow(), **values))
            session.commit()

    def _finish(self, job_id: str, attempt: int, status: str, message: str) -> None:
        """Set a final status, unless the job has moved on (finished by its worker, cancelled, restarted)."""
        with self.db.session() as session:
            session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.attempt == attempt, JobRow.status == "running")
                .values(status=status, message=message, finished=utcnow(), updated=utcnow(), pid=None)
            )
            session.commit()


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _kill_orphan(pid: int | None, job_id: str) -> None:
    """End a worker left by a dead server, if ``pid`` still is that worker (pids get reused)."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"genforge.server.worker" in cmdline and job_id.encode() in cmdline:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
