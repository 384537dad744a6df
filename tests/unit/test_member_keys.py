"""A member's named keys without a database: add, remove, rotate and the operator's reset."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.context import Context
from ledger.errors import Refusal
from ledger.keys import generate_private_key, key_id_of, public_key_b64
from ledger.limits import KEY_NAME_LENGTH_MAX, KEY_RESET_REASON_LENGTH_MAX, KEYS_PER_MEMBER_MAX
from ledger.members import (
    ACTIVE,
    DEFAULT_KEY_NAME,
    AddKeyBody,
    Key,
    Member,
    RemoveKeyBody,
    ResetKeyBody,
    RotateKeyBody,
    add_key,
    remove_key,
    reset_key,
    rotate_key,
)
from ledger.settings import Settings

SEQ = 40
CTX = Context(SEQ, datetime(2026, 12, 1, tzinfo=UTC), "0" * 64, Settings())
MEMBER_ID = "91350100M000100Y43"


def _public() -> str:
    return public_key_b64(generate_private_key().public_key())


def _key(name: str = DEFAULT_KEY_NAME, added_seq: int = 2) -> Key:
    public = _public()
    return Key(key_id_of(public), MEMBER_ID, public, added_seq, None, name)


PRIMARY = _key()
CLERK = _key("clerk", 5)
FIRM = Member(MEMBER_ID, "Firm", ("supplier",), ACTIVE, PRIMARY.key_id, PRIMARY.public_key, 2)


def _keys(effects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key_id"]: row for row in effects["keys"]}


def test_add_key_writes_only_the_new_named_key() -> None:
    public = _public()
    effects = add_key(FIRM, [PRIMARY], None, AddKeyBody(name="treasurer", public_key=public), CTX)
    assert effects == {
        "keys": [
            {
                "key_id": key_id_of(public),
                "member": MEMBER_ID,
                "public_key": public,
                "added_seq": SEQ,
                "retired_seq": None,
                "name": "treasurer",
            }
        ]
    }


@pytest.mark.parametrize(
    ("active", "owner", "name", "refusal"),
    [
        ([PRIMARY, CLERK], None, "clerk", "key-name-taken"),
        ([PRIMARY], MEMBER_ID, "clerk", "key-in-use"),
        (
            [PRIMARY, *(_key(f"k{i}", 3 + i) for i in range(KEYS_PER_MEMBER_MAX - 1))],
            None,
            "one-more",
            "member-keys-exceeded",
        ),
    ],
)
def test_add_key_refusals(active: list[Key], owner: str | None, name: str, refusal: str) -> None:
    body = AddKeyBody(name=name, public_key=_public())
    with pytest.raises(Refusal) as refused:
        add_key(FIRM, active, owner, body, CTX)
    assert refused.value.type == refusal


def test_add_key_up_to_the_limit() -> None:
    active = [PRIMARY, *(_key(f"k{i}", 3 + i) for i in range(KEYS_PER_MEMBER_MAX - 2))]
    assert len(add_key(FIRM, active, None, AddKeyBody(name="last", public_key=_public()), CTX))


def test_remove_key_retires_it_and_keeps_the_member_record() -> None:
    effects = remove_key(FIRM, [PRIMARY, CLERK], RemoveKeyBody(name="clerk"), CTX)
    assert "members" not in effects
    assert _keys(effects)[CLERK.key_id]["retired_seq"] == SEQ
    assert len(effects["keys"]) == 1


def test_removing_the_primary_key_makes_the_oldest_other_key_primary() -> None:
    younger = _key("younger", 9)
    effects = remove_key(FIRM, [PRIMARY, younger, CLERK], RemoveKeyBody(name="primary"), CTX)
    (member,) = effects["members"]
    assert (member["key_id"], member["public_key"]) == (CLERK.key_id, CLERK.public_key)
    assert _keys(effects)[PRIMARY.key_id]["retired_seq"] == SEQ


@pytest.mark.parametrize(
    ("active", "name", "refusal"),
    [([PRIMARY], "primary", "last-key"), ([PRIMARY, CLERK], "nobody", "key-not-found")],
)
def test_remove_key_refusals(active: list[Key], name: str, refusal: str) -> None:
    with pytest.raises(Refusal) as refused:
        remove_key(FIRM, active, RemoveKeyBody(name=name), CTX)
    assert refused.value.type == refusal


def test_rotating_a_second_key_keeps_its_name_and_leaves_the_member_record() -> None:
    public = _public()
    effects = rotate_key(FIRM, CLERK, None, RotateKeyBody(public_key=public), CTX)
    assert "members" not in effects
    retired, new = effects["keys"]
    assert (retired["key_id"], retired["retired_seq"]) == (CLERK.key_id, SEQ)
    assert (new["key_id"], new["name"], new["retired_seq"]) == (key_id_of(public), "clerk", None)


def test_rotating_the_primary_key_is_as_before_names() -> None:
    """The shape every rotation had before keys were named: the default name left out."""
    public = _public()
    effects = rotate_key(FIRM, PRIMARY, None, RotateKeyBody(public_key=public), CTX)
    assert effects["members"][0]["key_id"] == key_id_of(public)
    assert [sorted(row) for row in effects["keys"]] == [
        ["added_seq", "key_id", "member", "public_key", "retired_seq"]
    ] * 2


def test_reset_retires_every_active_key_and_installs_the_new_one() -> None:
    public = _public()
    body = ResetKeyBody(member=MEMBER_ID, public_key=public, reason="ID checked in person")
    effects = reset_key(FIRM, [PRIMARY, CLERK], None, body, CTX)
    (member,) = effects["members"]
    assert (member["key_id"], member["public_key"]) == (key_id_of(public), public)
    keys = _keys(effects)
    assert keys[PRIMARY.key_id]["retired_seq"] == keys[CLERK.key_id]["retired_seq"] == SEQ
    assert keys[key_id_of(public)]["retired_seq"] is None
    assert "name" not in keys[key_id_of(public)]  # "primary", the default


@pytest.mark.parametrize(
    ("target", "owner", "refusal"),
    [(None, None, "member-not-found"), (FIRM, MEMBER_ID, "key-in-use")],
)
def test_reset_refusals(target: Member | None, owner: str | None, refusal: str) -> None:
    body = ResetKeyBody(member=MEMBER_ID, public_key=_public(), reason="lost")
    with pytest.raises(Refusal) as refused:
        reset_key(target, [PRIMARY] if target else [], owner, body, CTX)
    assert refused.value.type == refusal


@pytest.mark.parametrize(
    "fields",
    [
        {"reason": ""},
        {"reason": "x" * (KEY_RESET_REASON_LENGTH_MAX + 1)},
        {"reason": "line\nbreak"},
        {"name": "n" * (KEY_NAME_LENGTH_MAX + 1)},
        {"name": ""},
        {"reason": None},
    ],
)
def test_reset_body_bounds(fields: dict[str, Any]) -> None:
    body = {"member": MEMBER_ID, "public_key": _public(), "reason": "lost"} | fields
    if fields.get("reason", "") is None:
        del body["reason"]  # required
    with pytest.raises(ValidationError):
        ResetKeyBody.model_validate(body)


def test_a_reason_at_the_bound_is_accepted() -> None:
    body = {
        "member": MEMBER_ID,
        "public_key": _public(),
        "reason": "x" * KEY_RESET_REASON_LENGTH_MAX,
    }
    assert ResetKeyBody.model_validate(body).name == DEFAULT_KEY_NAME


def test_a_key_of_another_member_is_a_broken_invariant() -> None:
    stranger = replace(CLERK, member="91350100M000200Y03")
    with pytest.raises(AssertionError):
        remove_key(FIRM, [PRIMARY, stranger], RemoveKeyBody(name="clerk"), CTX)
