"""Discounting: a bank buys a piece today, at its face less interest, and is paid at maturity.

A bank sets a **credit line** for a core enterprise's paper (``credit_line.set``): an
amount, the annual rate it agreed with that core enterprise, and an expiry. The holder of
a piece asks a bank to finance it (``financing.apply``), optionally only part of it: the
piece is split first, exactly as a transfer to oneself, and the financed part is
``locked`` — nobody can spend, split or finance it again — while its face is reserved
on the line (``pending``)::

    line 1 000 000.00 (used 0, pending 0)       piece P 300 000.00 active, S1
    S1 applies for 100 000.00 of P              P spent; F 100 000.00 locked (financing f),
                                                R 200 000.00 active, both S1's; pending 100 000.00
    the bank approves f                         F active, the bank's; used 100 000.00, pending 0

A decision is the bank's alone: approving passes the piece to it at once (no acceptance
step: deciding was its acceptance) and is also the notice of assignment to the issuer;
rejecting, a cancellation by the applicant, or an application left undecided past its
window (``financing.expire``, a system entry) gives the piece back to the applicant,
``active``. Every piece in the ``locked`` state names its financing.

The price is :mod:`ledger.pricing`'s, on :mod:`ledger.calendar`'s business days: the
line's agreed rate times the applicant's tier multiplier, from today to the payment
date. When the core enterprise's paper is buyer-pays (``interest_payer: "issuer"``), the
holder receives face less fee, and the interest at the agreed rate becomes a confirmed
obligation of the issuer to the bank, due at maturity.

These rules are pure: they take loaded state and return effects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StringConstraints

from ledger import calendar, certificates, pricing
from ledger.certificates import (
    ACTIVE,
    LOCKED,
    OVERDUE,
    SPENT,
    Certificate,
    CertificateId,
    TransferBody,
    TransferState,
    business_today,
    is_party,
    refuse_if_due,
    today_in_zone,
)
from ledger.commands import (
    Amount,
    AmountOrZero,
    Date,
    MemberId,
    Reference,
    WireModel,
    format_timestamp,
    rate_json_schema,
    rate_parser,
)
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.limits import ANNUAL_RATE_MAX, RATE_DECIMALS_MAX
from ledger.members import Member, MemberStatus
from ledger.money import format_fen
from ledger.obligations import owed_at_once
from ledger.pricing import InterestPayer, Quote, Terms

TIERS = ("A", "B", "C")
UNRATED = "C"
FINANCING_INDEX = 2  # derive_id index of a financing (0 and 1 are the split's pieces)
INTEREST_INDEX = 3  # derive_id index of a buyer-pays interest obligation


class FinancingState(StrEnum):
    """``requested`` until the bank decides (``approved``, ``rejected``), the applicant
    cancels (``cancelled``) or its window passes (``expired``)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


REQUESTED, APPROVED = FinancingState.REQUESTED, FinancingState.APPROVED


AnnualRate = Annotated[
    Decimal,
    BeforeValidator(rate_parser(RATE_DECIMALS_MAX, ANNUAL_RATE_MAX, "0.0385")),
    rate_json_schema(RATE_DECIMALS_MAX, "0.0385"),
]
FinancingId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class CreditLineBody(WireModel):
    core: MemberId
    amount: AmountOrZero
    annual_rate: AnnualRate
    expires_on: Date


class SetTierBody(WireModel):
    id: MemberId
    tier: Literal["A", "B", "C"]


class ApplyBody(WireModel):
    certificate: CertificateId
    bank: MemberId
    amount: Amount | None = None  # all of the piece when absent


class DecideBody(WireModel):
    id: FinancingId
    approve: bool
    annual_rate: AnnualRate | None = None  # the rate charged; at most the quoted one
    registration_ref: Reference | None = None
    disbursement_ref: Reference | None = None
    reason: Reference | None = None


class FinancingRef(WireModel):
    id: FinancingId


@dataclass(frozen=True)
class CreditLine:
    bank: str
    core: str
    amount_fen: int
    annual_rate: Decimal
    expires_on: date
    used_fen: int  # the face of approved financings not yet settled

    def available_fen(self, pending_fen: int) -> int:
        """What is left, given the face of the applications awaiting the bank (never
        on the line's row: a line is the bank's business, and an application's entry
        is its applicant's; the pending face is the sum over ``requested`` financings)."""
        return max(0, self.amount_fen - self.used_fen - pending_fen)

    def wire(self) -> dict[str, Any]:
        from ledger.entities import CREDIT_LINES  # which imports this module

        return CREDIT_LINES.to_wire(self)


@dataclass(frozen=True)
class Financing:
    id: str
    certificate: str  # the financed (locked, then the bank's) piece
    applicant: str
    bank: str
    core: str  # the piece's issuer, whose line it draws on
    face_fen: int
    state: FinancingState
    interest_payer: InterestPayer
    quote: dict[str, Any]  # as quoted at application (pricing.Quote.wire)
    expires_at: str  # RFC 3339 UTC: undecided by then, it expires
    created_seq: int
    decided_seq: int | None = None
    decided_on: date | None = None  # the decision's business date
    terms: dict[str, Any] | None = None  # as approved (pricing.Quote.wire)
    registration_ref: str | None = None
    disbursement_ref: str | None = None
    reason: str | None = None
    obligation: str | None = None  # buyer-pays: the issuer's interest obligation
    # The piece's maturity, when undecided paper comes home. None: written before it
    # was recorded; such an application ends by its window alone (at most a day).
    maturity: date | None = None

    def wire(self) -> dict[str, Any]:
        from ledger.entities import FINANCINGS  # which imports this module

        return FINANCINGS.to_wire(self)


# -- credit lines and tiers ----------------------------------------------------------


def set_line(
    core: Member | None,
    bank: str,
    current: CreditLine | None,
    use: tuple[int, int],
    body: CreditLineBody,
    ctx: Context,
) -> Effects:
    """``credit_line.set``: a bank's line for a core enterprise's paper, set or replaced.
    ``use``: how many lines the bank has now, and the face pending on this one."""
    lines_held, pending_fen = use
    if core is None:
        raise Refusal("member-not-found", f"no member {body.core}")
    if not core.has_role("core"):
        raise Refusal("role-mismatch", f"{body.core} is not a core enterprise")
    if body.expires_on < business_today(ctx):
        raise Refusal("validation", f"expires_on must be today or later ({today_in_zone(ctx)})")
    if current is None and lines_held >= ctx.settings.credit_lines_per_bank_max:
        raise Refusal(
            "credit-lines-exceeded",
            f"a bank may hold at most {ctx.settings.credit_lines_per_bank_max} credit lines",
        )
    used = (current.used_fen if current else 0) + pending_fen
    if body.amount < used:
        raise Refusal(
            "credit-line-below-use",
            f"{format_fen(used)} of the line is in use or reserved by pending applications; "
            f"it cannot be set to {format_fen(body.amount)}",
        )
    line = CreditLine(
        bank=bank,
        core=body.core,
        amount_fen=body.amount,
        annual_rate=body.annual_rate,
        expires_on=body.expires_on,
        used_fen=current.used_fen if current else 0,
    )
    return {"credit_lines": [line.wire()]}


def set_tier(member: Member | None, body: SetTierBody) -> Effects:
    """``member.set_tier``: the operator rates a supplier A, B or C."""
    if member is None:
        raise Refusal("member-not-found", f"no member {body.id}")
    if not member.has_role("supplier"):
        raise Refusal("role-mismatch", f"{body.id} is not a supplier")
    return {"members": [replace(member, tier=body.tier).wire()]}


# -- the price -----------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyState:
    piece: Certificate | None
    bank: Member | None
    line: CreditLine | None
    pending_fen: int  # on the line, by applications awaiting the bank
    applicant_tier: str | None
    root_face_fen: int  # of the piece's root, for the split's smallest piece
    live_pieces: int  # the applicant's own


def _terms(line: CreditLine, tier: str | None, ctx: Context) -> Terms:
    return Terms(
        annual_rate=line.annual_rate,
        multiplier_bp=ctx.settings.tier_multiplier_bp(tier or UNRATED),
        basis_days=ctx.settings.day_count_basis,
        fee_bp=ctx.settings.financing_fee_bps,
    )


def _financeable(piece: Certificate | None, signer: str, ctx: Context) -> Certificate:
    if piece is None or not is_party(piece, signer):
        raise Refusal("certificate-not-found", "no such certificate")
    refuse_if_due(piece, ctx)  # a pending piece past its deadline: recorded as expired
    if piece.holder != signer:
        raise Refusal("not-holder", f"certificate {piece.id} is not held by {signer}")
    if piece.state == OVERDUE:
        raise Refusal("certificate-overdue", f"certificate {piece.id} is overdue")
    if piece.state != ACTIVE:
        raise Refusal("not-spendable", f"certificate {piece.id} is {piece.state}, not active")
    if piece.financing is not None:
        # A bank's discounted paper: its financing restores the bank's line at settlement.
        raise Refusal("already-financed", f"certificate {piece.id} was financed already")
    return piece


def _check_maturity(piece: Certificate, ctx: Context) -> None:
    today = business_today(ctx)
    if (piece.maturity - today).days < 1:
        raise Refusal(
            "certificate-matured",
            f"the certificate matures on {piece.maturity.isoformat()}: a financing needs "
            f"at least one day to maturity ({today_in_zone(ctx)})",
        )


def _line_for(
    bank_id: str, bank: Member | None, line: CreditLine | None, core: str, ctx: Context
) -> CreditLine:
    if bank is None or not bank.has_role("bank"):
        raise Refusal("not-a-bank", f"{bank_id} is not a bank admitted to the platform")
    if bank.status != MemberStatus.ACTIVE:
        raise Refusal("recipient-suspended", f"{bank_id} is suspended")
    if line is None or line.amount_fen == 0:
        raise Refusal("no-credit-line", f"{bank_id} has no credit line for paper of {core}")
    if business_today(ctx) > line.expires_on:
        raise Refusal(
            "credit-line-expired",
            f"{bank_id}'s line for paper of {core} ran to {line.expires_on.isoformat()} "
            f"({today_in_zone(ctx)})",
        )
    return line


def price(
    state: ApplyState, signer: str, body: ApplyBody, ctx: Context, *, reserve: bool = True
) -> Quote:
    """What applying would be quoted now, every refusal of ``financing.apply`` included
    (the quote read and the application share it) — but for a quote (``reserve`` False)
    what is left of the line, which is the bank's business and not for probing."""
    piece = _financeable(state.piece, signer, ctx)
    if body.bank == signer:
        raise Refusal("validation", "a bank cannot finance a piece it holds itself")
    _check_maturity(piece, ctx)
    line = _line_for(body.bank, state.bank, state.line, piece.issuer, ctx)
    face = piece.amount_fen if body.amount is None else body.amount
    if face > piece.amount_fen:
        raise Refusal(
            "insufficient-amount",
            f"the piece holds {format_fen(piece.amount_fen)}; {format_fen(face)} was asked",
        )
    if reserve and face > line.available_fen(state.pending_fen):
        raise Refusal(
            "credit-line-exceeded",
            # What is left of a bank's line is the bank's business: not in the detail.
            f"{format_fen(face)} is more than is left of {body.bank}'s line for paper of "
            f"{piece.issuer}, pending applications counted",
        )
    return pricing.quote(
        face,
        _terms(line, state.applicant_tier, ctx),
        business_today(ctx),
        piece.maturity,
        calendar.is_business_day,
        payer=InterestPayer(piece.interest_payer),
    )


def apply(state: ApplyState, signer: str, body: ApplyBody, ctx: Context) -> Effects:
    """``financing.apply``: lock the piece (or the part asked for) and reserve its face."""
    quoted = price(state, signer, body, ctx)
    piece, line = state.piece, state.line
    assert piece is not None and line is not None
    financing_id = ctx.derive_id(FINANCING_INDEX)
    pieces: list[Certificate]
    if quoted.face_fen == piece.amount_fen:
        pieces = [replace(piece, state=LOCKED, financing=financing_id)]
    else:
        pieces = _split(piece, quoted.face_fen, state, signer, ctx)
        pieces[1] = replace(pieces[1], state=LOCKED, financing=financing_id)
    financing = Financing(
        id=financing_id,
        certificate=pieces[-1].id if len(pieces) == 1 else pieces[1].id,
        applicant=signer,
        bank=body.bank,
        core=piece.issuer,
        face_fen=quoted.face_fen,
        state=REQUESTED,
        interest_payer=InterestPayer(piece.interest_payer),
        quote=quoted.wire(),
        expires_at=format_timestamp(ctx.now + timedelta(seconds=ctx.settings.financing_window_s)),
        created_seq=ctx.seq,
        maturity=piece.maturity,
    )
    # The face is reserved on the line by the financing itself (``requested``).
    return {"certificates": [p.wire() for p in pieces], "financings": [financing.wire()]}


def _split(
    piece: Certificate, face_fen: int, state: ApplyState, signer: str, ctx: Context
) -> list[Certificate]:
    """Split ``piece`` into ``face_fen`` and the rest, both the signer's, exactly as a
    transfer of it to the signer would (every limit on splitting applies): the spent
    piece, the part to finance, the rest."""
    trade = {"contract_no": piece.trade["contract_no"], "invoices": []}
    body = TransferBody.model_validate(
        {
            "inputs": [piece.id],
            "outputs": [{"to": signer, "amount": format_fen(face_fen)}],
            "trade": trade,
        },
        strict=False,
    )
    transfer_state = TransferState(
        inputs={piece.id: piece},
        recipients={},
        invoices={},
        root_faces={piece.root_id: state.root_face_fen},
        live_pieces=state.live_pieces,
    )
    effects = certificates.transfer(transfer_state, signer, body, ctx)
    from ledger.entities import CERTIFICATES  # which imports this module

    spent, part, rest = (
        CERTIFICATES.from_row(CERTIFICATES.to_row(w)) for w in effects["certificates"]
    )
    assert spent.state == SPENT and part.amount_fen == face_fen, (spent, part)
    # Both halves keep the piece's own trade background, for the bank's due diligence.
    return [spent, replace(part, trade=piece.trade), replace(rest, trade=piece.trade)]


# -- decide, cancel, expire ----------------------------------------------------------


@dataclass(frozen=True)
class DecideState:
    financing: Financing | None
    piece: Certificate | None  # the locked piece
    line: CreditLine | None
    applicant: Member | None
    live_pieces: int  # the bank's own


def is_due(financing: Financing, now: datetime, today: date) -> bool:
    """Whether an application ends undecided: past its window, or at the maturity of
    its piece (on the business date ``today``), when paper in flight comes home."""
    if financing.state != REQUESTED:
        return False
    matured = financing.maturity is not None and financing.maturity <= today
    return financing.expires_at <= format_timestamp(now) or matured


def refuse_due(financings: Sequence[Financing], ctx: Context, refusal: Refusal) -> None:
    """``refusal`` again, naming those of ``financings`` undecided past their window:
    the service then records their expiry, and the command may be sent again."""
    today = business_today(ctx)
    due = [f.id for f in financings if is_due(f, ctx.now, today)]
    if due:
        raise Refusal(
            refusal.type,
            f"{refusal.detail}; {len(due)} application(s) it met had passed their window "
            "and are now expired: send the command again",
            expired_financings=due,
        ) from refusal


def _open(financing: Financing | None, member: str, role: str, ctx: Context) -> Financing:
    """The financing ``member`` may act on as ``role`` (``bank`` or ``applicant``); any
    other member hears what it would hear of an id that does not exist."""
    if financing is None or getattr(financing, role) != member:
        raise Refusal("financing-not-found", "no such financing")
    found_due = is_due(financing, ctx.now, business_today(ctx))
    if financing.state == FinancingState.EXPIRED or found_due:
        # Found due and undecided, the service records its expiry as its own entry.
        due = {"expired_financings": [financing.id]} if found_due else {}
        raise Refusal(
            "financing-expired",
            f"financing {financing.id} expired at {financing.expires_at} undecided",
            **due,
        )
    if financing.state != REQUESTED:
        raise Refusal("already-decided", f"financing {financing.id} is {financing.state}")
    return financing


def decide(state: DecideState, signer: str, body: DecideBody, ctx: Context) -> Effects:
    """``financing.decide``: the bank approves (the piece is its, the line is used) or
    rejects (the piece goes back to the applicant)."""
    financing = _open(state.financing, signer, "bank", ctx)
    piece, line = state.piece, state.line
    assert piece is not None and line is not None and piece.state == LOCKED, (financing, piece)
    today = business_today(ctx)
    if not body.approve:
        return _release(financing, piece, FinancingState.REJECTED, ctx.seq, today, body.reason)
    _check_maturity(piece, ctx)
    if state.applicant is None or state.applicant.status != MemberStatus.ACTIVE:
        raise Refusal(
            "recipient-suspended",
            f"the applicant {financing.applicant} is suspended: it can only be rejected",
        )
    if today > line.expires_on:
        raise Refusal(
            "credit-line-expired",
            f"the line for paper of {financing.core} ran to {line.expires_on.isoformat()} "
            f"({today_in_zone(ctx)})",
        )
    if ctx.settings.financing_registration_required and body.registration_ref is None:
        raise Refusal(
            "registration-required",
            "an approval names the financing's filing in the movable-property financing "
            "registry (registration_ref)",
        )
    quoted = financing.quote
    quoted_rate = Decimal(quoted["rate"])
    if body.annual_rate is not None and body.annual_rate > quoted_rate:
        raise Refusal(
            "rate-above-quote",
            f"the rate may not be above the {quoted_rate} quoted; {body.annual_rate} was given",
        )
    # As quoted: the agreed rate and basis of the application, whatever the line says now.
    terms = Terms(
        annual_rate=Decimal(quoted["annual_rate"]),
        multiplier_bp=10_000,  # the charged rate is given
        basis_days=int(quoted["basis_days"]),
        fee_bp=ctx.settings.financing_fee_bps,
    )
    approved = pricing.quote(
        financing.face_fen,
        terms,
        today,
        piece.maturity,
        calendar.is_business_day,
        payer=financing.interest_payer,
        rate=body.annual_rate if body.annual_rate is not None else quoted_rate,
    )
    certificates.check_live_pieces(signer, state.live_pieces, 1, ctx)
    # The piece keeps naming its financing: the settlement of it restores the line.
    assigned = replace(piece, holder=signer, state=ACTIVE, sender=None)
    used = replace(line, used_fen=line.used_fen + financing.face_fen)
    effects: Effects = {"certificates": [assigned.wire()], "credit_lines": [used.wire()]}
    obligation_id = None
    if financing.interest_payer is InterestPayer.ISSUER and approved.interest_fen > 0:
        obligation_id = ctx.derive_id(INTEREST_INDEX)
        reference = f"interest on financing {financing.id}"
        owed = owed_at_once(
            obligation_id,
            financing.core,
            signer,
            approved.interest_fen,
            piece.maturity,
            reference,
            ctx,
        )
        effects["obligations"] = [owed.wire()]
    decided = replace(
        financing,
        state=FinancingState.APPROVED,
        decided_seq=ctx.seq,
        decided_on=today,
        terms=approved.wire(),
        registration_ref=body.registration_ref,
        disbursement_ref=body.disbursement_ref,
        reason=body.reason,
        obligation=obligation_id,
    )
    effects["financings"] = [decided.wire()]
    return effects


def cancel(state: DecideState, signer: str, ctx: Context) -> Effects:
    """``financing.cancel``: the applicant withdraws before the bank decides."""
    financing = _open(state.financing, signer, "applicant", ctx)
    assert state.piece is not None, financing
    end = FinancingState.CANCELLED
    return _release(financing, state.piece, end, ctx.seq, business_today(ctx))


def _release(
    financing: Financing,
    piece: Certificate,
    end: FinancingState,
    seq: int,
    business_date: date,
    reason: str | None = None,
) -> Effects:
    """End an application: the piece is the applicant's and active again, and the
    reserve on the line goes with the application's ``requested`` state."""
    assert piece.state == LOCKED and piece.financing == financing.id, (piece, financing)
    ended = replace(financing, state=end, decided_seq=seq, decided_on=business_date, reason=reason)
    return {
        "certificates": [replace(piece, state=ACTIVE, financing=None).wire()],
        "financings": [ended.wire()],
    }


def expire(
    due: Sequence[Financing], pieces: Mapping[str, Certificate], business_date: date, ctx: Context
) -> Effects:
    """``financing.expire``: applications past their window give their pieces back.
    ``business_date`` is written in the entry, so that ``dcc verify`` decides it again
    whatever the deployment's business time zone."""
    effects: Effects = {"certificates": [], "financings": []}
    for financing in due:
        assert is_due(financing, ctx.now, business_date), financing
        piece = pieces[financing.certificate]
        released = _release(financing, piece, FinancingState.EXPIRED, ctx.seq, business_date)
        effects["certificates"] += released["certificates"]
        effects["financings"] += released["financings"]
    return effects
