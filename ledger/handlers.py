"""Each command type's loader: load the state its rule needs, then call the rule.

A loader is the only place that knows both which rows a rule reads and which rule
decides: loading stays a handful of indexed queries (no N+1), deciding stays pure.
Loaders read through :class:`Loads`: in the sequencer that is the batch
(``ledger.batch``), which answers from the effects of the commands before in the same
batch and from the database for the rest; a :class:`~ledger.repository.Repository`
(the database alone) answers the same questions for reads and tools. Which loader
serves which command type is declared in ``ledger.catalog``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ledger import (
    certificates,
    credit,
    financing,
    log_keys,
    members,
    netting_run,
    obligations,
    settlement,
    webhooks,
)
from ledger.certificates import (
    PENDING,
    Certificate,
    IssueState,
    ReturnState,
    TransferState,
    business_today,
)
from ledger.commands import Command
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.financing import ApplyState, CreditLine, DecideState, Financing
from ledger.invoices import Invoice, InvoiceKey
from ledger.keys import key_id_of
from ledger.members import Key, Member
from ledger.obligations import Obligation
from ledger.repository import StoredEntry
from ledger.webhooks import Endpoint


class Loads(Protocol):
    """The questions a loader may ask of the ledger's current state."""

    def entry_by_nonce(self, signer: str, nonce: str) -> StoredEntry | None: ...
    def member(self, member_id: str) -> Member | None: ...
    def members(self, member_ids: Iterable[str]) -> dict[str, Member]: ...
    def key(self, key_id: str) -> Key | None: ...
    def active_keys(self, member_id: str) -> list[Key]: ...
    def key_with_member(self, key_id: str) -> tuple[Key, Member] | None: ...
    def log_key(self, key_id: str) -> log_keys.LogKey | None: ...
    def active_log_key(self) -> log_keys.LogKey | None: ...
    def certificate(self, certificate_id: str) -> Certificate | None: ...
    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]: ...
    def root_faces(self, root_ids: Iterable[str]) -> dict[str, int]: ...
    def piece_states(self, ids: Iterable[str]) -> dict[str, tuple[str, str, int]]: ...
    def live_pieces(self, member_ids: Iterable[str]) -> dict[str, int]: ...
    def buyer_invoices(self, buyer: str, numbers: Iterable[str]) -> dict[InvoiceKey, Invoice]: ...
    def invoices(self, keys: Iterable[InvoiceKey]) -> dict[InvoiceKey, Invoice]: ...
    def issuance_limits(self, members: Iterable[str]) -> dict[str, IssuanceLimit]: ...
    def obligation(self, obligation_id: str) -> Obligation | None: ...
    def obligation_states(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]: ...
    def live_obligations(self, debtor: str) -> int: ...
    def netting_debts(self) -> tuple[list[Certificate], list[Obligation]]: ...
    def head_seq(self) -> int: ...
    def credit_lines(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CreditLine]: ...
    def lines_held(self, bank: str) -> int: ...
    def line_pending(self, bank: str, core: str) -> int: ...
    def requested_on_line(self, bank: str, core: str) -> list[Financing]: ...
    def financing(self, financing_id: str) -> Financing | None: ...
    def financings(self, ids: Iterable[str]) -> dict[str, Financing]: ...
    def root_holding(self, root_id: str) -> dict[str, Certificate]: ...
    def overdue_count(self, issuer: str) -> int: ...
    def maturing_active(
        self, before_text: str, limit: int, ids: Sequence[str] = (), issuer: str | None = None
    ) -> list[Certificate]: ...
    def webhook(self, endpoint_id: str) -> Endpoint | None: ...
    def live_webhooks(self, member: str) -> int: ...


@dataclass(frozen=True)
class Needs:
    """What a loader will read first, by key: the sequencer reads it for a whole batch
    at once (one ``IN (…)`` query per collection) before the loaders run. A hint only:
    what a loader reads that is not here is read when it asks."""

    members: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    invoices: tuple[tuple[str, str], ...] = ()  # (buyer, normalised number)


def issue_needs(cmd: Command) -> Needs:
    invoices = tuple((cmd.signer, no) for no in cmd.body.trade.numbers())
    return Needs(members=(cmd.body.to,), invoices=invoices)


def transfer_needs(cmd: Command) -> Needs:
    body = cmd.body
    return Needs(
        members=tuple(output.to for output in body.outputs),
        certificates=tuple(body.inputs),
        invoices=tuple((cmd.signer, no) for no in body.trade.numbers()),
    )


def piece_needs(cmd: Command) -> Needs:
    return Needs(certificates=(cmd.body.id,))


def obligation_needs(cmd: Command) -> Needs:
    return Needs(obligations=(cmd.body.id,))


def creditor_needs(cmd: Command) -> Needs:
    return Needs(members=(cmd.body.creditor,))


def pay_needs(cmd: Command) -> Needs:
    return Needs(certificates=tuple(cmd.body.pieces or ()))


def apply_needs(cmd: Command) -> Needs:
    return Needs(members=(cmd.body.bank,), certificates=(cmd.body.certificate,))


# One answer for every command or read that does not prove its signer: an unknown member,
# a key that is not the member's, and a signature that does not verify all read the same,
# so nobody without a key learns who is admitted or which keys a member has.
BAD_SIGNATURE = "the signature does not verify against a key of the signer"


def authorise(repo: Loads, cmd: Command, roles: frozenset[str]) -> Member:
    """The key is still current, the signer active, the role allowed: asked by the
    sequencer before a command's loader runs, and by the auditor when it re-executes."""
    found = repo.key_with_member(cmd.key_id)
    if found is None or found[0].member != cmd.signer:
        raise Refusal("bad-signature", BAD_SIGNATURE)
    key, signer = found
    return authorise_member(key, signer, roles)


def authorise_member(key: Key, signer: Member, roles: frozenset[str]) -> Member:
    """The checks shared by signed commands and signed reads."""
    if key.retired_seq is not None:
        raise Refusal("retired-key", f"key {key.key_id} was retired at seq {key.retired_seq}")
    if signer.status != members.ACTIVE:
        raise Refusal("member-suspended", f"member {signer.id} is suspended")
    if roles and not any(signer.has_role(role) for role in roles):
        raise Refusal("forbidden", f"this needs one of the roles {sorted(roles)}")
    return signer


Run = Callable[..., Effects]  # (Loads, Command, Member, Context[, planned=…]) -> Effects
Plan = Callable[[Loads, Command, Context], Any]


def admit(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    existing = repo.member(cmd.body.id)
    key = repo.key(key_id_of(cmd.body.public_key))
    return members.admit(existing, key.member if key else None, cmd.body, ctx)


def suspend(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return members.set_status(repo.member(cmd.body.id), signer.id, members.SUSPENDED)


def reinstate(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return members.set_status(repo.member(cmd.body.id), signer.id, members.ACTIVE)


def rotate_key(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    current = repo.key(cmd.key_id)  # the signing key: ``authorise`` found it current
    assert current is not None, cmd
    return members.rotate_key(signer, current, _owner(repo, cmd.body.public_key), cmd.body, ctx)


def add_key(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    owner = _owner(repo, cmd.body.public_key)
    return members.add_key(signer, repo.active_keys(signer.id), owner, cmd.body, ctx)


def remove_key(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return members.remove_key(signer, repo.active_keys(signer.id), cmd.body, ctx)


def reset_key(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    target = repo.member(cmd.body.member)
    active = repo.active_keys(target.id) if target is not None else []
    owner = _owner(repo, cmd.body.public_key)
    return members.reset_key(target, active, owner, cmd.body, ctx)


def _owner(repo: Loads, public_key: str) -> str | None:
    """The member a public key is registered to (active or retired), if any."""
    taken = repo.key(key_id_of(public_key))
    return taken.member if taken else None


def publish_log_key(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    key_id = key_id_of(cmd.body.public_key)
    member_key, log_key = repo.key(key_id), repo.log_key(key_id)
    owner = member_key.member if member_key else (log_key.name if log_key else None)
    return log_keys.publish(repo.active_log_key(), owner, cmd.body, ctx)


def limit_set(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    member = cmd.body.member
    return credit.decide_set(
        repo.member(member), repo.issuance_limits([member]).get(member), cmd.body
    )


def issue(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    body = cmd.body
    limit = repo.issuance_limits([signer.id]).get(signer.id) or credit.none_for(signer.id)
    if ctx.settings.issuer_overdue_block:
        overdue = repo.overdue_count(signer.id)
        due = [] if overdue else overdue_ids(repo, ctx, issuer=signer.id, limit=1)
        settlement.refuse_overdue_issuer(signer.id, limit, overdue, due, ctx)
    state = IssueState(
        recipient=repo.member(body.to),
        limit=limit,
        invoices=repo.buyer_invoices(signer.id, body.trade.numbers()),
        live_pieces=repo.live_pieces([signer.id])[signer.id],
    )
    return certificates.issue(state, signer.id, body, ctx)


def _return_state(repo: Loads, piece: Certificate | None) -> ReturnState:
    """What giving back a pending piece needs; empty when the rule will refuse anyway."""
    if piece is None or piece.state != PENDING:
        return ReturnState({}, None)
    invoices = repo.invoices(use.key for use in piece.invoice_uses)
    limit = repo.issuance_limits([piece.issuer]).get(piece.issuer) if piece.is_root else None
    return ReturnState(invoices, limit)


def accept(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    live = repo.live_pieces([signer.id])[signer.id]
    return certificates.accept(repo.certificate(cmd.body.id), signer.id, live, ctx)


def reject(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    piece = repo.certificate(cmd.body.id)
    return certificates.reject(piece, signer.id, _return_state(repo, piece), ctx)


def cancel(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    root = repo.certificate(cmd.body.id)
    return certificates.cancel(root, signer.id, _return_state(repo, root), ctx)


def transfer(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    body = cmd.body
    payees = [o.to for o in body.outputs if o.to != signer.id]
    inputs = repo.certificates(body.inputs)
    state = TransferState(
        inputs=inputs,
        recipients=repo.members(payees),
        invoices=repo.buyer_invoices(signer.id, body.trade.numbers()),
        root_faces=repo.root_faces(piece.root_id for piece in inputs.values()),
        live_pieces=repo.live_pieces([signer.id])[signer.id],
    )
    try:
        return certificates.transfer(state, signer.id, body, ctx)
    except Refusal as refusal:
        refuse_stale_locks(repo, refusal, signer.id, inputs.values(), ctx)
        raise


def overdue_ids(
    repo: Loads, ctx: Context, ids: Sequence[str] = (), issuer: str | None = None, limit: int = 1
) -> list[str]:
    """Active pieces (of ``ids``, of ``issuer``, or any) past their payment date and
    grace, earliest maturity first: the ones the overdue sweep marks."""
    today, grace = business_today(ctx), ctx.settings.overdue_grace_days
    before = settlement.overdue_cutoff(today, grace).isoformat()
    found = repo.maturing_active(before, limit, ids, issuer)
    return [p.id for p in found if settlement.is_overdue(p, today, grace)]


def settlement_pay(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    body = cmd.body
    if body.pieces is not None:
        pieces, root = repo.certificates(body.pieces), None
    else:
        root = repo.certificate(body.root)
        pieces = repo.root_holding(body.root) if root and root.issuer == signer.id else {}
    financed = repo.financings({p.financing for p in pieces.values() if p.financing})
    approved = {i: f for i, f in financed.items() if f.state == financing.APPROVED}
    state = settlement.PayState(
        pieces=pieces,
        root=root,
        limit=repo.issuance_limits([signer.id]).get(signer.id) or credit.none_for(signer.id),
        financings=approved,
        lines=repo.credit_lines({(f.bank, f.core) for f in approved.values()}),
    )
    return settlement.pay(state, signer.id, body, ctx)


def lift_overdue_block(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    member = cmd.body.member
    current = repo.issuance_limits([member]).get(member)
    return settlement.lift_block(repo.member(member), current, cmd.body, ctx)


def set_payout_account(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return settlement.set_payout_account(signer, cmd.body)


def obligation_register(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    owed = repo.live_obligations(signer.id)
    return obligations.register(repo.member(cmd.body.creditor), signer.id, owed, cmd.body, ctx)


def obligation_confirm(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.confirm(repo.obligation(cmd.body.id), signer.id)


def obligation_reject(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.reject(repo.obligation(cmd.body.id), signer.id)


def obligation_settle(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.settle(repo.obligation(cmd.body.id), signer.id, cmd.body)


def confirm_settlement(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.confirm_settlement(repo.obligation(cmd.body.id), signer.id)


def dispute_settlement(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.dispute_settlement(repo.obligation(cmd.body.id), signer.id)


def credit_line_set(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    core, line_key = cmd.body.core, (signer.id, cmd.body.core)
    current = repo.credit_lines([line_key]).get(line_key)
    use = (repo.lines_held(signer.id), repo.line_pending(*line_key))
    try:
        return financing.set_line(repo.member(core), signer.id, current, use, cmd.body, ctx)
    except Refusal as refusal:  # counting applications past their window? expire them
        if refusal.type == "credit-line-below-use":
            financing.refuse_due(repo.requested_on_line(*line_key), ctx, refusal)
        raise


def set_tier(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return financing.set_tier(repo.member(cmd.body.id), cmd.body)


def apply_state(repo: Loads, applicant: Member, body: financing.ApplyBody) -> ApplyState:
    """What pricing and applying need (shared with the quote read)."""
    piece = repo.certificate(body.certificate)
    line_key = (body.bank, piece.issuer) if piece else None
    return ApplyState(
        piece=piece,
        bank=repo.member(body.bank),
        line=repo.credit_lines([line_key]).get(line_key) if line_key else None,
        pending_fen=repo.line_pending(*line_key) if line_key else 0,
        applicant_tier=applicant.tier,
        root_face_fen=repo.root_faces([piece.root_id])[piece.root_id] if piece else 0,
        live_pieces=repo.live_pieces([applicant.id])[applicant.id],
    )


def financing_apply(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    state = apply_state(repo, signer, cmd.body)
    try:
        return financing.apply(state, signer.id, cmd.body, ctx)
    except Refusal as refusal:
        refuse_stale_locks(repo, refusal, signer.id, [state.piece] if state.piece else [], ctx)
        if refusal.type == "credit-line-exceeded" and state.piece is not None:
            line_key = (cmd.body.bank, state.piece.issuer)
            financing.refuse_due(repo.requested_on_line(*line_key), ctx, refusal)
        raise


def refuse_stale_locks(
    repo: Loads, refusal: Refusal, signer: str, pieces: Iterable[Certificate], ctx: Context
) -> None:
    """A command refused because a piece of the signer's is ``locked``, under an
    application whose window has passed, is refused naming it, so that its expiry is
    recorded (as a pending piece's is when a command touches it past its deadline). Only
    the signer's own: another member's locked piece, which a transfer may name among its
    inputs, is none of its business (it hears of it what it would of an unknown id)."""
    if refusal.type != "not-spendable":
        return
    locks = [
        p.financing
        for p in pieces
        if p.state == certificates.LOCKED and p.financing and p.holder == signer
    ]
    found = [f for f in map(repo.financing, locks) if f is not None]
    financing.refuse_due(found, ctx, refusal)


def _decide_state(repo: Loads, financing_id: str) -> DecideState:
    found = repo.financing(financing_id)
    if found is None:
        return DecideState(None, None, None, None, 0)
    return DecideState(
        financing=found,
        piece=repo.certificate(found.certificate),
        line=repo.credit_lines([(found.bank, found.core)]).get((found.bank, found.core)),
        applicant=repo.member(found.applicant),
        live_pieces=repo.live_pieces([found.bank])[found.bank],
    )


def financing_decide(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return financing.decide(_decide_state(repo, cmd.body.id), signer.id, cmd.body, ctx)


def financing_cancel(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return financing.cancel(_decide_state(repo, cmd.body.id), signer.id, ctx)


def consent(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.consent(signer, cmd.body)


def _endpoint(repo: Loads, cmd: Command) -> Endpoint | None:
    return repo.webhook(webhooks.endpoint_id(cmd.signer, cmd.body.url))


def webhook_set(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    live = repo.live_webhooks(signer.id)
    return webhooks.set_endpoint(_endpoint(repo, cmd), live, signer.id, cmd.body, ctx)


def webhook_delete(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return webhooks.delete_endpoint(_endpoint(repo, cmd), cmd.body)


def webhook_rotate_secret(repo: Loads, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return webhooks.rotate_secret(_endpoint(repo, cmd), cmd.body, ctx)


def netting_state(repo: Loads) -> netting_run.NettingState:
    pieces, owed = repo.netting_debts()
    limits = repo.issuance_limits(piece.issuer for piece in pieces)
    return netting_run.NettingState(pieces, owed, limits)


def netting_plan(repo: Loads, cmd: Command, ctx: Context) -> netting_run.Plan:
    """Solve before the lock, on a snapshot (``ctx.seq`` is not known yet)."""
    netting_run.check_as_of(cmd.body, ctx)
    return netting_plan_of(netting_state(repo), repo.head_seq(), cmd, ctx)


def netting_plan_of(
    state: netting_run.NettingState, on_seq: int, cmd: Command, ctx: Context
) -> netting_run.Plan:
    """The plan of ``state``, the ledger as it was after entry ``on_seq``, within the
    room ``cmd`` leaves in its entry."""
    room_bytes = ctx.settings.entry_bytes_max - len(cmd.signed)
    return dataclasses.replace(netting_run.plan(state, ctx, room_bytes), planned_on=on_seq)


def netting(
    repo: Loads,
    cmd: Command,
    signer: Member,
    ctx: Context,
    planned: netting_run.Plan | None = None,
) -> Effects:
    """In the lock: reload what the plan consumes (by id), apply what did not change."""
    if planned is None:  # not planned before the lock: plan now
        planned = netting_plan(repo, cmd, ctx)
    pieces, owed, parties, issuers = netting_run.touched(planned)
    found = _chunked(repo.members, parties)
    current = netting_run.Current(
        pieces=_chunked(repo.piece_states, pieces),
        obligations=_chunked(repo.obligation_states, owed),
        parties=frozenset(
            m.id for m in found.values() if m.netting_consent and m.status == members.ACTIVE
        ),
        limits=_chunked(repo.issuance_limits, issuers),
    )
    return netting_run.apply(planned, current, cmd.body, ctx)


V = TypeVar("V")
IN_LIST_MAX = 5_000  # ids per IN (…) list: far below SQLite's 32,766 bound parameters


def _chunked(load: Callable[[list[str]], dict[str, V]], ids: Iterable[str]) -> dict[str, V]:
    """``load`` over ``ids`` a bounded IN (…) list at a time."""
    wanted = sorted(set(ids))
    found: dict[str, V] = {}
    for start in range(0, len(wanted), IN_LIST_MAX):
        found.update(load(wanted[start : start + IN_LIST_MAX]))
    return found
