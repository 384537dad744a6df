"""The one place that turns refusals and failures into RFC 9457 problem responses.

Every error leaves as ``application/problem+json``: ``{type, title, status, detail}``
plus any fields the refusal carries (``errors`` for validation). ``type`` is the
stable slug from ``ledger.errors.TITLES`` that clients code against.
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

from ledger.errors import TITLES, Refusal

log = logging.getLogger("dcc.api")

PROBLEM_JSON = "application/problem+json"

STATUS: dict[str, int] = {
    "validation": 422,
    "invalid-amount": 422,
    "payload-too-large": 413,
    "body-not-allowed": 400,
    "unsupported-media-type": 415,
    "request-timeout": 408,
    "bad-request": 400,
    "method-not-allowed": 405,
    "unavailable": 503,
    "internal-error": 500,
    "unknown-command": 422,
    "unauthenticated": 401,
    "bad-signature": 401,
    "unknown-member": 401,
    "unknown-key": 401,
    "retired-key": 401,
    "stale-timestamp": 401,
    "member-suspended": 403,
    "forbidden": 403,
    "not-found": 404,
    "replayed-nonce": 409,
    "not-initialised": 409,
    "already-initialised": 409,
    "member-exists": 409,
    "member-not-found": 404,
    "key-in-use": 409,
    "invalid-member-state": 409,
    "role-mismatch": 422,
    "issuance-limit-exceeded": 422,
    "certificate-not-found": 404,
    "maturity-out-of-range": 422,
    "recipient-not-admitted": 422,
    "recipient-suspended": 422,
    "recipient-is-issuer": 422,
    "not-holder": 403,
    "not-spendable": 409,
    "not-pending": 409,
    "not-issuer": 403,
    "certificate-expired": 409,
    "certificate-matured": 409,
    "duplicate-input": 422,
    "mixed-roots": 422,
    "insufficient-amount": 422,
    "too-many-outputs": 422,
    "piece-too-small": 422,
    "max-level-exceeded": 422,
    "invoice-overused": 422,
    "invoice-conflict": 409,
    "obligation-not-found": 404,
    "invalid-obligation-state": 409,
    "netting-too-large": 422,
}
DEFAULT_REFUSAL_STATUS = 422


def status_of(type_: str) -> int:
    return STATUS.get(type_, DEFAULT_REFUSAL_STATUS)


def problem(type_: str, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    status = status_of(type_)
    body: dict[str, Any] = {
        "type": type_,
        "title": TITLES.get(type_, type_),
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
