"""Each command type's handler: load the state it needs, then call its pure rule.

A handler is the only place that knows both which rows a rule reads and which rule
decides: loading stays a handful of indexed queries (no N+1), deciding stays pure.
``roles`` lists the roles of which the signer needs at least one (empty: any member).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ledger import certificates, credit, members, netting_run, obligations
from ledger.certificates import PENDING, Certificate, IssueState, ReturnState, TransferState
from ledger.commands import Command
from ledger.context import Context, Effects
from ledger.keys import key_id_of
from ledger.members import Member
from ledger.repository import Repository

Run = Callable[[Repository, Command, Member, Context], Effects]
Plan = Callable[[Repository, Command, Context], Any]


@dataclass(frozen=True)
class Handler:
    """``plan``, when given, runs before the lock on one snapshot of the ledger (for work
    too long to hold the ledger for); ``run`` then gets its result as ``planned``."""

    roles: frozenset[str]
    run: Run
    plan: Plan | None = None


def _admit(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    existing = repo.member(cmd.body.id)
    key = repo.key(key_id_of(cmd.body.public_key))
    return members.admit(existing, key.member if key else None, cmd.body, ctx)


def _suspend(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return members.set_status(repo.member(cmd.body.id), signer.id, members.SUSPENDED)


def _reinstate(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return members.set_status(repo.member(cmd.body.id), signer.id, members.ACTIVE)


def _rotate_key(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    current = repo.key(signer.key_id)
    assert current is not None, signer
    taken = repo.key(key_id_of(cmd.body.public_key))
    return members.rotate_key(signer, current, taken.member if taken else None, cmd.body, ctx)


def _limit_set(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    member = cmd.body.member
    return credit.decide_set(
        repo.member(member), repo.issuance_limits([member]).get(member), cmd.body
    )


def _issue(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    body = cmd.body
    state = IssueState(
        recipient=repo.member(body.to),
        limit=repo.issuance_limits([signer.id]).get(signer.id) or credit.none_for(signer.id),
        invoices=repo.buyer_invoices(signer.id, body.trade.numbers()),
        live_pieces=repo.live_pieces([signer.id])[signer.id],
    )
    return certificates.issue(state, signer.id, body, ctx)


def _return_state(repo: Repository, piece: Certificate | None) -> ReturnState:
    """What giving back a pending piece needs; empty when the rule will refuse anyway."""
    if piece is None or piece.state != PENDING:
        return ReturnState({}, None)
    invoices = repo.invoices(use.key for use in piece.invoice_uses)
    limit = repo.issuance_limits([piece.issuer]).get(piece.issuer) if piece.is_root else None
    return ReturnState(invoices, limit)


def _accept(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    live = repo.live_pieces([signer.id])[signer.id]
    return certificates.accept(repo.certificate(cmd.body.id), signer.id, live, ctx)


def _reject(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    piece = repo.certificate(cmd.body.id)
    return certificates.reject(piece, signer.id, _return_state(repo, piece), ctx)


def _cancel(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    root = repo.certificate(cmd.body.id)
    return certificates.cancel(root, signer.id, _return_state(repo, root), ctx)


def _transfer(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
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
    return certificates.transfer(state, signer.id, body, ctx)


def _obligation_register(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    owed = repo.live_obligations(signer.id)
    return obligations.register(repo.member(cmd.body.creditor), signer.id, owed, cmd.body, ctx)


def _obligation_confirm(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.confirm(repo.obligation(cmd.body.id), signer.id)


def _obligation_reject(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.reject(repo.obligation(cmd.body.id), signer.id)


def _obligation_settle(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.settle(repo.obligation(cmd.body.id), signer.id, cmd.body)


def _confirm_settlement(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.confirm_settlement(repo.obligation(cmd.body.id), signer.id)


def _dispute_settlement(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.dispute_settlement(repo.obligation(cmd.body.id), signer.id)


def _consent(repo: Repository, cmd: Command, signer: Member, ctx: Context) -> Effects:
    return obligations.consent(signer, cmd.body)


def netting_state(repo: Repository) -> netting_run.NettingState:
    pieces, owed = repo.netting_debts()
    limits = repo.issuance_limits(piece.issuer for piece in pieces)
    return netting_run.NettingState(pieces, owed, limits)


def _netting_plan(repo: Repository, cmd: Command, ctx: Context) -> netting_run.Plan:
    """Solve before the lock, on a snapshot (``ctx.seq`` is not known yet)."""
    netting_run.check_as_of(cmd.body, ctx)
    room_bytes = ctx.settings.entry_bytes_max - len(cmd.signed)
    return netting_run.plan(netting_state(repo), ctx, room_bytes)


def _netting_run(
    repo: Repository,
    cmd: Command,
    signer: Member,
    ctx: Context,
    planned: netting_run.Plan | None = None,
) -> Effects:
    """In the lock: reload what the plan consumes (by id), apply what did not change."""
    if planned is None:  # not planned before the lock: plan now
        planned = _netting_plan(repo, cmd, ctx)
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


OPERATOR = frozenset({"operator"})
CORE = frozenset({"core"})
ANY_MEMBER: frozenset[str] = frozenset()

HANDLERS: dict[str, Handler] = {
    "member.admit": Handler(OPERATOR, _admit),
    "member.suspend": Handler(OPERATOR, _suspend),
    "member.reinstate": Handler(OPERATOR, _reinstate),
    "member.rotate_key": Handler(ANY_MEMBER, _rotate_key),
    "limit.set": Handler(OPERATOR, _limit_set),
    "certificate.issue": Handler(CORE, _issue),
    "certificate.accept": Handler(ANY_MEMBER, _accept),
    "certificate.reject": Handler(ANY_MEMBER, _reject),
    "certificate.cancel": Handler(CORE, _cancel),
    "certificate.transfer": Handler(ANY_MEMBER, _transfer),
    "obligation.register": Handler(ANY_MEMBER, _obligation_register),
    "obligation.confirm": Handler(ANY_MEMBER, _obligation_confirm),
    "obligation.reject": Handler(ANY_MEMBER, _obligation_reject),
    "obligation.settle": Handler(ANY_MEMBER, _obligation_settle),
    "obligation.confirm_settlement": Handler(ANY_MEMBER, _confirm_settlement),
    "obligation.dispute_settlement": Handler(ANY_MEMBER, _dispute_settlement),
    "member.netting_consent": Handler(ANY_MEMBER, _consent),
    "netting.run": Handler(OPERATOR, _netting_run, plan=_netting_plan),
}


def register(command_type: str, handler: Handler) -> None:
    assert command_type not in HANDLERS, command_type
    HANDLERS[command_type] = handler
