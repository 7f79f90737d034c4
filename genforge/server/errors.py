"""JSON errors for every failure: ``{"detail": "..."}`` with a 4xx status for what the user can fix, and a
500 that names an error id (the traceback goes to the server log only, never to the client)."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError as SqlDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from genforge.errors import DataError, GenforgeError, ModelFormatError, NotFittedError, ParameterError, TrainingError

log = logging.getLogger("genforge.server")


class ApiError(Exception):
    """An error with its HTTP status, raised by route code."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} {ident!r} not found.")


class BodyTooLarge(Exception):
    """Raised from the body-size guard while a handler reads a request body past the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def status_of(error: GenforgeError) -> int:
    if isinstance(error, ParameterError):
        return 422
    if isinstance(error, (DataError, ModelFormatError)):
        return 422
    if isinstance(error, (NotFittedError, TrainingError)):
        return 409
    return 400


def _body(request: Request, detail: str) -> dict:
    # The Open Inference Protocol names its error field "error"; everything else uses "detail".
    if request.url.path.startswith("/v2"):
        return {"error": detail, "detail": detail}
    return {"detail": detail}


def describe_validation(error: RequestValidationError) -> str:
    """One line per problem, each naming the field: ``body.parameters.epochs: Input should be ...``."""
    parts = []
    for item in error.errors()[:10]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(_body(request, error.detail), status_code=error.status)

    @app.exception_handler(GenforgeError)
    async def _genforge_error(request: Request, error: GenforgeError) -> JSONResponse:
        from genforge.data.limits import LimitError

        if isinstance(error, LimitError):  # data past a decompression limit: name the server's option
            from genforge.server.limits import server_detail

            return JSONResponse(_body(request, server_detail(error)), status_code=413)
        return JSONResponse(_body(request, str(error)), status_code=status_of(error))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(_body(request, describe_validation(error)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:  # list every method of the path (FastAPI has one route per method)
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(_body(request, str(error.detail)), status_code=error.status_code, headers=headers or None)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return JSONResponse(_body(request, f"request body is larger than the limit of {error.limit} bytes."),
                            status_code=413)

    @app.exception_handler(SqlDataError)
    async def _unstorable(request: Request, error: SqlDataError) -> JSONResponse:
        # PostgreSQL refuses what SQLite stores: NUL characters, text longer than its column.
        return JSONResponse(_body(request, "a value cannot be stored: it holds a NUL character or is longer than "
                                           "the database allows; remove the NUL or shorten it."), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        ident = secrets.token_hex(4)
        log.exception("error %s on %s %s", ident, request.method, request.url.path)
        return JSONResponse(_body(request, f"internal server error (id {ident}); the server log has the details."),
                            status_code=500)
