"""The listings people look for: members (the operator), a member's obligations, an
issuer's certificates, a core enterprise's issuance limit.

Signed reads, paged with the wallet's cursor (``ledger.reads``), authorised by role: a
member reading another firm's list gets ``404 not-found``, as if it did not exist;
``GET /v1/members`` is the operator's (``403 forbidden`` to anyone else, like every
operator-only read). Query parameters are typed here, so a bad state, role or date is
``422 validation`` with ``errors: [{field, message}]`` before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import reader
from api.capacity import capacity_of
from ledger import reads
from ledger.certificates import RootState
from ledger.commands import Date
from ledger.limits import PAGE_SIZE_MAX, ROOT_PAGE_SIZE_MAX
from ledger.members import Member, MemberStatus
from ledger.obligations import ObligationState
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["listings"])

Cursor = Annotated[str | None, Query(description="next_cursor of the page before")]
Limit = Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX, description="items per page")]
Amount = Annotated[str, Field(description="decimal string, two decimals", examples=["300.00"])]


class _Open(BaseModel):
    """An item shape: the fields named are published; any others the server adds pass."""

    model_config = ConfigDict(extra="allow")


class MemberItem(_Open):
    id: str
    name: str
    roles: list[str]
    status: MemberStatus
    key_id: str
    public_key: str
    admitted_seq: int
    netting_consent: bool
    tier: str | None = None
    payout_account: dict[str, str] | None = None


class MemberPage(BaseModel):
    members: list[MemberItem]
    next_cursor: str | None


class ObligationItem(_Open):
    id: str
    debtor: str
    creditor: str
    amount: Amount
    outstanding: Amount
    due_date: str
    state: ObligationState
    reference: str
    payment_ref: str | None
    created_seq: int
    updated_seq: int = Field(description="the entry that last changed it")
    claimed: Amount | None = None
    claim_ref: str | None = None


class ObligationPage(BaseModel):
    member: str | None = Field(description="whose obligations; null: everyone's (operator)")
    obligations: list[ObligationItem]
    next_cursor: str | None


class CertificateItem(_Open):
    id: str = Field(description="the root's id")
    issuer: str
    first_holder: str
    face: Amount
    outstanding: Amount
    paid: Amount
    overdue: Amount
    maturity: str
    state: RootState
    pieces: int = Field(description="pieces holding value")
    created_seq: int


class CertificatePage(BaseModel):
    issuer: str | None = Field(description="whose certificates; null: every issuer's (operator)")
    certificates: list[CertificateItem]
    next_cursor: str | None


class IssuanceLimitView(_Open):
    core: str
    kind: str
    limit: Amount
    outstanding: Amount
    available: Amount
    block_lifted_until: str | None = None
    block_lift_reason: str | None = None


async def _read(request: Request, view: Callable[..., dict[str, Any]], *args: Any) -> Any:
    ledger: Ledger = request.app.state.ledger
    return await capacity_of(request.app.state).read(ledger.read, view, *args)


@router.get(
    "/members",
    summary="Every member, by admission (operator)",
    response_model=MemberPage,
    response_model_exclude_unset=True,
)
async def list_members(
    request: Request,
    cursor: Cursor = None,
    limit: Limit = None,
    viewer: Member = Depends(reader("operator")),
) -> Any:
    return await _read(request, reads.members, viewer, cursor, limit)


@router.get(
    "/obligations",
    summary="A member's obligations, oldest first (the member, operator)",
    response_model=ObligationPage,
    response_model_exclude_unset=True,
)
async def list_obligations(
    request: Request,
    member: Annotated[str | None, Query(description="default: the reader")] = None,
    role: Annotated[Literal["debtor", "creditor"] | None, Query()] = None,
    state: Annotated[ObligationState | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = None,
    viewer: Member = Depends(reader()),
) -> Any:
    return await _read(request, reads.obligations, viewer, member, role, state, cursor, limit)


@router.get(
    "/certificates",
    summary="An issuer's certificates (roots), by issue (the issuer, operator)",
    response_model=CertificatePage,
    response_model_exclude_unset=True,
)
async def list_certificates(
    request: Request,
    issuer: Annotated[str | None, Query(description="default: the reader")] = None,
    state: Annotated[RootState | None, Query()] = None,
    maturity_from: Annotated[Date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    maturity_to: Annotated[Date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    cursor: Cursor = None,
    limit: Annotated[int | None, Query(ge=1, le=ROOT_PAGE_SIZE_MAX)] = None,
    viewer: Member = Depends(reader()),
) -> Any:
    return await _read(
        request,
        reads.certificates,
        viewer,
        issuer,
        state,
        maturity_from,
        maturity_to,
        cursor,
        limit,
    )


@router.get(
    "/limits/{core}",
    summary="A core's issuance limit: limit, outstanding, available (the core, operator)",
    response_model=IssuanceLimitView,
    response_model_exclude_unset=True,
)
async def get_limit(core: str, request: Request, viewer: Member = Depends(reader())) -> Any:
    return await _read(request, reads.issuance_limit, viewer, core)
