"""The sequencer: one bad command fails alone, a rule's undeclared refusal is our bug,
and a full queue is refused at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from ledger.catalog import CATALOG, CommandType
from ledger.errors import Refusal
from ledger.repository import Repository
from ledger.sequencer import Sequencer
from ledger.service import Receipt
from tests.conftest import World
from tests.helpers import IdBody, declare_unprojectable


def _admit(world: World, name: str) -> dict[str, Any]:
    from tests.conftest import new_actor

    actor = new_actor()
    body = {"id": actor.id, "name": name, "roles": ["supplier"], "public_key": actor.public_key}
    return world.client(world.operator).envelope("member.admit", body)


def test_a_batch_the_database_refuses_is_applied_again_one_command_at_a_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = declare_unprojectable(monkeypatch)
    operator = world.client(world.operator)
    before = world.ledger.head()
    assert before is not None
    envelopes = [
        _admit(world, "First"),
        operator.envelope(broken, {"id": "someone"}),
        _admit(world, "Third"),
    ]
    first, broken, third = world.ledger.execute_together(envelopes)
    assert isinstance(first, Receipt) and isinstance(third, Receipt)
    assert (first.seq, third.seq) == (before.seq + 1, before.seq + 2)
    assert isinstance(broken, DBAPIError)
    assert world.ledger.head().seq == before.seq + 2  # type: ignore[union-attr]
    assert world.ledger.verify().ok


def test_a_refusal_a_command_type_did_not_declare_is_an_assertion(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(repo: Any, cmd: Any, signer: Any, ctx: Any) -> dict[str, Any]:
        raise Refusal("invoice-overused", "a refusal this type never declared")

    kind = CommandType("test.undeclared", IdBody, frozenset(), refuses, frozenset(), "x")
    monkeypatch.setitem(CATALOG, "test.undeclared", kind)
    before = world.ledger.head()
    envelope = world.client(world.operator).envelope("test.undeclared", {"id": "x"})
    with pytest.raises(AssertionError, match="undeclared invoice-overused"):
        world.ledger.execute(envelope)
    assert world.ledger.head() == before


def test_a_declared_refusal_is_answered_and_writes_nothing(world: World) -> None:
    before = world.ledger.head()
    envelope = world.client(world.operator).envelope("member.suspend", {"id": world.operator.id})
    with pytest.raises(Refusal) as refused:
        world.ledger.execute(envelope)
    assert refused.value.type == "invalid-member-state"
    assert world.ledger.head() == before


def test_past_its_queue_the_sequencer_refuses_at_once(world: World) -> None:
    release, started = threading.Event(), threading.Event()

    def blocks(batch: Any) -> None:
        started.set()
        release.wait(10)

    sequencer = Sequencer(world.ledger.engine.connect, batch_max=1, queue_max=1)
    try:
        running = sequencer.submit(blocks)
        assert started.wait(10)
        queued = sequencer.submit(lambda batch: batch.head.seq)
        with pytest.raises(Refusal) as refused:
            sequencer.submit(lambda batch: None)
        assert refused.value.type == "unavailable"
        release.set()
        assert running.result(10) is None
        with world.ledger.engine.connect() as conn:
            head = Repository(conn).head()
        assert head is not None and queued.result(10) == head.seq
    finally:
        release.set()
        sequencer.close()


def test_in_one_batch_a_resubmission_gets_the_receipt_and_a_reused_nonce_is_refused(
    world: World,
) -> None:
    envelope = _admit(world, "Once")
    nonce = envelope["command"]["nonce"]
    other = world.client(world.operator).envelope(
        "member.suspend", {"id": envelope["command"]["body"]["id"]}, nonce=nonce
    )
    first, again, reused = world.ledger.execute_together([envelope, envelope, other])
    assert isinstance(first, Receipt) and isinstance(again, Receipt)
    assert again.replayed and (again.seq, again.entry_hash) == (first.seq, first.entry_hash)
    assert isinstance(reused, Refusal) and reused.type == "replayed-nonce"
    assert world.ledger.head().seq == first.seq  # type: ignore[union-attr]


def test_a_command_cancelled_while_queued_is_not_applied_and_the_others_are(
    world: World,
) -> None:
    release, started = threading.Event(), threading.Event()

    def blocks(batch: Any) -> None:
        started.set()
        release.wait(10)

    ledger = world.ledger
    before = ledger.head()
    assert before is not None
    running = ledger.sequencer.submit(blocks)
    assert started.wait(10)
    cancelled, kept = (_admit(world, name) for name in ("Cancelled", "Kept"))
    first = ledger.sequence(_prepared(world, cancelled))
    second = ledger.sequence(_prepared(world, kept))
    assert first.cancel()
    release.set()
    running.result(10)
    assert second.result(10).seq == before.seq + 1
    assert ledger.execute(_admit(world, "After")).seq == before.seq + 2  # still serving
    assert ledger.verify().ok


def _prepared(world: World, envelope: dict[str, Any]) -> Any:
    prepared = world.ledger.prepare(world.ledger.parse(envelope))
    assert prepared is not None and not isinstance(prepared, Receipt)
    return prepared


def test_two_sequencers_on_one_database_keep_the_merkle_tree_whole(world: World) -> None:
    """Each sequencer keeps the tree's frontier between its batches; when the other has
    appended since, it must read it again. Every stored node is checked against the tree
    computed here from the stored entries alone (tests.rfc9162)."""
    import hashlib
    import json

    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from api.app import create_app
    from ledger.service import Ledger
    from tests import rfc9162

    other = Ledger(world.ledger.engine, world.ledger.settings, world.clock)
    with TestClient(create_app(other), raise_server_exceptions=False) as http:
        second = World(http, other, world.operator, world.clock)
        for i in range(9):
            (world if i % 3 else second).admit("supplier", name=f"S{i}")
    other.close()
    with world.ledger.engine.connect() as conn:
        entries = conn.execute(text("SELECT * FROM entries ORDER BY seq")).all()
        nodes = conn.execute(text("SELECT level, idx, hash FROM merkle_nodes")).all()
    leaves = []
    for row in entries:
        hashed = {
            "seq": row.seq,
            "prev_hash": row.prev_hash,
            "recorded_at": row.recorded_at,
            "command": json.loads(row.command),
            "signature": row.signature,
            "effects": json.loads(row.effects),
        }
        data = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(data.encode()).hexdigest() == row.entry_hash
        leaves.append(rfc9162.leaf(data.encode()))
    expected = {
        (level, idx): rfc9162.mth(leaves[idx << level : (idx + 1) << level])
        for level in range(len(leaves).bit_length())
        for idx in range(len(leaves) >> level)
    }
    assert {(n.level, n.idx): bytes(n.hash) for n in nodes} == expected
