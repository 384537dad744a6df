"""Verifying the ledger over HTTP: entries, inclusion and consistency proofs, checkpoints.

Every proof is checked with the independent verifier of ``tests.rfc9162`` (not
``ledger.merkle``), against roots it computes itself from the entries it fetched.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from nacl.signing import VerifyKey

from ledger.canonical import canonical_bytes
from ledger.checkpoint import NoteError, open_checkpoint
from ledger.keys import decode_public_key, generate_private_key, public_key_b64
from tests import rfc9162
from tests.conftest import Actor, World
from tests.helpers import assert_problem, ok, publish_log_key

SIZE = 64


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _leaves(world: World, size: int) -> list[bytes]:
    """Every entry fetched as the operator, checked against its entry_hash, hashed as a
    leaf: SHA-256(0x00 ‖ JCS(entry without entry_hash))."""
    leaves = []
    for seq in range(1, size + 1):
        entry = ok(world.client(world.operator).get(f"/v1/ledger/entries/{seq}"))
        data = canonical_bytes({k: v for k, v in entry.items() if k != "entry_hash"})
        assert hashlib.sha256(data).hexdigest() == entry["entry_hash"]
        leaves.append(rfc9162.leaf(data))
    return leaves


@pytest.fixture
def grown(world: World, tmp_path: Path) -> tuple[World, list[bytes], list[Actor]]:
    publish_log_key(world, tmp_path)
    actors = [world.admit("supplier", name=f"S{i}") for i in range(SIZE - 2)]
    assert world.ledger.head().seq == SIZE  # type: ignore[union-attr]
    return world, _leaves(world, SIZE), actors


def test_every_inclusion_and_consistency_proof_to_64_verifies(
    grown: tuple[World, list[bytes], list[Actor]],
) -> None:
    world, leaves, _ = grown
    operator = world.client(world.operator)
    roots = [rfc9162.mth(leaves[:n]) for n in range(SIZE + 1)]
    for size in range(1, SIZE + 1):
        for seq in range(1, size + 1):
            got = ok(operator.get(f"/v1/ledger/proofs/inclusion?seq={seq}&size={size}"))
            assert (got["seq"], got["size"], got["leaf_index"]) == (seq, size, seq - 1)
            assert _b64(got["leaf_hash"]) == leaves[seq - 1]
            assert _b64(got["root_hash"]) == roots[size]
            proof = [_b64(p) for p in got["proof"]]
            assert rfc9162.verify_inclusion(seq - 1, size, leaves[seq - 1], proof, roots[size])
        for first in range(1, size + 1):
            got = ok(operator.get(f"/v1/ledger/proofs/consistency?from={first}&to={size}"))
            assert (got["from"], got["to"]) == (first, size)
            assert _b64(got["first_root"]) == roots[first]
            assert _b64(got["second_root"]) == roots[size]
            proof = [_b64(p) for p in got["proof"]]
            assert rfc9162.verify_consistency(first, size, roots[first], roots[size], proof)


def test_a_checkpoint_verifies_with_the_key_published_in_the_journal(
    grown: tuple[World, list[bytes], list[Actor]],
) -> None:
    world, leaves, actors = grown
    member = world.client(actors[0])
    got = ok(member.get("/v1/ledger/checkpoint"))
    # The key, pinned from the history itself: the ledger.log_key entry (seq 2).
    entry = ok(world.client(world.operator).get("/v1/ledger/entries/2"))
    assert entry["command"]["type"] == "ledger.log_key"
    published = entry["effects"]["log_keys"][-1]
    assert got["log_key"]["public_key"] == published["public_key"]
    raw = decode_public_key(published["public_key"])
    origin = f"dcc/{world.ledger.ledger_id()}"
    assert got["origin"] == origin == published["name"]
    checkpoint = open_checkpoint(got["note"], origin, raw)
    assert checkpoint.size == got["size"] == SIZE
    assert checkpoint.root_hash == _b64(got["root_hash"]) == rfc9162.mth(leaves)
    # The signature, checked without ledger.checkpoint: the text before the blank line.
    text, signature_line = got["note"].split("\n\n")
    blob = _b64(signature_line.strip().split(" ")[2])
    VerifyKey(raw).verify((text + "\n").encode(), blob[4:])
    # As a plain note, and again by size.
    plain = member.get("/v1/ledger/checkpoint", accept="text/plain")
    assert plain.status_code == 200 and plain.text == got["note"]
    assert plain.headers["content-type"].startswith("text/plain")
    assert ok(member.get(f"/v1/ledger/checkpoints/{SIZE}")) == got
    assert_problem(member.get(f"/v1/ledger/checkpoints/{SIZE - 1}"), 404, "not-found")
    # Another key does not open it.
    other = public_key_b64(generate_private_key().public_key())
    with pytest.raises(NoteError):
        open_checkpoint(got["note"], origin, decode_public_key(other))


def test_checkpoints_are_kept_and_proved_consistent(world: World, tmp_path: Path) -> None:
    publish_log_key(world, tmp_path)
    operator = world.client(world.operator)
    first = ok(operator.get("/v1/ledger/checkpoint"))
    world.admit("supplier")
    world.admit("bank")
    world.ledger.checkpoint(force=True)
    second = ok(operator.get("/v1/ledger/checkpoint"))
    assert (first["size"], second["size"]) == (2, 4)
    assert ok(operator.get("/v1/ledger/checkpoints/2")) == first
    got = ok(operator.get("/v1/ledger/proofs/consistency?from=2&to=4"))
    proof = [_b64(p) for p in got["proof"]]
    r1, r2 = _b64(first["root_hash"]), _b64(second["root_hash"])
    assert rfc9162.verify_consistency(2, 4, r1, r2, proof)


def test_a_non_party_sees_neither_the_entry_nor_its_proof(
    grown: tuple[World, list[bytes], list[Actor]],
) -> None:
    world, _, actors = grown
    own, other = 3, 4  # the admissions of actors[0] and actors[1]
    client = world.client(actors[0])
    ok(client.get(f"/v1/ledger/entries/{own}"))
    ok(client.get(f"/v1/ledger/proofs/inclusion?seq={own}&size={SIZE}"))
    assert_problem(client.get(f"/v1/ledger/entries/{other}"), 404, "not-found")
    path = f"/v1/ledger/proofs/inclusion?seq={other}&size={SIZE}"
    assert_problem(client.get(path), 404, "not-found")
    assert_problem(client.get("/v1/ledger/entries/999"), 404, "not-found")
    ok(world.client(world.operator).get(f"/v1/ledger/entries/{other}"))
    # Consistency proofs and checkpoints are anyone's.
    ok(client.get(f"/v1/ledger/proofs/consistency?from=1&to={SIZE}"))


@pytest.mark.parametrize(
    ("query", "status", "type_"),
    [
        ("inclusion?seq=0&size=3", 422, "validation"),
        ("inclusion?seq=4&size=3", 422, "validation"),
        ("inclusion?seq=x&size=3", 422, "validation"),
        ("inclusion?seq=1", 422, "validation"),
        ("inclusion?seq=1&size=-1", 422, "validation"),
        ("inclusion?seq=1&size=99999999999999999999999", 422, "validation"),
        ("inclusion?seq=1&size=9223372036854775807", 404, "not-found"),
        ("inclusion?seq=1&size=4", 404, "not-found"),
        ("consistency?from=3&to=2", 422, "validation"),
        ("consistency?from=0&to=2", 422, "validation"),
        ("consistency?from=1&to=1.5", 422, "validation"),
        ("consistency?from=1&to=4", 404, "not-found"),
    ],
)
def test_bad_proof_requests_are_named(world: World, query: str, status: int, type_: str) -> None:
    world.admit("supplier")
    world.admit("supplier")  # three entries
    assert_problem(world.client(world.operator).get(f"/v1/ledger/proofs/{query}"), status, type_)


def test_without_a_log_key_checkpoints_are_unavailable_and_nothing_else_breaks(
    world: World, tmp_path: Path
) -> None:
    world.ledger.settings = replace(world.ledger.settings, log_key_file=str(tmp_path / "none"))
    operator = world.client(world.operator)
    assert_problem(operator.get("/v1/ledger/checkpoint"), 503, "unavailable")
    world.admit("supplier")
    ok(operator.get("/v1/ledger/proofs/inclusion?seq=2&size=2"))
    assert_problem(operator.get("/v1/ledger/checkpoints/1"), 404, "not-found")


def test_the_log_key_is_never_a_members_and_rotating_retires_the_last(
    world: World, tmp_path: Path
) -> None:
    first = publish_log_key(world, tmp_path)
    operator = world.client(world.operator)
    name = f"dcc/{world.ledger.ledger_id()}"
    taken = {"name": name, "public_key": world.operator.public_key}
    assert_problem(operator.submit("ledger.log_key", taken), 409, "key-in-use")
    again = {"name": name, "public_key": first}
    assert_problem(operator.submit("ledger.log_key", again), 409, "key-in-use")
    supplier = world.admit("supplier")
    fresh = {"name": name, "public_key": public_key_b64(generate_private_key().public_key())}
    assert_problem(world.client(supplier).submit("ledger.log_key", fresh), 403, "forbidden")
    rotated = ok(operator.submit("ledger.log_key", fresh))["effects"]["log_keys"]
    assert rotated[0]["public_key"] == first and rotated[0]["retired_seq"] is not None
    assert rotated[1]["retired_seq"] is None
    # The server still holds the retired key: it signs nothing until given the new one.
    assert_problem(operator.get("/v1/ledger/checkpoint"), 503, "unavailable")
