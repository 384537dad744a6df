"""``POST /v1/commands``: the one write endpoint."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.capacity import capacity_of
from ledger.errors import Refusal
from ledger.service import Ledger, Prepared, Receipt

router = APIRouter(prefix="/v1", tags=["commands"])


@router.post(
    "/commands",
    status_code=201,
    summary="Submit a signed command",
    # The request body (the envelope, discriminated on the command's type) and the
    # problem answers are derived from the catalog by api.openapi.
    response_model=None,
    responses={
        201: {"model": schemas.Receipt, "description": "Applied: the receipt"},
        200: {
            "model": schemas.Receipt,
            "description": "An identical envelope was already applied: its original receipt",
        },
    },
)
async def submit(request: Request) -> JSONResponse:
    require_json(request.headers.get("content-type"))
    body = await request.body()  # bounded as it streams by api.bodies.BodyLimit
    ledger: Ledger = request.app.state.ledger
    cmd = ledger.parse(body)
    # Checking the signature of a command whose key is known costs less than a hop to a
    # thread; a look-up in the database (a new key, an old retry, a plan) takes the hop.
    prepared = ledger.prepare(cmd, may_block=False)
    if prepared is None:
        prepared = await capacity_of(request.app.state).write(ledger.prepare, cmd)
    assert prepared is not None
    receipt = prepared if isinstance(prepared, Receipt) else await _sequenced(ledger, prepared)
    return JSONResponse(receipt.wire(), status_code=200 if receipt.replayed else 201)


async def _sequenced(ledger: Ledger, prepared: Prepared) -> Receipt:
    """Wait, without a thread, for the sequencer to commit the command's batch."""
    receipt: Receipt = await asyncio.wrap_future(ledger.sequence(prepared))
    return receipt


def require_json(content_type: str | None) -> None:
    """A command is ``application/json``, in UTF-8 if a charset is named at all."""
    media_type, *parameters = (content_type or "").split(";")
    if media_type.strip().lower() != "application/json":
        raise Refusal(
            "unsupported-media-type",
            f"a command is sent as application/json, not {media_type.strip() or 'untyped'}",
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise Refusal("unsupported-media-type", "a command is encoded in UTF-8")
