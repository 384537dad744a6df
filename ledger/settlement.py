"""Settlement: at maturity the issuer pays whoever holds each piece of its promise.

**Dates.** A piece *matures* on its maturity date (a business date, UTC+8). It is
*paid on* its payment date: the maturity, rolled to the next business day by the PRC
calendar (``ledger.calendar``). It is *overdue* once the business date is past the
payment date plus ``overdue_grace_days`` (a setting, default 0). The days it is late on
a business date ``d`` are ``d − payment date − grace`` (never below 0): the grace is
forgiven. A piece paid on its payment date, or within the grace, is not late::

    maturity Sat 2027-01-02 → payment date Mon 2027-01-04 (not late on the 4th)
    paid Thu 2027-01-07, grace 0 → 3 days late

**At maturity**, before anyone pays, what is still in flight comes home: a piece still
``pending`` goes back to its sender (``certificate.expire``), and a piece ``locked``
under an application its bank has not decided is unlocked (``financing.expire``). The
sweep does it, and so does any command that touches such a piece.

**Paying** (``settlement.pay``, the issuer) is on or after the maturity date, never
before (``not-matured``). Naming pieces pays each in full; naming a root and an amount
pays that amount over the root's pieces *pro rata* (:func:`allocate`). A piece paid in
part records what was paid (``paid``) and keeps the rest outstanding; paid in full it is
``settled``. Each payment restores the issuer's issuance limit by what it paid, and the
line of the bank that financed the piece (``financing``) by the same, and writes a
:class:`Payment` row. A payment after the payment date plus the grace owes late
interest on what it pays: ``amount × daily rate × days late``, half-up to the fen, at
the rate agreed at issuance (``late_daily_rate``, else ``Settings.late_daily_rate``);
it is recorded as a ``confirmed`` obligation of the issuer to the holder, due at once,
so that it is visible, payable and nettable like any other debt.

For every root, at every seq: what its pieces hold outstanding (non-terminal pieces:
amount − paid) plus what was paid (a settled piece's amount, another piece's ``paid``)
equals its face.

**Overdue.** A sweep marks ``active`` pieces past their payment date plus the grace as
``overdue`` (``certificate.overdue``, a system entry). Overdue paper can be settled
and nothing else. While an issuer has overdue paper its issuance is refused
(``issuer-overdue``) unless the deployment does not block (``issuer_overdue_block`` 0)
or the operator lifted the block for it until a date (``limit.lift_overdue_block``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from ledger import calendar, credit, pricing
from ledger.certificates import (
    ACTIVE,
    LOCKED,
    OVERDUE,
    PENDING,
    SETTLED,
    Certificate,
    CertificateId,
    business_today,
    today_in_zone,
)
from ledger.commands import Amount, Date, MemberId, Reference, Text, WireModel
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.financing import CreditLine, Financing, FinancingState
from ledger.limits import (
    BLOCK_LIFT_DAYS_MAX,
    PAYOUT_ACCOUNT_NO_LENGTH_MAX,
    PIECES_PER_PAYMENT_MAX,
)
from ledger.members import Member
from ledger.money import format_fen, half_up
from ledger.obligations import owed_at_once
from ledger.settings import Settings

PAYABLE = frozenset({ACTIVE, OVERDUE})


# -- wire bodies -----------------------------------------------------------------------


class PayBody(WireModel):
    """``{pieces, payment_ref}`` pays each piece in full; ``{root, amount,
    payment_ref}`` pays ``amount`` over the root's pieces pro rata."""

    pieces: (
        Annotated[list[CertificateId], Field(min_length=1, max_length=PIECES_PER_PAYMENT_MAX)]
        | None
    ) = None
    root: CertificateId | None = None
    amount: Amount | None = None
    payment_ref: Reference

    @field_validator("pieces")
    @classmethod
    def _distinct(cls, ids: list[str] | None) -> list[str] | None:
        if ids is not None and len(set(ids)) != len(ids):
            raise ValueError("a piece may be named once per payment")
        return ids

    @model_validator(mode="after")
    def _one_form(self) -> PayBody:
        by_pieces = self.pieces is not None
        by_root = self.root is not None or self.amount is not None
        if by_pieces == by_root or (by_root and (self.root is None or self.amount is None)):
            raise ValueError("name either pieces, or a root and an amount")
        return self


class LiftBlockBody(WireModel):
    member: MemberId
    reason: Reference
    until: Date


class PayoutAccountBody(WireModel):
    bank_name: Text  # one line
    account_no: Annotated[
        str, StringConstraints(pattern=rf"^[0-9A-Z]{{6,{PAYOUT_ACCOUNT_NO_LENGTH_MAX}}}$")
    ]


@dataclass(frozen=True)
class Payment:
    """What one ``settlement.pay`` paid of one piece."""

    id: str
    certificate: str
    root_id: str
    issuer: str
    holder: str
    amount_fen: int
    paid_on: date  # the payment's business date
    days_late: int
    late_interest_fen: int
    payment_ref: str
    obligation: str | None  # the late interest owed, if any
    created_seq: int

    def wire(self) -> dict[str, Any]:
        from ledger.entities import PAYMENTS  # which imports this module

        return PAYMENTS.to_wire(self)


@dataclass(frozen=True)
class Notice:
    """An issuer told, ``settlement_notice_days`` before, what it will owe on a
    maturity date: the total, the count, and the first pieces (holder and amount)."""

    id: str
    issuer: str
    maturity: date
    payment_date: date
    amount_fen: int
    pieces: int
    listed: list[dict[str, str]]  # at most SETTLEMENT_NOTICE_PIECES_MAX
    created_seq: int

    def wire(self) -> dict[str, Any]:
        from ledger.entities import NOTICES  # which imports this module

        return NOTICES.to_wire(self)


# -- dates and interest ----------------------------------------------------------------


def payment_date(maturity: date) -> date:
    """The maturity, or the next business day after it."""
    return pricing.payment_date(maturity, calendar.is_business_day)


def days_late(maturity: date, on: date, grace_days: int) -> int:
    """How many days a payment on ``on`` is late (0 within the grace)."""
    return max(0, (on - payment_date(maturity)).days - grace_days)


def is_overdue(piece: Certificate, on: date, grace_days: int) -> bool:
    """Whether ``piece`` is unpaid paper past its payment date and grace on ``on``."""
    return piece.state in PAYABLE and days_late(piece.maturity, on, grace_days) > 0


def late_rate(piece: Certificate, settings: Settings) -> Decimal:
    """The daily rate agreed at issuance; paper issued before it was written, the default."""
    return piece.late_daily_rate if piece.late_daily_rate is not None else settings.late_rate


def late_interest_fen(amount_fen: int, daily_rate: Decimal, days: int) -> int:
    """``amount × daily rate × days``, exact, then half-up to the fen.

    >>> late_interest_fen(1_000_000, Decimal("0.0005"), 3)  # 10,000.00 for 3 days
    1500
    >>> late_interest_fen(333, Decimal("0.0005"), 3)  # 0.4995 fen
    0
    """
    return half_up(Decimal(amount_fen) * daily_rate * days)


def accrued_fen(piece: Certificate, on: date, settings: Settings) -> int:
    """The late interest on what ``piece`` has outstanding, were it paid on ``on``."""
    days = days_late(piece.maturity, on, settings.overdue_grace_days)
    return late_interest_fen(piece.outstanding_fen, late_rate(piece, settings), days)


# -- pro-rata allocation ---------------------------------------------------------------


def allocate(amount_fen: int, shares: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Split ``amount_fen`` over ``shares`` ((id, outstanding fen), outstanding > 0)
    pro rata, by largest remainder: each gets the floor of its exact share, and the fen
    left over go one each to the largest remainders — ties to the larger outstanding,
    then to the smaller id. The sum is exact, each share is within one fen of its exact
    value and never above its outstanding, and the result depends on nothing else.

    >>> allocate(100, [("a", 100), ("b", 100), ("c", 100)])
    {'a': 34, 'b': 33, 'c': 33}
    >>> allocate(1000, [("a", 300), ("b", 700)])
    {'a': 300, 'b': 700}
    """
    total = sum(outstanding for _, outstanding in shares)
    assert 0 <= amount_fen <= total and all(o > 0 for _, o in shares), (amount_fen, total)
    exact = {id_: Fraction(amount_fen * outstanding, total) for id_, outstanding in shares}
    given = {id_: int(share) for id_, share in exact.items()}  # floors: shares are >= 0
    left = amount_fen - sum(given.values())
    order = sorted(shares, key=lambda s: (-(exact[s[0]] - given[s[0]]), -s[1], s[0]))
    for id_, _ in order[:left]:
        given[id_] += 1
    return given


# -- paying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PayState:
    pieces: Mapping[str, Certificate]  # the pieces named, or every holding piece of the root
    root: Certificate | None  # for a payment of a root
    limit: IssuanceLimit
    financings: Mapping[str, Financing]  # those the payable pieces came by
    lines: Mapping[tuple[str, str], CreditLine]  # their banks' lines


def _found(piece: Certificate | None, issuer: str, certificate_id: str) -> Certificate:
    # Another issuer's paper is none of the signer's business: as if it did not exist.
    if piece is None or piece.issuer != issuer:
        raise Refusal("certificate-not-found", f"no certificate {certificate_id} of {issuer}")
    return piece


def _matured(piece: Certificate, today: date) -> None:
    if today < piece.maturity:
        raise Refusal(
            "not-matured",
            f"certificate {piece.id} matures on {piece.maturity.isoformat()}: "
            "it cannot be paid before",
        )


def _refuse_in_flight(pieces: Sequence[Certificate], ctx: Context) -> None:
    """Pieces still pending or locked at maturity come home first (the module
    docstring): a payment that meets one is refused naming them, the service records
    their return, and the payment may be sent again."""
    pending = [p.id for p in pieces if p.state == PENDING]
    locked = [p.financing for p in pieces if p.state == LOCKED and p.financing]
    if pending:
        raise Refusal(
            "certificate-expired",
            f"{len(pending)} piece(s) still pending at maturity went back to their senders; "
            "send the payment again",
            expired_id=pending[0],
            expired_ids=pending,
        )
    if locked:
        raise Refusal(
            "not-payable",
            f"{len(locked)} piece(s) locked under applications undecided at maturity were "
            "unlocked; send the payment again",
            expired_financings=locked,
        )


def pay(state: PayState, signer: str, body: PayBody, ctx: Context) -> Effects:
    """``settlement.pay``: the issuer pays pieces in full, or a root in part."""
    today = business_today(ctx)
    if body.pieces is not None:
        named = [_found(state.pieces.get(i), signer, i) for i in body.pieces]
        for piece in named:
            _matured(piece, today)
        _refuse_in_flight(named, ctx)
        for piece in named:
            if piece.state == SETTLED:
                raise Refusal("already-settled", f"certificate {piece.id} is settled")
            if piece.state not in PAYABLE:
                raise Refusal(
                    "not-payable", f"certificate {piece.id} is {piece.state}: it holds no value"
                )
        shares = {piece.id: piece.outstanding_fen for piece in named}
    else:
        assert body.root is not None and body.amount is not None
        root = _found(state.root, signer, body.root)
        if not root.is_root:
            raise Refusal("not-a-root", f"certificate {root.id} is not a root: name its root")
        _matured(root, today)
        tree = sorted(state.pieces.values(), key=lambda p: p.id)
        _refuse_in_flight(tree, ctx)
        named = [p for p in tree if p.state in PAYABLE]
        outstanding_fen = sum(p.outstanding_fen for p in named)
        if outstanding_fen == 0:
            raise Refusal("already-settled", f"certificate {root.id} is settled in full")
        if body.amount > outstanding_fen:
            raise Refusal(
                "amount-exceeds-outstanding",
                f"{format_fen(body.amount)} is more than the {format_fen(outstanding_fen)} "
                f"outstanding on certificate {root.id}",
            )
        shares = allocate(body.amount, [(p.id, p.outstanding_fen) for p in named])
    return _paid(state, [(p, shares[p.id]) for p in named if shares[p.id] > 0], body, ctx)


def _paid(
    state: PayState, paying: Sequence[tuple[Certificate, int]], body: PayBody, ctx: Context
) -> Effects:
    today = business_today(ctx)
    grace = ctx.settings.overdue_grace_days
    pieces, payments, owed = [], [], []
    lines = dict(state.lines)
    for index, (piece, amount_fen) in enumerate(paying):
        paid_fen = piece.paid_fen + amount_fen
        assert amount_fen > 0 and paid_fen <= piece.amount_fen, (piece, amount_fen)
        pieces.append(replace(piece, paid_fen=paid_fen, state=_after(piece, paid_fen)))
        days = days_late(piece.maturity, today, grace)
        interest_fen = late_interest_fen(amount_fen, late_rate(piece, ctx.settings), days)
        obligation_id = ctx.derive_id(2 * index + 1) if interest_fen else None
        if obligation_id is not None:
            reference = f"late interest on {piece.id}"
            owed.append(
                owed_at_once(
                    obligation_id, piece.issuer, piece.holder, interest_fen, today, reference, ctx
                )
            )
        payments.append(
            Payment(
                id=ctx.derive_id(2 * index),
                certificate=piece.id,
                root_id=piece.root_id,
                issuer=piece.issuer,
                holder=piece.holder,
                amount_fen=amount_fen,
                paid_on=today,
                days_late=days,
                late_interest_fen=interest_fen,
                payment_ref=body.payment_ref,
                obligation=obligation_id,
                created_seq=ctx.seq,
            )
        )
        financed = state.financings.get(piece.financing or "")
        if financed is not None:  # the bank's line is restored by what its paper was paid
            assert financed.state == FinancingState.APPROVED, (financed, piece)
            key = (financed.bank, financed.core)
            lines[key] = replace(lines[key], used_fen=lines[key].used_fen - amount_fen)
            assert lines[key].used_fen >= 0, (lines[key], piece)
    paid_fen = sum(amount for _, amount in paying)
    effects: Effects = {
        "certificates": [p.wire() for p in pieces],
        "payments": [p.wire() for p in payments],
        "limits": [credit.restore(state.limit, paid_fen).wire()],
    }
    changed = sorted({key for key in lines if lines[key] != state.lines[key]})
    if changed:
        effects["credit_lines"] = [lines[key].wire() for key in changed]
    if owed:
        effects["obligations"] = [o.wire() for o in owed]
    return effects


def _after(piece: Certificate, paid_fen: int) -> Any:
    return SETTLED if paid_fen == piece.amount_fen else piece.state


# -- overdue ---------------------------------------------------------------------------


def mark_overdue(pieces: Sequence[Certificate]) -> Effects:
    """``certificate.overdue``: unpaid pieces past their payment date and grace (which
    the caller decided: the sweep by the calendar, ``dcc verify`` by the payment dates
    the entry recorded — a calendar release may move a date it did not know yet)."""
    marked = []
    for piece in pieces:
        assert piece.state == ACTIVE, piece
        marked.append(replace(piece, state=OVERDUE).wire())
    return {"certificates": marked}


def is_payment_date_of(paid_on: date, maturity: date) -> bool:
    """Whether ``paid_on`` was ``maturity``'s payment date by the calendar the service
    had: today's (``ledger.calendar``), or, for a year that calendar did not know yet,
    the weekends-only rule it applied then (``calendar.is_provisional``)."""
    weekdays_only = pricing.payment_date(maturity, lambda day: day.weekday() < 5)
    return paid_on in (payment_date(maturity), weekdays_only)


def overdue_cutoff(on: date, grace_days: int) -> date:
    """Pieces maturing before this may be overdue on ``on`` (a payment date is never
    before its maturity); which are is decided piece by piece (:func:`is_overdue`)."""
    return on - timedelta(days=grace_days)


def refuse_overdue_issuer(
    issuer: str,
    limit: IssuanceLimit,
    overdue: int,
    due: Sequence[str],
    ctx: Context,
) -> None:
    """``issuer-overdue``: an issuer with ``overdue`` pieces, or ``due`` ones the sweep
    has not marked yet (recorded as overdue by the service), may not issue — unless
    the deployment does not block, or the operator lifted the block until a date."""
    if not ctx.settings.issuer_overdue_block or not (overdue or due):
        return
    lifted = limit.block_lifted_until
    if lifted is not None and business_today(ctx) <= lifted:
        return
    extra = {"overdue_ids": list(due)} if due else {}
    raise Refusal(
        "issuer-overdue",
        f"{issuer} has overdue paper ({overdue + len(due)} piece(s) or more unpaid past "
        "their payment date): it may not issue until it pays them",
        **extra,
    )


def lift_block(
    target: Member | None, current: IssuanceLimit | None, body: LiftBlockBody, ctx: Context
) -> Effects:
    """``limit.lift_overdue_block``: the operator lets one issuer issue despite overdue
    paper until a date, and records why."""
    if target is None:
        raise Refusal("member-not-found", f"no member {body.member}")
    if not target.has_role("core"):
        raise Refusal("role-mismatch", f"{body.member} is not a core enterprise")
    today = business_today(ctx)
    if not today <= body.until <= today + timedelta(days=BLOCK_LIFT_DAYS_MAX):
        raise Refusal(
            "validation",
            f"until must be from today to {BLOCK_LIFT_DAYS_MAX} days from today "
            f"({today_in_zone(ctx)})",
        )
    limit = current or credit.none_for(body.member)
    lifted = replace(limit, block_lifted_until=body.until, block_lift_reason=body.reason)
    return {"limits": [lifted.wire()]}


def set_payout_account(signer: Member, body: PayoutAccountBody) -> Effects:
    """``member.set_payout_account``: where the signer wants to be paid at maturity."""
    account = {"bank_name": body.bank_name, "account_no": body.account_no}
    return {"members": [replace(signer, payout_account=account).wire()]}


def notice(
    issuer: str,
    maturity: date,
    listed: Sequence[Certificate],
    count: int,
    held_fen: int,
    ctx: Context,
) -> Notice:
    """``settlement.notice``: what ``issuer`` will owe on ``maturity``: ``held_fen``
    over ``count`` pieces, the first of them listed (holder and what each holds)."""
    return Notice(
        id=ctx.derive_id(0),
        issuer=issuer,
        maturity=maturity,
        payment_date=payment_date(maturity),
        amount_fen=held_fen,
        pieces=count,
        listed=[
            {"id": p.id, "holder": p.holder, "amount": format_fen(p.outstanding_fen)}
            for p in listed
        ],
        created_seq=ctx.seq,
    )
