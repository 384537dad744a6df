"""The journal's head, its verification, and the health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import reader
from api.errors import problem
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(tags=["ledger"])


@router.get("/v1/ledger", summary="This ledger's id, which every signature names (no auth)")
async def ledger_id(request: Request) -> dict[str, Any]:
    """Public on purpose: a client needs the id before it can sign anything, and the id
    (the genesis entry's hash) tells nothing about any member."""
    ledger: Ledger = request.app.state.ledger
    return {"ledger_id": await run_in_threadpool(ledger.ledger_id)}


@router.get("/v1/ledger/head", summary="The seq and hash of the newest entry")
async def head(request: Request, _viewer: Member = Depends(reader())) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    found = await run_in_threadpool(ledger.head)
    return {"seq": found.seq if found else 0, "entry_hash": found.entry_hash if found else None}


@router.get("/v1/ledger/verify", summary="Recompute the chain and the projections (operator)")
async def verify(request: Request, _viewer: Member = Depends(reader("operator"))) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    report = await run_in_threadpool(ledger.verify)
    return report.wire()


@router.get("/healthz", summary="Liveness and database reachability", include_in_schema=True)
async def healthz(request: Request) -> JSONResponse:
    ledger: Ledger = request.app.state.ledger
    try:
        found = await run_in_threadpool(ledger.head)
    except Exception as exc:  # the health check reports; it never raises
        return problem(
            "unavailable", f"the database is unreachable ({type(exc).__name__})", request
        )
    return JSONResponse({"status": "ok", "seq": found.seq if found else 0})
