"""Obligations: trade payables registered beside certificates, for netting.

A debtor registers what it owes (``obligation.register``); it counts only once the
creditor confirms it (``obligation.confirm``) — a creditor may also refuse it
(``obligation.reject``). The debtor closes a confirmed obligation when it pays
(``obligation.settle`` with the payment reference). Netting may reduce a confirmed
obligation's ``outstanding`` amount; at zero it is settled by set-off::

    register 500.00  → pending   (outstanding 500.00)
    confirm          → confirmed
    netting −200.00  → confirmed (outstanding 300.00)
    settle           → settled   (outstanding 0.00, payment_ref kept)

No issuance limit stands behind an obligation, so it has limits of its own: at most
``obligation_fen_max`` each (``obligation-too-large``), and at most
``member_obligations_max`` pending or confirmed ones owed by one debtor at a time
(``member-obligations-exceeded``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

from pydantic import StringConstraints

from ledger.commands import Amount, Date, MemberId, Reference, WireModel, register_body
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.members import Member
from ledger.money import format_fen

PENDING, CONFIRMED, REJECTED, SETTLED = "pending", "confirmed", "rejected", "settled"


@dataclass(frozen=True)
class Obligation:
    id: str
    debtor: str
    creditor: str
    amount_fen: int
    outstanding_fen: int
    due_date: date
    state: str
    reference: str
    payment_ref: str | None
    created_seq: int

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "debtor": self.debtor,
            "creditor": self.creditor,
            "amount": format_fen(self.amount_fen),
            "outstanding": format_fen(self.outstanding_fen),
            "due_date": self.due_date.isoformat(),
            "state": self.state,
            "reference": self.reference,
            "payment_ref": self.payment_ref,
            "created_seq": self.created_seq,
        }


class RegisterBody(WireModel):
    creditor: MemberId
    amount: Amount
    due_date: Date
    reference: Reference


ObligationId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class ObligationRef(WireModel):
    id: ObligationId


class SettleBody(WireModel):
    id: ObligationId
    payment_ref: Reference


class ConsentBody(WireModel):
    consent: bool


register_body("obligation.register", RegisterBody)
register_body("obligation.confirm", ObligationRef)
register_body("obligation.reject", ObligationRef)
register_body("obligation.settle", SettleBody)
register_body("member.netting_consent", ConsentBody)


def register(
    creditor: Member | None, debtor: str, owed: int, body: RegisterBody, ctx: Context
) -> Effects:
    """Register what ``debtor`` (who owes ``owed`` live obligations now) owes."""
    if body.amount > ctx.settings.obligation_fen_max:
        raise Refusal(
            "obligation-too-large",
            f"one obligation may be at most {format_fen(ctx.settings.obligation_fen_max)}",
        )
    if owed >= ctx.settings.member_obligations_max:
        raise Refusal(
            "member-obligations-exceeded",
            f"a member may owe at most {ctx.settings.member_obligations_max} live "
            "obligations; settle some first",
        )
    if creditor is None:
        raise Refusal("recipient-not-admitted", f"{body.creditor} is not an admitted member")
    if creditor.status != "active":
        raise Refusal("recipient-suspended", f"{body.creditor} is suspended")
    if creditor.id == debtor:
        raise Refusal("validation", "an obligation needs two different parties")
    obligation = Obligation(
        id=ctx.derive_id(0),
        debtor=debtor,
        creditor=body.creditor,
        amount_fen=body.amount,
        outstanding_fen=body.amount,
        due_date=body.due_date,
        state=PENDING,
        reference=body.reference,
        payment_ref=None,
        created_seq=ctx.seq,
    )
    return {"obligations": [obligation.wire()]}


def _for_party(obligation: Obligation | None, signer: str, role: str) -> Obligation:
    """The obligation if ``signer`` is its ``role`` (debtor or creditor); 404 otherwise
    for strangers, 403 for the other party."""
    if obligation is None or signer not in (obligation.debtor, obligation.creditor):
        raise Refusal("obligation-not-found", "no such obligation")
    if getattr(obligation, role) != signer:
        raise Refusal("forbidden", f"only the {role} may do this")
    return obligation


def confirm(obligation: Obligation | None, signer: str) -> Effects:
    found = _for_party(obligation, signer, "creditor")
    if found.state != PENDING:
        raise Refusal("invalid-obligation-state", f"obligation is {found.state}, not pending")
    return {"obligations": [replace(found, state=CONFIRMED).wire()]}


def reject(obligation: Obligation | None, signer: str) -> Effects:
    found = _for_party(obligation, signer, "creditor")
    if found.state != PENDING:
        raise Refusal("invalid-obligation-state", f"obligation is {found.state}, not pending")
    return {"obligations": [replace(found, state=REJECTED, outstanding_fen=0).wire()]}


def settle(obligation: Obligation | None, signer: str, body: SettleBody) -> Effects:
    found = _for_party(obligation, signer, "debtor")
    if found.state != CONFIRMED:
        raise Refusal("invalid-obligation-state", f"obligation is {found.state}, not confirmed")
    settled = replace(found, state=SETTLED, outstanding_fen=0, payment_ref=body.payment_ref)
    return {"obligations": [settled.wire()]}


def reduce(obligation: Obligation, amount_fen: int) -> Obligation:
    """Netting clears ``amount_fen`` of a confirmed obligation."""
    assert obligation.state == CONFIRMED and 0 < amount_fen <= obligation.outstanding_fen
    outstanding = obligation.outstanding_fen - amount_fen
    return replace(
        obligation, outstanding_fen=outstanding, state=SETTLED if outstanding == 0 else CONFIRMED
    )


def consent(member: Member, body: ConsentBody) -> Effects:
    return {"members": [replace(member, netting_consent=body.consent).wire()]}
