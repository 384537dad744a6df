"""Credit limits: how much paper a core enterprise may have outstanding.

The operator sets each core enterprise's issuance limit (``limit.set``).
``outstanding`` is the face of what it has issued and not yet seen settled, voided
(a rejected, cancelled or expired issuance) or cleared: issuing is refused with
``issuance-limit-exceeded`` when ``outstanding + face > limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ledger.commands import AmountOrZero, MemberId, WireModel
from ledger.context import Effects
from ledger.errors import Refusal
from ledger.members import Member
from ledger.money import format_fen

ISSUANCE = "issuance"


@dataclass(frozen=True)
class IssuanceLimit:
    member: str
    limit_fen: int
    outstanding_fen: int
    # The operator let it issue despite overdue paper until this date (ledger.settlement).
    block_lifted_until: date | None = None
    block_lift_reason: str | None = None

    def wire(self) -> dict[str, Any]:
        from ledger.entities import LIMITS  # which imports this module

        return LIMITS.to_wire(self)


def none_for(member: str) -> IssuanceLimit:
    """A core enterprise with no limit set may issue nothing."""
    return IssuanceLimit(member, 0, 0)


def set_limit(current: IssuanceLimit, limit_fen: int) -> IssuanceLimit:
    # A limit below what is outstanding is allowed: it stops new issuance until
    # settlements bring the outstanding amount back under it.
    return replace(current, limit_fen=limit_fen)


def consume(current: IssuanceLimit, face_fen: int) -> IssuanceLimit:
    if current.outstanding_fen + face_fen > current.limit_fen:
        raise Refusal(
            "issuance-limit-exceeded",
            f"issuing {format_fen(face_fen)} would bring {current.member}'s outstanding paper to "
            f"{format_fen(current.outstanding_fen + face_fen)}, over its limit of "
            f"{format_fen(current.limit_fen)}",
        )
    return replace(current, outstanding_fen=current.outstanding_fen + face_fen)


def restore(current: IssuanceLimit, face_fen: int) -> IssuanceLimit:
    assert current.outstanding_fen >= face_fen, (current, face_fen)
    return replace(current, outstanding_fen=current.outstanding_fen - face_fen)


class LimitSetBody(WireModel):
    member: MemberId
    amount: AmountOrZero


def decide_set(target: Member | None, current: IssuanceLimit | None, body: LimitSetBody) -> Effects:
    """``limit.set``: the operator sets a core enterprise's issuance limit."""
    if target is None:
        raise Refusal("member-not-found", f"no member {body.member}")
    if not target.has_role("core"):
        raise Refusal("role-mismatch", f"{body.member} is not a core enterprise")
    return {"limits": [set_limit(current or none_for(body.member), body.amount).wire()]}
