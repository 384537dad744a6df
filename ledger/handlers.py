"""Each command type's handler: load the state it needs, then call its pure rule.

A handler is the only place that knows both which rows a rule reads and which rule
decides: loading stays a handful of indexed queries (no N+1), deciding stays pure.
``roles`` lists the roles of which the signer needs at least one (empty: any member).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger import members
from ledger.commands import Command
from ledger.context import Context, Effects
from ledger.keys import key_id_of
from ledger.members import Member
from ledger.repository import Repository

Run = Callable[[Repository, Command, Member, Context], Effects]


@dataclass(frozen=True)
class Handler:
    roles: frozenset[str]
    run: Run


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


OPERATOR = frozenset({"operator"})
ANY_MEMBER: frozenset[str] = frozenset()

HANDLERS: dict[str, Handler] = {
    "member.admit": Handler(OPERATOR, _admit),
    "member.suspend": Handler(OPERATOR, _suspend),
    "member.reinstate": Handler(OPERATOR, _reinstate),
    "member.rotate_key": Handler(ANY_MEMBER, _rotate_key),
}


def register(command_type: str, handler: Handler) -> None:
    assert command_type not in HANDLERS, command_type
    HANDLERS[command_type] = handler
