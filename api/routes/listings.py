"""The listings people look for: members (the operator), a member's obligations, an
issuer's certificates, a core enterprise's issuance limit.

Signed reads, paged with the wallet's cursor (``ledger.reads``), authorised by role: a
member reading another firm's list gets ``404 not-found``, as if it did not exist;
``GET /v1/members`` is the operator's (``403 forbidden`` to anyone else, like every
operator-only read). Query parameters are typed here, so a bad state, role or date is
``422 validation`` with ``errors: [{field, message}]`` before anything is read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.auth import reader
from api.capacity import read_view
from api.openapi import answers
from api.schemas import CertificatePage, IssuanceLimitView, MemberPage, ObligationPage
from ledger import reads
from ledger.certificates import RootState
from ledger.commands import Date
from ledger.limits import PAGE_SIZE_MAX, ROOT_PAGE_SIZE_MAX
from ledger.members import Member
from ledger.obligations import ObligationState

router = APIRouter(prefix="/v1", tags=["listings"])

Cursor = Annotated[str | None, Query(description="next_cursor of the page before")]
Limit = Annotated[int | None, Query(ge=1, le=PAGE_SIZE_MAX, description="items per page")]


@router.get(
    "/members",
    summary="Every member, by admission (operator)",
    **answers(MemberPage),
)
async def list_members(
    request: Request,
    cursor: Cursor = None,
    limit: Limit = None,
    viewer: Member = Depends(reader()),
) -> Any:
    return await read_view(request, reads.members, viewer, cursor, limit)


@router.get(
    "/obligations",
    summary="A member's obligations, oldest first (the member, operator)",
    **answers(ObligationPage),
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
    return await read_view(request, reads.obligations, viewer, member, role, state, cursor, limit)


@router.get(
    "/certificates",
    summary="An issuer's certificates (roots), by issue (the issuer, operator)",
    **answers(CertificatePage),
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
    return await read_view(
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
    **answers(IssuanceLimitView),
)
async def get_limit(core: str, request: Request, viewer: Member = Depends(reader())) -> Any:
    return await read_view(request, reads.issuance_limit, viewer, core)
