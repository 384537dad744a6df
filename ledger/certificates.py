"""Certificates: a core enterprise's signed promise, split and passed up the chain.

A certificate is UTXO-like. The issuer creates a *root* for its supplier; a holder
*transfers* by consuming whole input pieces and creating outputs, with any change
coming back to itself, so value is conserved to the fen::

    root R  1000.00  issuer C → S1 (level 1, pending → active on accept)
    S1 transfers R: 300.00 → S2 (level 2, pending), change 700.00 → S1 (level 1)
    R is spent; 300.00 + 700.00 = 1000.00

For every root that was not voided, at every seq: the sum of its non-terminal pieces
plus what was settled equals its face. Terminal states (``spent``, ``rejected``,
``cancelled``, ``expired``) hold no value: it moved to the pieces they created.

Levels: the first holder is level 1. A transfer's *base level* is the highest level
among its inputs; outputs to others get base + 1, the change and outputs to the signer
itself keep the base. A piece returned to its sender (reject, expiry) gets the level
the sender held it at (the rejected piece's level − 1).

Flags are the root's (``long-tenor`` for a tenor over 180 days, for regulators to
review) and every piece of that root carries them.

These rules are pure: they take loaded state, return effects, and refuse with a
:class:`~ledger.errors.Refusal` naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator

from ledger import credit, invoices
from ledger.commands import (
    Amount,
    Date,
    MemberId,
    Memo,
    Reference,
    WireModel,
    format_timestamp,
    rate_json_schema,
    rate_parser,
)
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.invoices import Invoice, InvoiceKey, InvoiceUse
from ledger.limits import (
    INPUTS_MAX,
    INVOICE_NO_CITED_LENGTH_MAX,
    INVOICES_PER_COMMAND_MAX,
    LATE_DAILY_RATE_MAX,
    LATE_RATE_DECIMALS_MAX,
)
from ledger.members import Member, MemberStatus
from ledger.money import format_fen
from ledger.settings import Settings


class CertificateState(StrEnum):
    """Where a piece is in its life (module docstring): ``pending`` until its recipient
    accepts; ``active`` held; ``locked`` under a financing; ``spent`` by a transfer;
    ``settled`` paid; ``overdue`` unpaid past maturity; ``rejected``, ``cancelled`` or
    ``expired`` when a pending piece's value went back to its sender."""

    PENDING = "pending"
    ACTIVE = "active"
    LOCKED = "locked"
    SPENT = "spent"
    SETTLED = "settled"
    OVERDUE = "overdue"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RootState(StrEnum):
    """Where a whole certificate (a root and its pieces) is, as its issuer lists it
    (``GET /v1/certificates``): ``overdue`` while a piece is unpaid past maturity, else
    ``outstanding`` while a piece holds value; once none does, ``settled`` if something
    was paid (or cleared by set-off), else ``ended`` (its value went back to the issuer:
    rejected, cancelled or expired before it was accepted)."""

    OUTSTANDING = "outstanding"
    OVERDUE = "overdue"
    SETTLED = "settled"
    ENDED = "ended"


def root_state(outstanding_fen: int, overdue_fen: int, paid_fen: int) -> RootState:
    """A root's :class:`RootState` from the sums over its pieces.

    >>> [str(root_state(*sums)) for sums in ((100, 0, 0), (100, 40, 0), (0, 0, 100), (0, 0, 0))]
    ['outstanding', 'overdue', 'settled', 'ended']
    """
    if overdue_fen > 0:
        return RootState.OVERDUE
    if outstanding_fen > 0:
        return RootState.OUTSTANDING
    return RootState.SETTLED if paid_fen > 0 else RootState.ENDED


PENDING, ACTIVE, LOCKED, SPENT = (
    CertificateState.PENDING,
    CertificateState.ACTIVE,
    CertificateState.LOCKED,
    CertificateState.SPENT,
)
SETTLED, OVERDUE = CertificateState.SETTLED, CertificateState.OVERDUE
REJECTED, CANCELLED, EXPIRED = (
    CertificateState.REJECTED,
    CertificateState.CANCELLED,
    CertificateState.EXPIRED,
)
TERMINAL = frozenset({SPENT, REJECTED, CANCELLED, EXPIRED})
HOLDING = frozenset({PENDING, ACTIVE, LOCKED, OVERDUE})  # states that carry value
LONG_TENOR = "long-tenor"
TRANSFERS_OUTPUTS_HARD_MAX = 10_000  # beyond any setting: refuse as malformed

CertificateId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
# As cited (full-width, spaced, lower case…); the parsed body holds the normal form.
InvoiceNo = Annotated[
    str,
    StringConstraints(min_length=1, max_length=INVOICE_NO_CITED_LENGTH_MAX),
    AfterValidator(invoices.normalise_no),
]


class InvoiceRef(WireModel):
    no: InvoiceNo
    amount: Amount


class Trade(WireModel):
    contract_no: Reference
    invoices: Annotated[list[InvoiceRef], Field(max_length=INVOICES_PER_COMMAND_MAX)]

    @field_validator("invoices")
    @classmethod
    def _distinct(cls, refs: list[InvoiceRef]) -> list[InvoiceRef]:
        if len({ref.no for ref in refs}) != len(refs):  # in normal form: case variants too
            raise ValueError("an invoice may be cited once per command")
        return refs

    def cited(self) -> list[tuple[str, int]]:
        return [(ref.no, ref.amount) for ref in self.invoices]

    def numbers(self) -> list[str]:
        return [ref.no for ref in self.invoices]

    def wire(self) -> dict[str, Any]:
        return {
            "contract_no": self.contract_no,
            "invoices": [{"no": r.no, "amount": format_fen(r.amount)} for r in self.invoices],
        }


class IssueBody(WireModel):
    to: MemberId
    amount: Amount
    maturity: Date
    trade: Trade
    memo: Memo | None = None
    interest_payer: Literal["holder", "issuer"] = "holder"
    # Late interest a day on what is unpaid past the payment date (ledger.settlement);
    # the deployment's default (0.05 %) when absent.
    late_daily_rate: LateDailyRate | None = None


LateDailyRate = Annotated[
    Decimal,
    BeforeValidator(rate_parser(LATE_RATE_DECIMALS_MAX, LATE_DAILY_RATE_MAX, "0.0005", zero=True)),
    rate_json_schema(LATE_RATE_DECIMALS_MAX, "0.0005"),
]


class Output(WireModel):
    to: MemberId
    amount: Amount


class TransferBody(WireModel):
    inputs: Annotated[list[CertificateId], Field(min_length=1, max_length=INPUTS_MAX)]
    outputs: Annotated[list[Output], Field(min_length=1, max_length=TRANSFERS_OUTPUTS_HARD_MAX)]
    trade: Trade


class CertificateRef(WireModel):
    id: CertificateId


@dataclass(frozen=True)
class Certificate:
    id: str
    root_id: str
    parent_ids: tuple[str, ...]
    issuer: str
    holder: str  # for a pending piece: its recipient
    sender: str | None  # who sent a pending piece (and gets it back on reject/expiry)
    amount_fen: int
    maturity: date
    state: CertificateState
    level: int
    trade: dict[str, Any]
    invoice_uses: tuple[InvoiceUse, ...]  # the invoice slices that back this payment
    expires_at: str | None  # a pending piece's deadline (RFC 3339 UTC)
    flags: tuple[str, ...]
    memo: str | None
    created_seq: int
    # Who pays a financing's interest: the holder, or the issuer (buyer-pays, 买方付息),
    # as the root was issued; every piece of the root carries it.
    interest_payer: str = "holder"
    financing: str | None = None  # the financing a locked piece is under (or came by)
    paid_fen: int = 0  # what settlement paid of it (ledger.settlement)
    late_daily_rate: Decimal | None = None  # agreed at issuance; None before it was written

    @property
    def is_root(self) -> bool:
        return self.id == self.root_id

    @property
    def outstanding_fen(self) -> int:
        """What it still holds: its amount, less what was paid of it."""
        return self.amount_fen - self.paid_fen

    def wire(self) -> dict[str, Any]:
        from ledger.entities import CERTIFICATES  # which imports this module

        return CERTIFICATES.to_wire(self)


def business_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.business_timezone).date()


def today_in_zone(ctx: Context) -> str:
    """ "today is 2026-03-02 in UTC+08:00 (the business timezone)": what a refusal that
    compares a date with the business date says, so a client in another timezone, near
    midnight, sees why its "today" is not the ledger's.

        >>> from datetime import UTC, datetime
        >>> from ledger.settings import Settings
        >>> ctx = Context(1, datetime(2026, 3, 1, 17, 0, tzinfo=UTC), "", Settings())
        >>> today_in_zone(ctx)
        'today is 2026-03-02 in UTC+08:00 (the business timezone)'
    """
    zone = f"UTC{ctx.settings.business_utc_offset_h:+03d}:00"
    return f"today is {business_today(ctx).isoformat()} in {zone} (the business timezone)"


def _expires_at(ctx: Context) -> str:
    return format_timestamp(ctx.now + timedelta(seconds=ctx.settings.pending_expiry_s))


def is_due_to_expire(piece: Certificate, now: datetime, today: date | None = None) -> bool:
    """Whether a pending piece must go back: past its deadline, or (given the business
    date ``today``) at its maturity, when paper in flight comes home to be paid."""
    if piece.state != PENDING:
        return False
    late = piece.expires_at is not None and piece.expires_at <= format_timestamp(now)
    return late or (today is not None and piece.maturity <= today)


def refuse_if_due(piece: Certificate, ctx: Context) -> None:
    """A command that touches a pending piece past its deadline or at its maturity is
    refused; the service then records the expiry (``expired_id``) as its own entry."""
    if is_due_to_expire(piece, ctx.now, business_today(ctx)):
        when = (
            f"matured on {piece.maturity.isoformat()}"
            if piece.maturity <= business_today(ctx)
            else f"expired at {piece.expires_at}"
        )
        raise Refusal(
            "certificate-expired",
            f"certificate {piece.id} {when} while pending: it went back to its sender",
            expired_id=piece.id,
        )


def _check_recipient(recipient: Member | None, to: str, issuer: str) -> None:
    if recipient is None:
        raise Refusal("recipient-not-admitted", f"{to} is not an admitted member")
    if recipient.status != MemberStatus.ACTIVE:
        raise Refusal("recipient-suspended", f"{to} is suspended")
    if to == issuer:
        raise Refusal("recipient-is-issuer", "a certificate cannot be paid to its own issuer")


# -- limits on growth -------------------------------------------------------------------


def root_piece_fen_min(face_fen: int, settings: Settings) -> int:
    """The smallest piece a transfer may create from a root of ``face_fen``: a
    ``root_pieces_max``-th of its face, rounded up (and never below ``piece_fen_min``).

    Every live piece of a root is then at least this, except a piece that replaced one
    piece without adding any (a transfer of one output and no change, a netting
    remainder, a return), so the live pieces of a root never outnumber
    ``root_pieces_max`` — whoever splits it — and no holder's transfer depends on what
    other holders did. A 10,000.00 root with the default 2,000 pieces:

    >>> root_piece_fen_min(1_000_000, Settings())
    500
    >>> root_piece_fen_min(1_000_001, Settings())
    501
    >>> root_piece_fen_min(100, Settings())
    1
    """
    return max(settings.piece_fen_min, -(-face_fen // settings.root_pieces_max))


def check_live_pieces(member: str, live: int, gained: int, ctx: Context) -> None:
    """Refuse a command after which ``member`` — the signer, never anyone else — would
    have more than ``holder_pieces_max`` live pieces: the pieces it holds that carry
    value (accepted: active, locked, overdue) and the pending pieces it sent. Pending
    pieces sent *to* a member count only once it accepts them, so nobody can fill
    another member's allowance. ``live`` is its count now, ``gained`` the change."""
    limit = ctx.settings.holder_pieces_max
    if gained > 0 and live + gained > limit:
        raise Refusal(
            "holder-pieces-exceeded",
            f"{member} has {live} live pieces; this would take it past its limit of {limit}",
        )


# -- issue, accept, reject, cancel, expire ------------------------------------------------


def live_counters(state: str, holder: str, sender: str | None) -> tuple[str, ...]:
    """The members whose count of live pieces (``Settings.holder_pieces_max``) a piece
    in ``state`` is in: its holder once it has accepted it, the sender while it is
    pending. ``Repository.live_pieces`` counts the same in SQL; the batch corrects that
    count with this (``ledger.batch``), and its equivalence test holds the two together.

    >>> live_counters("pending", "S2", "S1"), live_counters("active", "S2", "S1")
    (('S1',), ('S2',))
    """
    if state == PENDING:
        return (sender,) if sender else ()
    return (holder,) if state in HOLDING else ()


@dataclass(frozen=True)
class IssueState:
    recipient: Member | None
    limit: IssuanceLimit
    invoices: Mapping[InvoiceKey, Invoice]  # the issuer's to the recipient, and legacy ones
    live_pieces: int  # the issuer's own


def issue(state: IssueState, issuer: str, body: IssueBody, ctx: Context) -> Effects:
    _check_recipient(state.recipient, body.to, issuer)
    tenor_days = (body.maturity - business_today(ctx)).days
    if not 1 <= tenor_days <= ctx.settings.maturity_days_max:
        raise Refusal(
            "maturity-out-of-range",
            f"maturity must be after today and at most {ctx.settings.maturity_days_max} days "
            f"out; {body.maturity.isoformat()} is {tenor_days} days from today "
            f"({today_in_zone(ctx)})",
        )
    if body.amount < ctx.settings.piece_fen_min:
        raise Refusal(
            "piece-too-small",
            f"a certificate must be at least {format_fen(ctx.settings.piece_fen_min)}",
        )
    # The pending root counts as sent by its issuer; its recipient counts it on accept.
    check_live_pieces(issuer, state.live_pieces, 1, ctx)
    limit = credit.consume(state.limit, body.amount)
    changed, uses = invoices.attribute(
        state.invoices, issuer, body.trade.cited(), [(body.to, body.amount)]
    )
    flags = (LONG_TENOR,) if tenor_days > ctx.settings.long_tenor_days else ()
    root_id = ctx.derive_id(0)
    root = Certificate(
        id=root_id,
        root_id=root_id,
        parent_ids=(),
        issuer=issuer,
        holder=body.to,
        sender=issuer,
        amount_fen=body.amount,
        maturity=body.maturity,
        state=PENDING,
        level=1,
        trade=body.trade.wire(),
        invoice_uses=uses[0],
        expires_at=_expires_at(ctx),
        flags=flags,
        memo=body.memo,
        created_seq=ctx.seq,
        interest_payer=body.interest_payer,
        late_daily_rate=(
            body.late_daily_rate if body.late_daily_rate is not None else ctx.settings.late_rate
        ),
    )
    return {
        "certificates": [root.wire()],
        "invoices": [inv.wire() for inv in changed.values()],
        "limits": [limit.wire()],
        "flags": list(flags),
    }


def is_party(piece: Certificate, member: str) -> bool:
    """Whether ``member`` may know ``piece`` exists: its holder, issuer or sender."""
    return member in (piece.holder, piece.issuer, piece.sender)


def _pending_for(piece: Certificate | None, signer: str, ctx: Context) -> Certificate:
    # A stranger hears what it would hear of an id that does not exist.
    if piece is None or not is_party(piece, signer):
        raise Refusal("certificate-not-found", "no such certificate")
    if piece.holder != signer:
        raise Refusal("not-holder", f"certificate {piece.id} is not pending for {signer}")
    if piece.state != PENDING:
        raise Refusal("not-pending", f"certificate {piece.id} is {piece.state}, not pending")
    refuse_if_due(piece, ctx)
    return piece


def accept(piece: Certificate | None, signer: str, live_pieces: int, ctx: Context) -> Effects:
    """``live_pieces``: the signer's own count; accepting adds the piece to it."""
    pending = _pending_for(piece, signer, ctx)
    check_live_pieces(signer, live_pieces, 1, ctx)
    accepted = replace(pending, state=ACTIVE, sender=None, expires_at=None)
    return {"certificates": [accepted.wire()]}


@dataclass(frozen=True)
class ReturnState:
    """What giving a pending piece's value back needs: its invoices and issuer's limit."""

    invoices: Mapping[InvoiceKey, Invoice]
    limit: IssuanceLimit | None  # loaded only for a root


@dataclass(frozen=True)
class GivenBack:
    certificates: tuple[Certificate, ...]  # the ended piece, and the returned one if any
    invoices: dict[InvoiceKey, Invoice]
    limit: IssuanceLimit | None

    def effects(self) -> Effects:
        effects: Effects = {
            "certificates": [c.wire() for c in self.certificates],
            "invoices": [inv.wire() for inv in self.invoices.values()],
        }
        if self.limit is not None:
            effects["limits"] = [self.limit.wire()]
        return effects


def give_back(
    piece: Certificate,
    end_state: CertificateState,
    state: ReturnState,
    ctx: Context,
    index: int,
) -> GivenBack:
    """End a pending piece (rejected, cancelled or expired) and return its value."""
    assert piece.state == PENDING and end_state in TERMINAL, piece
    ended = replace(piece, state=end_state, expires_at=None)
    released = invoices.release(state.invoices, piece.invoice_uses)
    if piece.is_root:
        # The issuance is void: nothing comes back, and the issuer's limit is restored.
        assert state.limit is not None, piece
        return GivenBack((ended,), released, credit.restore(state.limit, piece.amount_fen))
    assert piece.sender is not None, piece
    returned = replace(
        piece,
        id=ctx.derive_id(index),
        parent_ids=(piece.id,),
        holder=piece.sender,
        sender=None,
        state=ACTIVE,
        level=piece.level - 1,
        invoice_uses=(),
        expires_at=None,
        memo=None,
        created_seq=ctx.seq,
    )
    return GivenBack((ended, returned), released, None)


def reject(piece: Certificate | None, signer: str, state: ReturnState, ctx: Context) -> Effects:
    return give_back(_pending_for(piece, signer, ctx), REJECTED, state, ctx, 0).effects()


def cancel(root: Certificate | None, signer: str, state: ReturnState, ctx: Context) -> Effects:
    if root is None or signer not in (root.issuer, root.holder):
        raise Refusal("certificate-not-found", "no such certificate")
    if root.issuer != signer:
        raise Refusal("not-issuer", "only the issuer may cancel a certificate")
    if not root.is_root:
        raise Refusal("not-pending", "only a root certificate can be cancelled")
    if root.state != PENDING:
        raise Refusal(
            "not-pending", f"certificate {root.id} is {root.state}: it can no longer be cancelled"
        )
    refuse_if_due(root, ctx)
    return give_back(root, CANCELLED, state, ctx, 0).effects()


def expire(
    pieces: Sequence[Certificate],
    registered: Mapping[InvoiceKey, Invoice],
    limits: Mapping[str, IssuanceLimit],
    business_date: date | None,
    ctx: Context,
) -> Effects:
    """Expire due pending pieces (the system entry written by the sweep): past their
    deadline, or at their maturity on ``business_date`` (None in entries written before
    maturity was)."""
    invoices_now, limits_now = dict(registered), dict(limits)
    changed_invoices: set[InvoiceKey] = set()
    ended: list[Certificate] = []
    for index, piece in enumerate(pieces):
        assert is_due_to_expire(piece, ctx.now, business_date), piece
        limit = limits_now.get(piece.issuer) if piece.is_root else None
        result = give_back(piece, EXPIRED, ReturnState(invoices_now, limit), ctx, index)
        ended.extend(result.certificates)
        invoices_now.update(result.invoices)
        changed_invoices.update(result.invoices)
        if result.limit is not None:
            limits_now[piece.issuer] = result.limit
    touched_issuers = sorted({p.issuer for p in pieces if p.is_root})
    return {
        "certificates": [c.wire() for c in ended],
        "invoices": [invoices_now[key].wire() for key in sorted(changed_invoices)],
        "limits": [limits_now[issuer].wire() for issuer in touched_issuers],
    }


# -- transfer --------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferState:
    inputs: Mapping[str, Certificate]  # by id; missing ids are simply absent
    recipients: Mapping[str, Member]
    invoices: Mapping[InvoiceKey, Invoice]  # the signer's to each recipient, and legacy ones
    root_faces: Mapping[str, int]  # face_fen of the inputs' roots, by root id
    live_pieces: int  # the signer's own


def _spendable_inputs(
    state: TransferState, signer: str, ids: Sequence[str], ctx: Context
) -> list[Certificate]:
    if len(set(ids)) != len(ids):
        raise Refusal("duplicate-input", "a certificate may be used once per transfer")
    pieces: list[Certificate] = []
    for certificate_id in ids:
        piece = state.inputs.get(certificate_id)
        if piece is None or not is_party(piece, signer):  # a stranger's paper: as if absent
            raise Refusal("certificate-not-found", f"no certificate {certificate_id}")
        if piece.state == PENDING and signer in (piece.holder, piece.sender):
            _refuse_pending_input(piece, ctx)
        if piece.holder != signer:
            raise Refusal("not-holder", f"certificate {certificate_id} is not held by {signer}")
        if piece.state != ACTIVE:
            raise Refusal(
                "not-spendable", f"certificate {certificate_id} is {piece.state}, not active"
            )
        pieces.append(piece)
    if len({piece.root_id for piece in pieces}) > 1:
        raise Refusal("mixed-roots", "all inputs of a transfer must come from the same root")
    if len({piece.financing for piece in pieces}) > 1:
        # Settling a financed piece restores its bank's line by its amount, so what a
        # piece came by is never lost by merging it with other paper.
        raise Refusal(
            "mixed-financings",
            "all inputs of a transfer must come by the same financing (or none)",
        )
    return pieces


def _refuse_pending_input(piece: Certificate, ctx: Context) -> None:
    """A pending piece is spendable by nobody: its recipient has not accepted it, and its
    sender has given it away. Touching one past its deadline expires it."""
    refuse_if_due(piece, ctx)
    raise Refusal("not-spendable", f"certificate {piece.id} is pending, not active")


def _check_outputs(body: TransferBody, change_fen: int, face_fen: int, ctx: Context) -> None:
    if len(body.outputs) > ctx.settings.outputs_max:
        raise Refusal(
            "too-many-outputs", f"at most {ctx.settings.outputs_max} outputs per transfer"
        )
    smallest = min([o.amount for o in body.outputs] + ([change_fen] if change_fen else []))
    if smallest < ctx.settings.piece_fen_min:
        raise Refusal(
            "piece-too-small",
            f"every piece, change included, must be at least "
            f"{format_fen(ctx.settings.piece_fen_min)}",
        )
    # A transfer that adds no piece (one output, no change) may move any amount: a
    # piece below the root's minimum (a netting remainder) can always be paid on whole.
    root_min_fen = root_piece_fen_min(face_fen, ctx.settings)
    if (len(body.outputs) > 1 or change_fen) and smallest < root_min_fen:
        raise Refusal(
            "root-pieces-exceeded",
            f"a transfer that splits a piece of this certificate must make every piece, "
            f"change included, at least {format_fen(root_min_fen)} (1/"
            f"{ctx.settings.root_pieces_max} of its face, rounded up)",
        )


def _check_transfer_growth(
    state: TransferState, signer: str, inputs: Sequence[Certificate], created: int, ctx: Context
) -> None:
    """The signer's own wallet does not grow beyond its limit: every piece a transfer
    creates is either kept (the change, outputs to itself) or a pending piece it sent.
    The recipients' counts are not the sender's business: they count on accept."""
    check_live_pieces(signer, state.live_pieces, created - len(inputs), ctx)


def transfer(state: TransferState, signer: str, body: TransferBody, ctx: Context) -> Effects:
    inputs = _spendable_inputs(state, signer, body.inputs, ctx)
    first = inputs[0]
    if business_today(ctx) >= first.maturity:
        raise Refusal(
            "certificate-matured",
            f"the certificate matures on {first.maturity.isoformat()}: it can only be settled",
        )
    total_in = sum(piece.amount_fen for piece in inputs)
    total_out = sum(output.amount for output in body.outputs)
    if total_out > total_in:
        raise Refusal(
            "insufficient-amount",
            f"outputs total {format_fen(total_out)} but inputs hold {format_fen(total_in)}",
        )
    change_fen = total_in - total_out
    _check_outputs(body, change_fen, state.root_faces[first.root_id], ctx)
    base_level = max(piece.level for piece in inputs)
    paid = [output for output in body.outputs if output.to != signer]
    level_max = ctx.settings.level_max
    if paid and level_max and base_level + 1 > level_max:
        raise Refusal("max-level-exceeded", f"pieces may not go beyond level {level_max}")
    for output in paid:
        _check_recipient(state.recipients.get(output.to), output.to, first.issuer)
    changed, uses = invoices.attribute(
        state.invoices, signer, body.trade.cited(), [(output.to, output.amount) for output in paid]
    )
    uses_of = iter(uses)
    template = replace(
        first,
        parent_ids=tuple(body.inputs),
        trade=body.trade.wire(),
        memo=None,
        created_seq=ctx.seq,
        # Paper a bank financed stays its financing's, whoever holds it next: the
        # settlement of it restores the bank's line (inputs all share one: above).
        financing=first.financing,
        paid_fen=0,  # paper is transferred before its maturity, so before any payment
    )
    created: list[Certificate] = []
    for index, output in enumerate(body.outputs):
        own = output.to == signer
        created.append(
            replace(
                template,
                id=ctx.derive_id(index),
                holder=output.to,
                amount_fen=output.amount,
                sender=None if own else signer,
                state=ACTIVE if own else PENDING,
                level=base_level if own else base_level + 1,
                invoice_uses=() if own else next(uses_of),
                expires_at=None if own else _expires_at(ctx),
            )
        )
    if change_fen:
        created.append(
            replace(
                template,
                id=ctx.derive_id(len(body.outputs)),
                holder=signer,
                amount_fen=change_fen,
                sender=None,
                state=ACTIVE,
                level=base_level,
                invoice_uses=(),
                expires_at=None,
            )
        )
    _check_transfer_growth(state, signer, inputs, len(created), ctx)
    spent = [replace(piece, state=SPENT) for piece in inputs]
    return {
        "certificates": [c.wire() for c in spent + created],
        "invoices": [inv.wire() for inv in changed.values()],
    }
