"""``/api/v1/served``: the names under which ``/v2/models/{name}`` serves a chosen model.

A model is always served under its own id; a served name is a stable second name for "the model in
production" that can be pointed at another model without clients changing their URL. Each search names
its project (``project_name`` / ``grid_id``, default the search id): its leader is served under it when the
search ends, unless someone chose a model (``POST /api/v1/automl/{id}/serve`` or ``PUT`` here).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from genforge.server import leaderboard
from genforge.server.db import ModelRow
from genforge.server.deps import Context, get_ctx, is_generator
from genforge.server.errors import ApiError
from genforge.server.paths import valid_id
from genforge.server.schemas import ErrorOut
from genforge.server.schemas_search import ServedIn, ServedOut

router = APIRouter(prefix="/api/v1", tags=["served models"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 409, 422)}


@router.get("/served", response_model=list[ServedOut], summary="Every served name and the model it serves")
def list_served(ctx: Context = Depends(get_ctx)) -> list[dict[str, Any]]:
    return leaderboard.served_names(ctx.db)


@router.put("/served/{name}", response_model=ServedOut, responses=ERRORS,
            summary="Serve a generator under a name: /v2/models/{name} answers with it")
def put_served(name: str, body: ServedIn, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    if not valid_id(name) or len(name) > 64:
        raise ApiError(422, f"name: {name[:100]!r} is not a plain name (letters, digits, '.', '_', '-'; at most 64).")
    if ctx.repo.find(ModelRow, name) is not None:
        raise ApiError(422, f"name: {name!r} is the id of a model; /v2/models/{name} serves that model already.")
    row = ctx.repo.model(body.model_id)
    if not is_generator(row.algo):
        raise ApiError(409, f"model {body.model_id!r} is a {row.algo!r} model, which does not generate images.")
    current = leaderboard.served_names(ctx.db)
    search = next((s["search_id"] for s in current if s["name"] == name), None)
    return leaderboard.serve(ctx.db, name, row.id, search_id=search, chosen=True)


@router.delete("/served/{name}", status_code=204, response_class=Response, responses=ERRORS,
               summary="Stop serving under a name (the model stays)")
def delete_served(name: str, ctx: Context = Depends(get_ctx)) -> Response:
    leaderboard.unserve(ctx.db, name)
    return Response(status_code=204)
