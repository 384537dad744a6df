"""``GET /v1/members/{id}``: any member's public record, for any admitted member (its
rating and payout account only for itself and the operator)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import MemberView
from ledger.errors import Refusal
from ledger.members import Member
from ledger.service import Ledger
from ledger.uscc import is_valid_uscc

router = APIRouter(prefix="/v1", tags=["members"])


@router.get("/members/{member_id}", summary="A member's public record", **answers(MemberView))
async def get_member(
    member_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    if not is_valid_uscc(member_id):  # no such member can exist: do not query for it
        raise Refusal("not-found", f"no member {member_id}")
    ledger: Ledger = request.app.state.ledger
    member = await capacity_of(request.app.state).read(ledger.member, member_id)
    if member is None:
        raise Refusal("not-found", f"no member {member_id}")
    record = member.wire()
    if viewer.id != member.id and not viewer.has_role("operator"):
        # A supplier's rating, and where a member is paid, are its own and the
        # operator's (an issuer that owes a holder sees its account in the clearing list).
        record.pop("tier", None)
        record.pop("payout_account", None)
    return record
