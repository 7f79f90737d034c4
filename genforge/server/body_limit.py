"""The request body limit, as plain ASGI middleware around every route.

A body with a Content-Length over the limit is refused before it is read. A body without one (chunked
transfer encoding) is counted as it streams in; once it passes the limit the middleware itself answers
413 and drops whatever the application tries to send afterwards. The 413 cannot depend on how a route
reads its body: FastAPI turns any exception raised while it parses a JSON body into a 400 "error parsing
the body", which is why raising alone is not enough.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genforge.server.errors import BodyTooLarge


def too_large_detail(limit: int) -> str:
    return (f"request body is larger than the limit of {limit} bytes; split the upload, or start the server "
            f"with a larger --max-upload-mb.")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def send_json(send: Send, status: int, detail: str, path: str, headers: list | None = None) -> None:
    """One JSON error response (``{"detail"}``, plus ``"error"`` under /v2 as the inference protocol names it)."""
    payload = {"error": detail, "detail": detail} if path.startswith("/v2") else {"detail": detail}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413: at once by Content-Length, else as they stream in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                await send_json(send, 400, "invalid Content-Length header.", scope["path"])
                return
            if too_big:
                await send_json(send, 413, too_large_detail(self.limit), scope["path"])
                return
        seen = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise BodyTooLarge(self.limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to the broken read (a 400, say) gives way to the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except BodyTooLarge:
            if started:
                raise
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await send_json(send, 413, too_large_detail(self.limit), scope["path"])
