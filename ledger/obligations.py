"""Obligations: trade payables registered beside certificates, for netting.

A debtor registers what it owes (``obligation.register``); it counts only once the
creditor confirms it (``obligation.confirm``) — a creditor may also refuse it
(``obligation.reject``). Paying is a claim the creditor must confirm: the debtor's word
alone settles nothing. The debtor claims a payment (``obligation.settle`` with its
reference and, if it paid part, the amount); the creditor confirms it
(``obligation.confirm_settlement``), which takes the amount off ``outstanding``, or
disputes it (``obligation.dispute_settlement``), which puts the obligation back as it
was. Netting may reduce a confirmed obligation's ``outstanding`` amount; at zero it is
settled by set-off. An obligation with a claim awaiting the creditor is left out of
netting: whether its debt is still owed is exactly what is in question::

    register 500.00        → pending            (outstanding 500.00)
    confirm                → confirmed
    netting −200.00        → confirmed          (outstanding 300.00)
    settle 300.00 "TX-9"   → settlement-claimed (outstanding 300.00, claimed 300.00)
    dispute_settlement     → confirmed          (outstanding 300.00)
    settle "TX-10"         → settlement-claimed (claimed 300.00, all that is outstanding)
    confirm_settlement     → settled            (outstanding 0.00, payment_ref "TX-10")

No issuance limit stands behind an obligation, so it has limits of its own: at most
``obligation_fen_max`` each (``obligation-too-large``), and at most
``member_obligations_max`` open ones (pending, confirmed or with a claim awaiting the
creditor) owed by one debtor at a time (``member-obligations-exceeded``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import StringConstraints

from ledger.commands import Amount, Date, MemberId, Reference, WireModel
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.members import Member, MemberStatus
from ledger.money import format_fen


class ObligationState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    SETTLEMENT_CLAIMED = "settlement-claimed"
    SETTLED = "settled"


PENDING, CONFIRMED, REJECTED = (
    ObligationState.PENDING,
    ObligationState.CONFIRMED,
    ObligationState.REJECTED,
)
SETTLEMENT_CLAIMED, SETTLED = ObligationState.SETTLEMENT_CLAIMED, ObligationState.SETTLED
OPEN_OBLIGATION_STATES = frozenset({PENDING, CONFIRMED, SETTLEMENT_CLAIMED})  # count as owed


@dataclass(frozen=True)
class Obligation:
    id: str
    debtor: str
    creditor: str
    amount_fen: int
    outstanding_fen: int
    due_date: date
    state: ObligationState
    reference: str
    payment_ref: str | None  # the last payment the creditor confirmed
    created_seq: int
    claimed_fen: int | None = None  # a payment the debtor claims, awaiting the creditor
    claim_ref: str | None = None

    def wire(self) -> dict[str, Any]:
        from ledger.entities import OBLIGATIONS  # which imports this module

        return OBLIGATIONS.to_wire(self)


def owed_at_once(
    obligation_id: str,
    debtor: str,
    creditor: str,
    amount_fen: int,
    due_date: date,
    reference: str,
    ctx: Context,
) -> Obligation:
    """A debt the ledger itself records, confirmed from the start (nobody registers it:
    it follows from an entry both parties are bound by) — the interest on buyer-pays
    paper, the late interest of a late payment."""
    return Obligation(
        id=obligation_id,
        debtor=debtor,
        creditor=creditor,
        amount_fen=amount_fen,
        outstanding_fen=amount_fen,
        due_date=due_date,
        state=ObligationState.CONFIRMED,
        reference=reference,
        payment_ref=None,
        created_seq=ctx.seq,
    )


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
    amount: Amount | None = None  # what was paid; all that is outstanding when absent


class DisputeBody(WireModel):
    id: ObligationId
    reason: Reference | None = None  # kept in the journal entry, for the debtor to read


class ConsentBody(WireModel):
    consent: bool


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
            f"a member may owe at most {ctx.settings.member_obligations_max} open "
            "obligations; settle some first",
        )
    if creditor is None:
        raise Refusal("recipient-not-admitted", f"{body.creditor} is not an admitted member")
    if creditor.status != MemberStatus.ACTIVE:
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
    found = _in_state(_for_party(obligation, signer, "creditor"), PENDING)
    return {"obligations": [replace(found, state=CONFIRMED).wire()]}


def reject(obligation: Obligation | None, signer: str) -> Effects:
    found = _in_state(_for_party(obligation, signer, "creditor"), PENDING)
    return {"obligations": [replace(found, state=REJECTED, outstanding_fen=0).wire()]}


def _in_state(found: Obligation, wanted: ObligationState) -> Obligation:
    if found.state != wanted:
        raise Refusal("invalid-obligation-state", f"obligation is {found.state}, not {wanted}")
    return found


def settle(obligation: Obligation | None, signer: str, body: SettleBody) -> Effects:
    """The debtor claims it paid: nothing is settled until the creditor confirms."""
    found = _in_state(_for_party(obligation, signer, "debtor"), CONFIRMED)
    claimed_fen = found.outstanding_fen if body.amount is None else body.amount
    if claimed_fen > found.outstanding_fen:
        raise Refusal(
            "settlement-too-large",
            f"the claim of {format_fen(claimed_fen)} exceeds the "
            f"{format_fen(found.outstanding_fen)} outstanding",
        )
    claim = replace(
        found, state=SETTLEMENT_CLAIMED, claimed_fen=claimed_fen, claim_ref=body.payment_ref
    )
    return {"obligations": [claim.wire()]}


def confirm_settlement(obligation: Obligation | None, signer: str) -> Effects:
    """The creditor confirms the claimed payment: only now does the debt go down."""
    found = _in_state(_for_party(obligation, signer, "creditor"), SETTLEMENT_CLAIMED)
    assert found.claimed_fen is not None and 0 < found.claimed_fen <= found.outstanding_fen
    outstanding_fen = found.outstanding_fen - found.claimed_fen
    paid = replace(
        found,
        state=SETTLED if outstanding_fen == 0 else CONFIRMED,
        outstanding_fen=outstanding_fen,
        payment_ref=found.claim_ref,
        claimed_fen=None,
        claim_ref=None,
    )
    return {"obligations": [paid.wire()]}


def dispute_settlement(obligation: Obligation | None, signer: str) -> Effects:
    """The creditor says it was not paid: the obligation is owed as before the claim."""
    found = _in_state(_for_party(obligation, signer, "creditor"), SETTLEMENT_CLAIMED)
    owed = replace(found, state=CONFIRMED, claimed_fen=None, claim_ref=None)
    return {"obligations": [owed.wire()]}


def reduce(obligation: Obligation, amount_fen: int) -> Obligation:
    """Netting clears ``amount_fen`` of a confirmed obligation."""
    assert obligation.state == CONFIRMED and 0 < amount_fen <= obligation.outstanding_fen
    outstanding = obligation.outstanding_fen - amount_fen
    return replace(
        obligation, outstanding_fen=outstanding, state=SETTLED if outstanding == 0 else CONFIRMED
    )


def consent(member: Member, body: ConsentBody) -> Effects:
    return {"members": [replace(member, netting_consent=body.consent).wire()]}
