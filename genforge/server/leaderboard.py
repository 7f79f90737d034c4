"""The leaderboards of AutoML and grid searches and the served names, in the server's database.

A search job's worker calls :func:`record` for every row the selection API reports (``on_result``): the
candidate's saved model is copied into ``models/<id>/`` and registered (``Repository.add_model``, so a
finished candidate's model survives anything that happens to the search afterwards), and its scores are
upserted into the ``leaderboard`` table. :func:`rows` reads a leaderboard back sorted by any column.

A served name (``served`` table) is what ``/v2/models/{name}`` resolves when ``name`` is no model id: a
search's project name points at the model chosen on its leaderboard, or at the leader until one is chosen.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from genforge.server.db import LeaderboardRow, ServedRow, utcnow
from genforge.server.errors import ApiError

# The selection API's leaderboard columns (genforge.selection.leaderboard): "epochs" is the budget a candidate
# was trained for, "rung" the successive-halving rung it reached.
SCORES = ("fid", "kid", "precision", "recall", "coverage", "memorization", "classes_covered", "training_secs",
          "images_per_sec", "epochs", "rung")
LOWER_IS_BETTER = {"fid", "kid", "memorization", "training_secs"}
COLUMNS = ("model_id", "algo", "status", "reason", *SCORES, "created")
STATUSES = ("ok", "failed", "collapsed", "diverged", "memorizes")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def scores_of(result: dict[str, Any]) -> dict[str, float | None]:
    """The numeric columns of a selection API row (the budget may come as ``budget``)."""
    scores = {key: _number(result.get(key)) for key in SCORES}
    if scores["epochs"] is None:
        scores["epochs"] = _number(result.get("budget"))
    return scores


def _params(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {"params": value}
    return value if isinstance(value, dict) else None


def register_model(repo, search_id: str, candidate: str, algo: str, folder: Path) -> str:
    """Copy the candidate's saved model ``folder`` into models/ and record it (its job: the search). The
    model id is the candidate's own when free, else a new one; a candidate reported again (resumed with more
    budget) replaces the model it was given the first time."""
    from genforge.model_folder import update_meta
    from genforge.server.paths import valid_id
    from genforge.server.store import model_row_values, new_id

    with repo.db.session() as session:  # a candidate reported again (more budget) replaces its model
        ident = session.scalars(select(LeaderboardRow.model_id).where(
            LeaderboardRow.search_id == search_id, LeaderboardRow.candidate == candidate)).first()
    if ident is None:
        ident = candidate if valid_id(candidate) and not repo.id_taken(candidate) else new_id(algo)
    staging = repo.staging(".pending-")
    try:
        staged = staging / "model"
        # A copy (new mtimes: the model cache reloads a replaced model): the search may resume from its files.
        shutil.copytree(folder, staged, copy_function=shutil.copy)
        update_meta(staged, model_id=ident)
        repo.add_model(ident, staged, model_row_values(staged, job_id=search_id, source="job"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ident


def record(repo, search_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """Store one ``on_result`` row of the search ``search_id`` (and its model, when it has one); returns the
    leaderboard row as the API shows it."""
    status = str(result.get("status") or "failed")
    status = status if status in STATUSES else "failed"
    algo = str(result.get("algo") or "unknown")[:32]
    with repo.db.session() as session:
        count = len(session.scalars(select(LeaderboardRow.id).where(LeaderboardRow.search_id == search_id)).all())
    candidate = str(result.get("model_id") or f"{search_id}-candidate-{count + 1}")[:128]
    model_id = None
    path = result.get("model_path")
    if path and Path(path).is_dir():
        model_id = register_model(repo, search_id, candidate, algo, Path(path))
    values = dict(model_id=model_id, algo=algo, status=status, reason=str(result.get("reason") or "")[:2000],
                  scores=scores_of(result), params=_params(result.get("params")), updated=utcnow())
    with repo.db.session() as session:
        row = session.scalars(select(LeaderboardRow).where(
            LeaderboardRow.search_id == search_id, LeaderboardRow.candidate == candidate)).first()
        if row is None:
            row = LeaderboardRow(search_id=search_id, candidate=candidate, created=utcnow(), **values)
            session.add(row)
        else:
            if model_id is None:
                values["model_id"] = row.model_id  # a later failure keeps the model an earlier rung made
            for key, value in values.items():
                setattr(row, key, value)
        session.commit()
        return row_out(row)


def row_out(row: LeaderboardRow) -> dict[str, Any]:
    from genforge.server.deps import iso

    return {"model_id": row.model_id, "candidate": row.candidate, "algo": row.algo, "status": row.status,
            "reason": row.reason or "", **{k: (row.scores or {}).get(k) for k in SCORES},
            "params": row.params, "created": iso(row.created), "updated": iso(row.updated)}


def natural_decreasing(column: str) -> bool:
    """The direction in which ``column`` ranks best first (FID: lowest first; precision: highest first)."""
    return column in SCORES and column not in LOWER_IS_BETTER


def rows(db, search_id: str, sort_by: str, decreasing: bool | None = None) -> list[dict[str, Any]]:
    """The leaderboard of ``search_id`` sorted by ``sort_by`` (rows without a value last, whatever the
    direction; ties by creation); ``decreasing`` None: the column's natural direction."""
    if sort_by not in COLUMNS:
        raise ApiError(422, f"sort_by: unknown column {sort_by[:100]!r}; sort by one of: {', '.join(COLUMNS)}.")
    with db.session() as session:
        found = session.scalars(select(LeaderboardRow).where(LeaderboardRow.search_id == search_id)
                                .order_by(LeaderboardRow.created, LeaderboardRow.id)).all()
    out = [row_out(r) for r in found]
    if decreasing is None:
        decreasing = natural_decreasing(sort_by)
    present = [r for r in out if r[sort_by] is not None]
    present.sort(key=lambda r: r[sort_by] if isinstance(r[sort_by], (int, float)) else str(r[sort_by]),
                 reverse=decreasing)
    return present + [r for r in out if r[sort_by] is None]


def leader(db, search_id: str, sort_metric: str) -> dict[str, Any] | None:
    """The best row with a model whose status is ``ok`` (a model that memorizes never leads)."""
    ranked = rows(db, search_id, sort_metric)
    return next((r for r in ranked if r["status"] == "ok" and r["model_id"] and r[sort_metric] is not None), None)


# ------------------------------------------------------------------------------ served names
def served_out(row: ServedRow) -> dict[str, Any]:
    from genforge.server.deps import iso

    return {"name": row.name, "model_id": row.model_id, "search_id": row.search_id, "chosen": bool(row.chosen),
            "updated": iso(row.updated)}


def serve(db, name: str, model_id: str, search_id: str | None = None, chosen: bool = True) -> dict[str, Any]:
    """Point the served name ``name`` at ``model_id``. ``chosen=False`` (a search's end naming its leader)
    leaves a name a user pointed somewhere alone."""
    with db.session() as session:
        row = session.get(ServedRow, name)
        if row is not None and row.chosen and not chosen:
            return served_out(row)
        if row is None:
            row = ServedRow(name=name)
            session.add(row)
        row.model_id, row.search_id, row.chosen, row.updated = model_id, search_id, int(chosen), utcnow()
        session.commit()
        return served_out(row)


def served_names(db, model_id: str | None = None) -> list[dict[str, Any]]:
    query = select(ServedRow).order_by(ServedRow.name)
    if model_id is not None:
        query = query.where(ServedRow.model_id == model_id)
    with db.session() as session:
        return [served_out(r) for r in session.scalars(query)]


def resolve_served(db, name: str) -> str | None:
    """The model id a served name points at, or None."""
    with db.session() as session:
        row = session.get(ServedRow, name)
        return row.model_id if row is not None else None


def unserve(db, name: str) -> None:
    with db.session() as session:
        if session.get(ServedRow, name) is None:
            raise ApiError(404, f"served name {name!r} not found; list them at /api/v1/served.")
        session.execute(delete(ServedRow).where(ServedRow.name == name))
        session.commit()
