"""The journal's head, its verification, the health check and the liveness probe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import reader
from api.capacity import capacity_of
from api.errors import problem
from api.openapi import answers
from api.schemas import Head, Health, LedgerId, Live, NotInitialised, VerifyReport
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(tags=["ledger"])


@router.get(
    "/v1/ledger",
    summary="This ledger's id, which every signature names (no auth)",
    **answers(LedgerId, "not-initialised"),
)
async def ledger_id(request: Request) -> dict[str, Any]:
    """Public on purpose: a client needs the id before it can sign anything, and the id
    (the genesis entry's hash) tells nothing about any member."""
    ledger: Ledger = request.app.state.ledger
    return {"ledger_id": await capacity_of(request.app.state).read(ledger.ledger_id)}


@router.get("/v1/ledger/head", summary="The seq and hash of the newest entry", **answers(Head))
async def head(request: Request, _viewer: Member = Depends(reader())) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    found = await capacity_of(request.app.state).read(ledger.head)
    return {"seq": found.seq if found else 0, "entry_hash": found.entry_hash if found else None}


@router.get(
    "/v1/ledger/verify",
    summary="Recompute the chain and the projections (operator)",
    **answers(VerifyReport),
)
async def verify(request: Request, _viewer: Member = Depends(reader("operator"))) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    report = await capacity_of(request.app.state).read(ledger.verify)
    return report.wire()


@router.get("/livez", summary="Liveness: the process answers (no database)", **answers(Live))
async def livez() -> dict[str, str]:
    """Answered on the event loop without touching the database, a thread or a pool: it
    tells only that this process serves HTTP (an orchestrator's liveness probe, and the
    no-op baseline of bench/load.py). Whether the database answers is ``/healthz``."""
    return {"status": "ok"}


NOT_INITIALISED = "not-initialised"  # /healthz's status before the genesis entry


@router.get(
    "/healthz",
    summary="Readiness: the database answers and the ledger is initialised",
    **answers(Health, otherwise={503: NotInitialised}),
)
async def healthz(request: Request) -> JSONResponse:
    """Answered on a thread and a database connection of its own (never the read or
    write pools), within ``health_check_s_max``: writes queued behind the write lock,
    or reads filling their pool, cannot make the health check wait. It also says whether
    this server's clock is shifted (``clock_offset_s``, 0 but in tests), so that no
    monitor mistakes a shifted server for a real one.

    Up but without a genesis entry (``dcc init`` not yet run) the server cannot take a
    command: it answers 503 with ``status: "not-initialised"`` and the same fields, so a
    readiness probe waits and a person sees what to do."""
    ledger: Ledger = request.app.state.ledger
    try:
        seq = await capacity_of(request.app.state).health(ledger.health_seq)
    except Exception as exc:  # the health check reports; it never raises
        return problem(
            "unavailable", f"the database is unreachable ({type(exc).__name__})", request
        )
    offset_s = ledger.settings.clock_offset_s
    if seq == 0:
        detail = "the ledger has no genesis entry: run `dcc init` (docs/operations.md)"
        body = {"status": NOT_INITIALISED, "seq": 0, "clock_offset_s": offset_s, "detail": detail}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "seq": seq, "clock_offset_s": offset_s})
