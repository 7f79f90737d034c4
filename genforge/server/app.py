"""``create_app(settings)``: the FastAPI app of ``genforge start``.

Routes: ``/api/v1`` (frames, estimators, jobs, models, AutoML and grid searches, served names), ``/v2`` (the Open Inference Protocol), ``/docs``
(OpenAPI). ``/`` serves the web UI (``genforge.webui``). The API key guard and the body
limit wrap every route; errors are JSON ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import select

from genforge import webui
from genforge._version import __version__
from genforge.server import errors
from genforge.server.auth import ApiKeyMiddleware, BodyLimitMiddleware, api_key_header
from genforge.server.db import Database, JobRow
from genforge.server.deps import Context, get_ctx
from genforge.server.jobs import Supervisor
from genforge.server.repository import Repository
from genforge.server.schemas import ErrorOut
from genforge.server.scrub import ScrubPathsMiddleware
from genforge.server.settings import Settings
from genforge.server.store import Stores

log = logging.getLogger("genforge.server")


def preload(ctx: Context) -> None:
    """Register the settings' built-in datasets once, so that a fresh server has a frame to train on."""
    from genforge.server.routes_frames import register
    from genforge.server.store import import_frame

    for name in ctx.settings.preload:
        if ctx.repo.has_builtin(name):
            continue
        try:
            frame, kind = import_frame(ctx.settings, name, {})
            register(ctx, frame, name, name, kind)
            log.info("registered the built-in dataset %s (%d images)", name, len(frame))
        except Exception as error:  # noqa: BLE001 - a missing optional dataset must not stop the server
            log.warning("could not preload %s: %s", name, error)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.make_dirs()
    db = Database(settings.database_url)
    ctx = Context(settings=settings, db=db, stores=Stores(settings), supervisor=Supervisor(settings, db),
                  repo=Repository(db, settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from fastapi.concurrency import run_in_threadpool

        swept = ctx.repo.sweep_staging()  # model folders a dead server or worker left half-written
        if swept:
            log.warning("removed %d half-written model folder(s) left by an earlier run", swept)
        await run_in_threadpool(preload, ctx)
        ctx.supervisor.start()
        try:
            yield
        finally:
            ctx.supervisor.stop()

    app = FastAPI(title="genforge", version=__version__, lifespan=lifespan,
                  description="Frames, training jobs and models of genforge, and the Open Inference Protocol v2 "
                              "for its generators. Send the API key (when the server has one) as X-API-Key.")
    app.state.ctx = ctx
    errors.install(app)

    from genforge.server import (routes_frames, routes_jobs, routes_models, routes_report, routes_search,
                                 routes_served, routes_v2)

    guarded = [Depends(api_key_header)]  # documents the key; ApiKeyMiddleware enforces it
    common = {code: {"model": ErrorOut} for code in (401, 413, 422)}
    for router in (routes_frames.router, routes_jobs.router, routes_models.router, routes_report.router,
                   routes_search.router, routes_served.router, routes_v2.router):
        app.include_router(router, dependencies=guarded, responses=common)
    app.include_router(routes_v2.health)

    webui.mount(app)  # the web UI at / and its assets under /ui

    @app.get("/api/v1/info", tags=["server"], summary="Server version, limits and job counts", dependencies=guarded,
             responses=common)
    def info(c: Context = Depends(get_ctx)) -> dict[str, Any]:
        with c.db.session() as session:
            statuses = [s for s in session.scalars(select(JobRow.status))]
        s = c.settings
        return {"version": __version__, "max_jobs": s.max_jobs, "max_upload_bytes": s.max_upload_bytes,
                "max_images": s.max_images, "max_generate": s.max_generate, "auth": s.api_key is not None,
                "max_image_pixels": s.max_image_pixels, "max_frame_bytes": s.max_frame_bytes,
                "jobs": {k: statuses.count(k) for k in sorted(set(statuses))}}

    app.add_middleware(ScrubPathsMiddleware, data_dir=settings.data_dir, roots=settings.allowed_roots)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key)
    return app
