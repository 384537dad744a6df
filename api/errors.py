"""The one place that turns refusals and failures into RFC 9457 problem responses.

Every error leaves as ``application/problem+json``: ``{type, title, status, detail}``
plus any fields the refusal carries (``errors`` for validation). ``type`` is the
stable slug from ``ledger.errors.PROBLEMS`` that clients code against; its status
and title come from the same declaration.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import PROBLEMS, Refusal

log = logging.getLogger("dcc.api")

PROBLEM_JSON = "application/problem+json"


def status_of(type_: str) -> int:
    return PROBLEMS[type_].status


def problem(type_: str, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    status = status_of(type_)
    body: dict[str, Any] = {
        "type": type_,
        "title": PROBLEMS[type_].title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def refusal_response(refusal: Refusal, request: Request | None = None) -> JSONResponse:
    return problem(refusal.type, refusal.detail, request, **refusal.extra)


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"])}
            for e in exc.errors()
        ]
        detail = f"{errors[0]['field']}: {errors[0]['message']}" if errors else "malformed request"
        return problem("validation", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return problem("method-not-allowed", f"{request.method} is not allowed here", request)
        if exc.status_code == 413:
            return problem("payload-too-large", str(exc.detail), request)
        if exc.status_code == 404:
            return problem("not-found", "no such resource", request)
        return problem("validation", str(exc.detail), request)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database busy or unreachable: %s", exc)
        return problem("unavailable", "the database is busy or unreachable; retry", request)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        log.warning("database pool exhausted: %s", exc)
        return problem("unavailable", "every database connection is in use; retry", request)

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        log.exception("database error")
        return problem("internal-error", "a database error; nothing was applied", request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem("internal-error", "an unexpected error; nothing was applied", request)
