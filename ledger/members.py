"""Members: the admitted enterprises, their roles and their signing keys.

Nobody who is not admitted can sign anything. The operator admits a member with its
first public key (``member.admit``), can suspend and reinstate it; a member replaces
its own key with ``member.rotate_key``, signed by the key it retires. A retired key
never signs again, but the journal keeps it, so old signatures still verify against
the key that was valid at their seq.

These are pure rules: they take the state the service loaded and return effects —
the full new state of every row they change — and never touch a database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ledger.commands import MemberId, PublicKey, Text, WireModel
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.keys import key_id_of

ROLES = ("bank", "core", "operator", "supplier")
Role = Literal["bank", "core", "operator", "supplier"]


class MemberStatus(StrEnum):
    """A member's standing: only an active member signs, holds or receives anything."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


ACTIVE, SUSPENDED = MemberStatus.ACTIVE, MemberStatus.SUSPENDED


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    roles: tuple[str, ...]
    status: MemberStatus
    key_id: str
    public_key: str
    admitted_seq: int
    netting_consent: bool = False
    tier: str | None = None  # A, B or C for discounting (ledger.financing); None: unrated
    payout_account: dict[str, str] | None = None  # {bank_name, account_no} (ledger.settlement)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def wire(self) -> dict[str, Any]:
        from ledger.entities import MEMBERS  # which imports this module

        return MEMBERS.to_wire(self)


@dataclass(frozen=True)
class Key:
    key_id: str
    member: str
    public_key: str
    added_seq: int
    retired_seq: int | None

    def wire(self) -> dict[str, Any]:
        from ledger.entities import KEYS  # which imports this module

        return KEYS.to_wire(self)


class GenesisBody(WireModel):
    id: MemberId
    name: Text
    public_key: PublicKey
    # The rule settings the ledger starts under (``Settings.recorded``; absent in a
    # ledger begun before they were recorded).
    settings: dict[str, str] | None = None


class AdmitBody(WireModel):
    id: MemberId
    name: Text
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(ROLES))]
    public_key: PublicKey

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles


class MemberRefBody(WireModel):
    id: MemberId


class RotateKeyBody(WireModel):
    public_key: PublicKey


def _new_member(body: AdmitBody | GenesisBody, roles: list[str], seq: int) -> tuple[Member, Key]:
    key = Key(key_id_of(body.public_key), body.id, body.public_key, seq, None)
    member = Member(
        body.id, body.name, tuple(sorted(roles)), ACTIVE, key.key_id, key.public_key, seq
    )
    return member, key


def genesis(body: GenesisBody, ctx: Context) -> Effects:
    """The first entry: the operator, admitted by whoever initialised the database."""
    member, key = _new_member(body, ["operator"], ctx.seq)
    return {"members": [member.wire()], "keys": [key.wire()]}


def admit(existing: Member | None, key_owner: str | None, body: AdmitBody, ctx: Context) -> Effects:
    if existing is not None:
        raise Refusal("member-exists", f"member {body.id} is already admitted")
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already registered to a member")
    member, key = _new_member(body, list(body.roles), ctx.seq)
    return {"members": [member.wire()], "keys": [key.wire()]}


def set_status(target: Member | None, signer_id: str, status: MemberStatus) -> Effects:
    """Suspend (``status = suspended``) or reinstate (``status = active``) a member."""
    if target is None:
        raise Refusal("member-not-found", "no member with this id")
    if target.id == signer_id:
        raise Refusal("invalid-member-state", "a member cannot change its own status")
    if target.status == status:
        raise Refusal("invalid-member-state", f"member {target.id} is already {status}")
    return {"members": [replace(target, status=status).wire()]}


def rotate_key(
    signer: Member, current: Key, key_owner: str | None, body: RotateKeyBody, ctx: Context
) -> Effects:
    assert current.key_id == signer.key_id and current.retired_seq is None, (signer, current)
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already registered to a member")
    new_key = Key(key_id_of(body.public_key), signer.id, body.public_key, ctx.seq, None)
    member = replace(signer, key_id=new_key.key_id, public_key=new_key.public_key)
    retired = replace(current, retired_seq=ctx.seq)
    return {"members": [member.wire()], "keys": [retired.wire(), new_key.wire()]}
