"""No server-side path in anything the server sends: one ASGI middleware over every JSON and SSE response.

Error texts come from many layers (the data readers name the file they read, the worker names its run
folder, pydantic echoes input), so paths are not removed where each message is written but where every
response leaves the app. Two rules:

* the server's own folders (the data dir and its temporary upload folders, the import roots, the system
  temporary folder, the Python installation, the home and working folders) become names relative to them:
  ``/srv/genforge-data/upload-x1y2/cats.zip`` is sent as ``cats.zip``, ``<data>/runs/job-1/worker.log`` as
  ``runs/job-1/worker.log``;
* in error responses (status 400 and up), any other absolute path is cut to its last part, so that an
  error reads the same whether or not the path exists (the API's own URLs, ``/api/...``, are kept).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An absolute POSIX path of two parts or more, not inside a URL or a word ("images/s", "http://h/x").
_ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+=,-]+/)+[\w.@+=,-]*")
_API_PREFIXES = ("/api/", "/v2/", "/ui/", "/docs", "/openapi", "/redoc")
_BIG = 4 * 1024 * 1024  # error bodies above this are not parsed (the rules then apply to the raw text)


class PrivatePaths:
    """The server's folders and how each is shown; ``public(text)`` applies the rules above."""

    def __init__(self, data_dir: Path, roots: Iterable[Path] = ()) -> None:
        data = Path(data_dir).resolve()
        folders = [*roots, data, Path(tempfile.gettempdir()), Path(sys.prefix), Path(sys.base_prefix),
                   Path(__file__).resolve().parents[2], Path.home(), Path.cwd()]
        prefixes: dict[str, str] = {}
        for folder in folders:
            for form in {str(folder), str(Path(folder).resolve())}:
                if form not in ("/", ""):
                    prefixes.setdefault(form.rstrip("/") + "/", "")
        # Upload and staging folders (data/upload-*/, data/models/.upload-*/): the file as the user named it.
        uploads = rf"{re.escape(str(data))}/(?:models/)?\.?upload-[^/\s'\"]*/"
        alternatives = sorted(prefixes, key=len, reverse=True)
        self._prefix = re.compile(uploads + "|" + "|".join(re.escape(p) for p in alternatives))
        self._bare = {str(data): "the server's data folder"}

    def public(self, text: str, strict: bool = True) -> str:
        """``text`` without server paths; ``strict`` also cuts any other absolute path to its last part."""
        if not text or "/" not in text:
            return text
        text = self._prefix.sub("", text)
        for path, name in self._bare.items():
            text = text.replace(path, name)
        return _ABSOLUTE.sub(_last_part, text) if strict else text

    def scrub(self, value: Any, strict: bool) -> Any:
        """Every string inside a JSON value, through ``public``."""
        if isinstance(value, str):
            return self.public(value, strict)
        if isinstance(value, list):
            return [self.scrub(v, strict) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub(v, strict) for k, v in value.items()}
        return value


def _last_part(match: re.Match) -> str:
    path = match.group(0)
    if path.startswith(_API_PREFIXES):
        return path
    return os.path.basename(path.rstrip("/")) or "a path"


class ScrubPathsMiddleware:
    """Rewrites JSON bodies and Server-Sent Events through ``PrivatePaths`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, data_dir: Path, roots: Iterable[Path] = ()) -> None:
        self.app = app
        self.paths = PrivatePaths(data_dir, roots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":  # HEAD: headers only, nothing to rewrite
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        kind = ""
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start, kind
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                kind = headers.get(b"content-type", b"").split(b";")[0].strip().decode("latin-1").lower()
                if kind == "application/json":
                    start = message  # held until the whole body is in: its length will change
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or start is None and kind != "text/event-stream":
                await send(message)
                return
            if kind == "text/event-stream":
                await send({**message, "body": self._events(message.get("body", b""))})
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self._json(b"".join(chunks), start["status"] >= 400)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)

    def _json(self, body: bytes, error: bool) -> bytes:
        if b"/" not in body:  # nothing path-like at all: inference outputs, most listings
            return body
        if not error or len(body) > _BIG:
            # The prefix rule works on the JSON text as it is (Starlette writes non-ASCII unescaped).
            return self.paths.public(body.decode("utf-8", "replace"), strict=error).encode()
        try:
            value = json.loads(body)
        except ValueError:
            return self.paths.public(body.decode("utf-8", "replace"), strict=True).encode()
        return json.dumps(self.paths.scrub(value, strict=True), ensure_ascii=False, separators=(",", ":")).encode()

    def _events(self, body: bytes) -> bytes:
        return self.paths.public(body.decode("utf-8", "replace"), strict=False).encode() if b"/" in body else body
