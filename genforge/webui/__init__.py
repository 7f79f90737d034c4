"""The web UI of ``genforge start``: static HTML, CSS and JavaScript modules served by the same app.

``/`` answers the page shell and ``/ui/...`` its assets. They hold no data (everything the page shows comes
from ``/api/v1``), so they are served without the API key: the page asks the user for the key and sends it
as ``X-API-Key`` on every API request. No build step and no CDN: every asset is in ``static/``.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
UI_PREFIX = "/ui/"
PUBLIC_PATHS = frozenset({"/", "/favicon.ico"})


def is_public(path: str) -> bool:
    """Whether ``path`` is part of the UI shell (served without the API key)."""
    return path in PUBLIC_PATHS or (path.startswith(UI_PREFIX) and ".." not in path)


def mount(app) -> None:
    """Serve the UI at ``/`` and its assets under ``/ui``."""
    from fastapi.responses import FileResponse, Response
    from fastapi.staticfiles import StaticFiles

    index = STATIC_DIR / "index.html"
    no_cache = {"Cache-Control": "no-cache"}  # revalidate, so that an upgraded server serves its own UI

    @app.get("/", include_in_schema=False)
    def ui_index() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=no_cache)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")
