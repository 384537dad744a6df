"""Discounting reads: quotes, financings, a bank's exposure, the financing report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import reader
from api.capacity import read_view
from api.openapi import answers
from api.schemas import Ancestry, Exposure, FinancingReport, FinancingsPage, FinancingView, Quote
from ledger import reads
from ledger.certificates import business_today
from ledger.context import Context
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["discounting"])


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def _read_touching(
    request: Request, view: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """A financing view; an application it shows undecided past its window is expired
    first (as the sweep would), so no read shows a stale application."""
    ledger = _ledger(request)
    result = await read_view(request, view, *args)
    due = ledger.due_financings(result)
    if due:
        await asyncio.wrap_future(ledger.submit_sweep((), len(due), due))
        result = await read_view(request, view, *args)
    return result


@router.get(
    "/financing/quote",
    summary="What a financing would be quoted now (the holder)",
    **answers(
        Quote,
        "certificate-not-found",
        "not-holder",
        "not-spendable",
        "not-a-bank",
        "no-credit-line",
        "credit-line-expired",
        "credit-line-exceeded",
        "invalid-amount",
        "certificate-matured",
        "certificate-overdue",
        "already-financed",
        "piece-too-small",
    ),
)
async def get_quote(
    request: Request,
    certificate: str = "",
    bank: str = "",
    amount: str | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    ledger = _ledger(request)
    return await read_view(
        request, reads.quote, viewer, certificate, bank, amount, ledger.clock(), ledger.settings
    )


@router.get(
    "/financings/{financing_id}",
    summary="One financing (applicant, bank, operator)",
    **answers(FinancingView),
)
async def get_financing(
    financing_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await _read_touching(request, reads.financing_view, viewer, financing_id)


@router.get(
    "/financings/{financing_id}/ancestry",
    summary="Due diligence: the financed piece and its ancestry to the root (the bank)",
    **answers(Ancestry, "ancestry-too-large"),
)
async def get_ancestry(
    financing_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await read_view(request, reads.ancestry, viewer, financing_id)


@router.get(
    "/financings",
    summary="A member's financings, as applicant and as bank",
    **answers(FinancingsPage),
)
async def list_financings(
    request: Request,
    member: str = "",
    state: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    return await _read_touching(request, reads.financings, viewer, member, state, cursor, limit)


@router.get(
    "/banks/{bank}/exposure", summary="A bank's credit lines and their use", **answers(Exposure)
)
async def get_exposure(
    bank: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    ledger = _ledger(request)
    today = business_today(Context(0, ledger.clock(), "", ledger.settings))
    return await read_view(request, reads.exposure, viewer, bank, today)


@router.get(
    "/reports/financing",
    summary="Financed face, interest, spread, fees by bank",
    **answers(FinancingReport),
)
async def get_report(
    request: Request, core: str = "", month: str = "", viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await read_view(request, reads.financing_report, viewer, core, month)
