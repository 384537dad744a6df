"""Members: the admitted enterprises, their roles and their signing keys.

Nobody who is not admitted can sign anything. The operator admits a member with its
first public key (``member.admit``), can suspend and reinstate it; a member replaces
a key with ``member.rotate_key``, signed by the key it retires. A retired key never
signs again, but the journal keeps it, so old signatures still verify against the key
that was valid at their seq.

A firm is several people: a member may hold several active keys at once, each with a
name unique among its active keys (``"primary"`` for the first, and for every key
written before keys had names), so its clerk and its treasurer sign with keys of their
own and each entry's ``key_id`` says which signed it. Any current key of the member
adds one (``member.add_key``) or removes one (``member.remove_key``, which retires it),
never the last. A member that lost its keys asks the operator, who checks its identity
out of band and resets them (``member.reset_key``): every active key is retired at
that seq and the new one replaces them, with the reason in the journal.

The member's own ``key_id`` and ``public_key`` name its *primary* key: the one it was
admitted with, rotated to or reset to; when that key is removed, the oldest of its
other active keys (ties by ``key_id``) becomes primary.

These are pure rules: they take the state the service loaded and return effects —
the full new state of every row they change — and never touch a database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ledger.commands import KeyName, MemberId, PublicKey, Reason, Text, WireModel
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.keys import key_id_of
from ledger.limits import KEYS_PER_MEMBER_MAX

DEFAULT_KEY_NAME = "primary"  # a member's first key, and every key from before names

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
    name: str = DEFAULT_KEY_NAME

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


class AddKeyBody(WireModel):
    name: KeyName
    public_key: PublicKey


class RemoveKeyBody(WireModel):
    name: KeyName


class ResetKeyBody(WireModel):
    member: MemberId
    public_key: PublicKey
    reason: Reason
    name: KeyName = DEFAULT_KEY_NAME


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
    """Replace the signing key ``current`` by a new key of the same name; the member's
    record changes only when ``current`` was its primary key."""
    assert current.member == signer.id and current.retired_seq is None, (signer, current)
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already registered to a member")
    new_key = Key(
        key_id_of(body.public_key), signer.id, body.public_key, ctx.seq, None, current.name
    )
    retired = replace(current, retired_seq=ctx.seq)
    if current.key_id != signer.key_id:
        return {"keys": [retired.wire(), new_key.wire()]}
    member = replace(signer, key_id=new_key.key_id, public_key=new_key.public_key)
    return {"members": [member.wire()], "keys": [retired.wire(), new_key.wire()]}


def add_key(
    signer: Member, active: list[Key], key_owner: str | None, body: AddKeyBody, ctx: Context
) -> Effects:
    """Give the signer another active key, named ``body.name``."""
    _assert_active_keys(signer.id, active)
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already registered to a member")
    if any(key.name == body.name for key in active):
        raise Refusal("key-name-taken", f"member {signer.id} has an active key named {body.name!r}")
    if len(active) >= KEYS_PER_MEMBER_MAX:
        raise Refusal(
            "member-keys-exceeded",
            f"member {signer.id} has {len(active)} active keys; "
            f"{KEYS_PER_MEMBER_MAX} are allowed (remove one first)",
        )
    new_key = Key(key_id_of(body.public_key), signer.id, body.public_key, ctx.seq, None, body.name)
    return {"keys": [new_key.wire()]}


def remove_key(signer: Member, active: list[Key], body: RemoveKeyBody, ctx: Context) -> Effects:
    """Retire the signer's active key named ``body.name``, unless it is the last."""
    _assert_active_keys(signer.id, active)
    named = [key for key in active if key.name == body.name]
    if not named:
        raise Refusal("key-not-found", f"member {signer.id} has no active key named {body.name!r}")
    (removed,) = named
    rest = [key for key in active if key.key_id != removed.key_id]
    if not rest:
        raise Refusal("last-key", "this is the member's last active key: add another first")
    retired = replace(removed, retired_seq=ctx.seq)
    if removed.key_id != signer.key_id:
        return {"keys": [retired.wire()]}
    primary = min(rest, key=_by_age)
    member = replace(signer, key_id=primary.key_id, public_key=primary.public_key)
    return {"members": [member.wire()], "keys": [retired.wire()]}


def reset_key(
    target: Member | None,
    active: list[Key],
    key_owner: str | None,
    body: ResetKeyBody,
    ctx: Context,
) -> Effects:
    """The operator replaces every active key of ``target`` by one new key (its identity
    checked out of band; ``body.reason`` says how, in the journal)."""
    if target is None:
        raise Refusal("member-not-found", "no member with this id")
    _assert_active_keys(target.id, active)
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already registered to a member")
    new_key = Key(key_id_of(body.public_key), target.id, body.public_key, ctx.seq, None, body.name)
    retired = [replace(key, retired_seq=ctx.seq) for key in sorted(active, key=_by_age)]
    member = replace(target, key_id=new_key.key_id, public_key=new_key.public_key)
    return {
        "members": [member.wire()],
        "keys": [key.wire() for key in retired] + [new_key.wire()],
    }


def _by_age(key: Key) -> tuple[int, str]:
    return key.added_seq, key.key_id


def _assert_active_keys(member_id: str, active: list[Key]) -> None:
    """The loader gave the member's active keys, which always hold its primary key."""
    assert active and all(key.member == member_id and key.retired_seq is None for key in active), (
        member_id,
        active,
    )
    assert len({key.name for key in active}) == len(active), active
