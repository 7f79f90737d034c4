"""The API key guard and the request body limit, as plain ASGI middleware (so that they cover every route,
the OpenAPI docs and streaming responses alike)."""

from __future__ import annotations

import hmac
import json

from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

from genforge.server.body_limit import BodyLimitMiddleware  # noqa: F401 - app.py imports it from here
from genforge.webui import is_public as ui_shell

OPEN_PATHS = frozenset({"/v2/health/live"})
# Declared on the routers so that the OpenAPI docs show the key (the middleware does the checking).
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's API key, when set.")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def presented_key(scope: Scope) -> str | None:
    key = _header(scope, b"x-api-key")
    if key:
        return key
    auth = _header(scope, b"authorization") or ""
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _send_json(send: Send, status: int, detail: str, path: str, headers: list | None = None) -> None:
    payload = {"error": detail, "detail": detail} if path.startswith("/v2") else {"detail": detail}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Answer 401 to any request without the key (constant-time comparison), but for the liveness probe and
    the web UI's page shell and assets (GET only; they hold no data, and the page asks for the key)."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS or (
                scope["method"] in ("GET", "HEAD") and ui_shell(scope["path"])):
            await self.app(scope, receive, send)
            return
        given = presented_key(scope)
        if given is None or not hmac.compare_digest(given.encode(), self.key):
            detail = ("missing API key: send it in the X-API-Key header (or Authorization: Bearer KEY)."
                      if given is None else "invalid API key.")
            await _send_json(send, 401, detail, scope["path"], [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)
