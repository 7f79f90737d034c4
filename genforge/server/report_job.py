"""A report job, run by the worker: ``model.report(frame)`` into the job's run folder.

Writing a report generates and scores thousands of images (tens of seconds for a 28x28 model on two
cores), so it runs in a worker process queued with the training jobs, never in a request handler. The
HTML and JSON stay in ``runs/<job id>/``; ``GET /api/v1/models/{id}/report.html`` (and ``.json``) serve
the newest finished report of a model. The job's ``result`` is a summary without server-side paths.
"""

from __future__ import annotations

from pathlib import Path

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"


def run_report(repo, job, reporter) -> None:
    from genforge.artifacts import load_model
    from genforge.errors import GenforgeError
    from genforge.report import build_report
    from genforge.server.db import FrameRow, ModelRow, utcnow
    from genforge.server.errors import ApiError
    from genforge.server.paths import resolve_evaluator
    from genforge.server.store import read_frame

    params = dict(job.parameters or {})
    row = repo.find(ModelRow, job.model_id)
    if row is None:
        raise GenforgeError(f"model {job.model_id!r} was deleted before its report could be written.")
    frames = {}
    for key in ("frame", "training_frame"):
        if params.get(key):
            frame_row = repo.find(FrameRow, params[key])
            if frame_row is None:
                raise GenforgeError(f"frame {params[key]!r} was deleted before the report started.")
            frames[key] = read_frame(frame_row.path, frame_row.name)
    reporter.write(message=f"report on {row.id}: loading", progress=0.02)
    model = load_model(row.path)
    extractor = None
    if "evaluator" in model.get_params():
        # As for an evaluate job: the stored value is a built-in name or a model id; anything else is not read.
        try:
            extractor = resolve_evaluator(repo.db, (row.parameters or {}).get("evaluator"))
        except ApiError:
            extractor = None
        model.set_params(evaluator=None)

    def progress(section: str, done: float) -> None:
        reporter.write(message=f"report on {row.id}: {section}", progress=round(0.05 + 0.9 * done, 3))

    result = build_report(model, frames["frame"], path=Path(job.run_dir) / REPORT_HTML, samples=int(params["samples"]),
                          training_frame=frames.get("training_frame"), extractor=extractor,
                          seed=int(params.get("seed", 0)), force=True, progress=progress)
    meta = result["report"]
    summary = {"model_id": row.id, "frame": params["frame"], "training_frame": params.get("training_frame"),
               "samples": meta["samples"], "seconds": meta["seconds"], "total_seconds": meta["total_seconds"],
               "skipped": {name: result[name]["skipped"] for name in meta["sections"] if "skipped" in result[name]}}
    reporter.write(status="done", progress=1.0, result=summary, finished=utcnow(), pid=None, eta_secs=0.0,
                   message=f"done: report on {row.id} ({meta['total_seconds']:.0f} s)")
