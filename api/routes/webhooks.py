"""Webhooks: a member's endpoints and secrets, and the deliveries of its outbox.

Endpoints are set and removed with signed commands (``webhook.set``, ``webhook.delete``,
``webhook.rotate_secret``); what is here reads them, fetches their secrets (signed by
the member itself: a secret is never in the journal) and shows what the relay did with
each message, with a way to ask for one again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import DeliveriesPage, DeliveryAttempts, Endpoints, Secrets
from ledger import reads
from ledger.members import Member
from ledger.outbox import now_ms
from ledger.service import Ledger

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


@router.get(
    "/deliveries",
    summary="Outbox messages, newest first (their member, operator)",
    **answers(DeliveriesPage),
)
async def deliveries(
    request: Request,
    member: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    return await capacity_of(request.app.state).read(
        _ledger(request).read, reads.webhook_deliveries, viewer, member, state, cursor, limit
    )


@router.get(
    "/deliveries/{message}",
    summary="One message and its every attempt",
    **answers(DeliveryAttempts),
)
async def delivery(
    message: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await capacity_of(request.app.state).read(
        _ledger(request).read, reads.webhook_delivery, viewer, message
    )


@router.post(
    "/deliveries/{message}/redeliver",
    status_code=202,
    summary="Send a message again from the start of the schedule (its member, operator)",
    **answers(DeliveryAttempts, "redeliveries-exceeded", status=202),
)
async def redeliver(
    message: str, request: Request, viewer: Member = Depends(reader())
) -> JSONResponse:
    ledger = _ledger(request)
    answer = await capacity_of(request.app.state).write(
        ledger.operational, reads.redeliver, viewer, message, now_ms(), ledger.settings
    )
    return JSONResponse(answer, status_code=202)


@router.get(
    "/{member}", summary="A member's webhook endpoints (the member, operator)", **answers(Endpoints)
)
async def endpoints(
    member: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await capacity_of(request.app.state).read(
        _ledger(request).read, reads.webhook_endpoints, viewer, member
    )


@router.get(
    "/{member}/secret",
    summary="The signing secrets of a member's endpoints (itself)",
    **answers(Secrets),
)
async def secrets(
    member: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await capacity_of(request.app.state).write(
        _ledger(request).operational, reads.webhook_secrets, viewer, member
    )
