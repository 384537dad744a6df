"""``GET /v1/members/{id}``: any member's public record with its active keys, for any
admitted member (its rating, payout account and key names only for itself and the
operator)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import MemberRecord
from ledger import reads
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["members"])


@router.get(
    "/members/{member_id}",
    summary="A member's public record and active keys",
    **answers(MemberRecord),
)
async def get_member(
    member_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    return await capacity_of(request.app.state).read(
        ledger.read, reads.member_record, viewer, member_id
    )
