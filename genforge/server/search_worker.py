"""A model search in a worker process: the jobs of kind "automl", "grid" and "search-worker".

A search job runs the selection API (``gf.AutoML(...).train`` or ``gf.GridSearch(...).train``) with the
Optuna study in the server's own database (``storage`` = the server's URL, study name = the job id), so a
search that is run again (after a restart, a cancel or a failure) resumes its study: finished candidates
are kept, the interrupted one runs again. Each ``on_result`` row is recorded as it comes
(``leaderboard.record``: the row, and the candidate's model registered as a server model).

With ``workers`` > 1 the search queues that many minus one jobs of kind "search-worker" once its study
exists; each runs ``genforge.selection.run_worker`` on the same study (the study hands each trial to one
process only). Every one of these jobs trains one candidate at a time and holds one of the server's
``--max-jobs`` slots, so a search never trains more models at once than the server allows. The search
waits for its workers before it names its leader, which is then served under the search's project name
(unless a user chose another model).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("genforge.worker")
STUDY_POLL_SECS = 0.5


class Recorder:
    """The ``on_result`` callback of a search: records each row, updates the search job's progress."""

    def __init__(self, repo, search, reporter, spec: dict[str, Any]) -> None:
        self.repo, self.search, self.reporter, self.spec = repo, search, reporter, spec
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, row: dict[str, Any]) -> None:
        from genforge.errors import GenforgeError
        from genforge.server import leaderboard
        from genforge.server.search_spec import sort_metric_of

        with self.lock:
            try:
                entry = leaderboard.record(self.repo, self.search.id, dict(row))
            except GenforgeError as error:  # the search goes on; the log says which row was lost
                log.error("could not record candidate %s: %s", row.get("model_id"), error)
                return
            count = len(leaderboard.rows(self.repo.db, self.search.id, "created"))
            metric = sort_metric_of(self.spec)
            shown = f", {metric} {entry[metric]:.4g}" if isinstance(entry.get(metric), float) else ""
            self.reporter.write(progress=self.progress(count), epoch=count,
                                message=f"searching: {count} candidate(s) scored; last {entry['candidate']} "
                                        f"{entry['status']}{shown}")

    def progress(self, count: int) -> float:
        """The share of the budget spent: time against max_runtime_secs, candidates against max_models."""
        spec = self.spec
        criteria = spec.get("search_criteria") or {}
        runtime = spec.get("max_runtime_secs") or criteria.get("max_runtime_secs")
        models = spec.get("max_models") or criteria.get("max_models")
        shares = [0.0]
        if runtime:
            shares.append((time.monotonic() - self.started) / float(runtime))
        if models:
            shares.append(count / float(models))
        return round(min(0.99, max(shares)), 4)


def _frames(repo, job, names: tuple[str, ...]) -> list:
    from genforge.errors import GenforgeError
    from genforge.server.db import FrameRow
    from genforge.server.store import read_frame

    out = []
    for ident in names:
        if not ident:
            out.append(None)
            continue
        row = repo.find(FrameRow, ident)
        if row is None:
            raise GenforgeError(f"frame {ident!r} was deleted before the search started.")
        out.append(read_frame(row.path, row.name))
    return out


def _search(repo, job, storage: str, out: Path):
    """The selection API object of a search job's spec (its study: ``job.id`` in ``storage``)."""
    import genforge.selection as selection
    from genforge.estimators import get_estimator
    from genforge.server.search_spec import automl_options, grid_options

    spec = dict(job.parameters or {})
    where = {"storage": storage, "out": str(out), "evaluator": _evaluator_folder(repo, spec.get("evaluator"))}
    if job.kind == "automl":
        return selection.AutoML(**automl_options(spec), project_name=job.id, **where)
    model = get_estimator(job.algo)(**(spec.get("parameters") or {}))
    return selection.GridSearch(model, **grid_options(spec), grid_id=job.id, **where)


def _evaluator_folder(repo, value: str | None) -> str | None:
    """A built-in evaluator name or a CNN model id, as the folder it stands for (as train jobs resolve it)."""
    from genforge.errors import GenforgeError
    from genforge.server.errors import ApiError
    from genforge.server.paths import resolve_evaluator

    try:
        return resolve_evaluator(repo.db, value) if value else None
    except ApiError as error:  # the CNN model was deleted since the search was queued
        raise GenforgeError(error.detail) from None


def run_search(repo, job, reporter) -> None:
    """Run (or resume) the search ``job`` to its end; name and serve its leader; finish the job."""
    from genforge.server import leaderboard
    from genforge.server.db import utcnow
    from genforge.server.repository import JobEnd, end_job
    from genforge.server.search_spec import project_name, sort_metric_of

    spec = dict(job.parameters or {})
    train, valid, board = _frames(repo, job, (job.training_frame, job.validation_frame, spec.get("leaderboard_frame")))
    out = Path(job.run_dir) / "search"
    recorder = Recorder(repo, job, reporter, spec)
    reporter.write(message="searching: resuming the study (finished candidates are kept)" if job.resume
                   else "searching: starting", progress=0.0)
    workers = threading.Thread(target=_start_workers, args=(repo, job, int(spec.get("workers") or 1)), daemon=True)
    workers.start()
    search = _search(repo, job, repo.db.url, out)
    search.train(training_frame=train, validation_frame=valid, leaderboard_frame=board, on_result=recorder)
    _wait_for_workers(repo, job, reporter)
    metric = sort_metric_of(spec)
    lead = leaderboard.leader(repo.db, job.id, metric)
    rows = leaderboard.rows(repo.db, job.id, metric)
    served = None
    if lead is not None:
        served = leaderboard.serve(repo.db, project_name(job), lead["model_id"], search_id=job.id, chosen=False)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in leaderboard.STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no candidate"
    message = (f"done: {len(rows)} candidate(s) ({summary}); leader {lead['model_id']} ({metric} {lead[metric]:.4g})"
               if lead else f"done: {len(rows)} candidate(s) ({summary}); no model could lead")
    result = {"leader": lead["model_id"] if lead else None, "models": len(rows), "counts": counts,
              "sort_metric": metric, "served": served}
    with repo.db.session() as session:
        end_job(session, JobEnd(job.id, reporter.attempt, dict(
            status="done", progress=1.0, model_id=lead["model_id"] if lead else None, result=result, message=message,
            finished=utcnow(), pid=None, eta_secs=0.0, epoch=len(rows))))
        session.commit()


def _study_exists(db, name: str) -> bool:
    """Whether Optuna's ``studies`` table holds ``name``: read with the server's engine, never through an
    Optuna storage (opening one creates Optuna's tables, which the search itself is doing right now)."""
    from sqlalchemy import text

    try:
        with db.engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM studies WHERE study_name = :name"), {"name": name}).first() is not None
    except Exception:  # noqa: BLE001 - no such table yet
        return False


def _start_workers(repo, job, workers: int) -> None:
    """Once the study exists, queue ``workers - 1`` search-worker jobs (none when they are there already:
    a resumed search finds its workers queued again by the supervisor)."""
    from sqlalchemy import select

    from genforge.server.db import JobRow

    if workers <= 1:
        return
    while not _study_exists(repo.db, job.id):
        time.sleep(STUDY_POLL_SECS)
    with repo.db.session() as session:
        have = len(session.scalars(select(JobRow.id).where(JobRow.parent == job.id, JobRow.status.in_(
            ("queued", "running")))).all())
    for _ in range(workers - 1 - have):
        repo.add_job("search-worker", job.algo, job.training_frame, {"search": job.id},
                     validation_frame=job.validation_frame, parent=job.id,
                     message=f"queued: more trials of the search {job.id}")


def _wait_for_workers(repo, job, reporter) -> None:
    """The study is done: worker jobs still queued are not needed any more; running ones finish their trial."""
    from sqlalchemy import select, update

    from genforge.server.db import JobRow, utcnow

    with repo.db.session() as session:
        session.execute(update(JobRow).where(JobRow.parent == job.id, JobRow.status == "queued").values(
            status="cancelled", finished=utcnow(), updated=utcnow(),
            message="not needed: the search had run all its trials before this job started."))
        session.commit()
    while True:
        with repo.db.session() as session:
            active = session.scalars(select(JobRow.id).where(JobRow.parent == job.id, JobRow.status.in_(
                ("queued", "running")))).all()
        if not active:
            return
        reporter.write(message=f"searching: waiting for {len(active)} worker job(s) to finish their trials")
        time.sleep(1.0)


def run_trials(repo, job, reporter) -> None:
    """A search-worker job: run trials of its search's study until the study has none left."""
    from genforge.errors import GenforgeError
    from genforge.server.db import JobRow, utcnow
    from genforge.server.repository import JobEnd, end_job
    import genforge.selection as selection

    search = repo.find(JobRow, job.parent)
    if search is None:
        raise GenforgeError(f"the search {job.parent!r} of this worker job was deleted.")
    recorder = Recorder(repo, search, _SearchProgress(reporter), dict(search.parameters or {}))
    reporter.write(message=f"running trials of the search {search.id}")
    board = selection.run_worker(search.id, repo.db.url, on_result=recorder)
    with repo.db.session() as session:
        end_job(session, JobEnd(job.id, reporter.attempt, dict(
            status="done", progress=1.0, finished=utcnow(), pid=None,
            message=f"done: no trial of the search {search.id} is left ({board.summary()})")))
        session.commit()


class _SearchProgress:
    """A worker job reports each recorded row on its own job (the search job's row is its own process's)."""

    def __init__(self, reporter) -> None:
        self.reporter = reporter

    def write(self, **values) -> None:
        values.pop("progress", None)
        self.reporter.write(**values)
