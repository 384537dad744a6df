"""Settlement reads: the clearing list and the reports (``ledger.reports``), as JSON,
or as CSV when the request accepts ``text/csv``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import DuePage, IssuerReport, OverduePage, RootsPage, SplittingPage
from ledger import reports
from ledger.certificates import business_today
from ledger.context import Context
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["settlement"])

CSV = "text/csv; charset=utf-8"


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _today(request: Request) -> date:
    ledger = _ledger(request)
    return business_today(Context(0, ledger.clock(), "", ledger.settings))


async def _answer(
    request: Request, view: Callable[..., reports.Page], *args: Any
) -> dict[str, Any] | Response:
    """``view(*args, settings)`` as JSON, or as CSV when the client asks for ``text/csv``."""
    ledger = _ledger(request)
    read = capacity_of(request.app.state).read
    page: reports.Page = await read(ledger.read, view, *args, ledger.settings)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(page.csv(), media_type=CSV)
    return page.wire()


@router.get(
    "/settlements/due",
    summary="The clearing list: what an issuer owes, to whom",
    **answers(DuePage, also=[CSV]),
)
async def get_due(
    request: Request,
    issuer: str = "",
    on: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> Any:
    return await _answer(request, reports.due, viewer, issuer, on, cursor, limit)


@router.get(
    "/reports/roots",
    summary="Per root of an issuer: paid, outstanding, overdue",
    **answers(RootsPage, also=[CSV]),
)
async def get_roots(
    request: Request,
    issuer: str = "",
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> Any:
    return await _answer(request, reports.roots, viewer, issuer, _today(request), cursor, limit)


@router.get(
    "/reports/overdue",
    summary="Overdue pieces, days late and interest so far",
    **answers(OverduePage, also=[CSV]),
)
async def get_overdue(
    request: Request,
    issuer: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> Any:
    today = _today(request)
    return await _answer(request, reports.overdue, viewer, issuer, today, cursor, limit)


@router.get(
    "/reports/issuer/{issuer}",
    summary="An issuer's limit, issued, paid, overdue",
    **answers(IssuerReport, also=[CSV]),
)
async def get_issuer(
    issuer: str,
    request: Request,
    from_: str | None = None,
    to: str | None = None,
    viewer: Member = Depends(reader()),
) -> Any:
    # ``from`` is a Python keyword: read it from the query itself.
    first = request.query_params.get("from", from_)
    today = _today(request)
    return await _answer(request, reports.issuer_report, viewer, issuer, first, to, today)


@router.get(
    "/reports/splitting",
    summary="Roots split deep or fine (operator)",
    **answers(SplittingPage, also=[CSV]),
)
async def get_splitting(
    request: Request,
    flagged: bool = False,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader("operator")),
) -> Any:
    return await _answer(request, reports.splitting, viewer, flagged, cursor, limit)
