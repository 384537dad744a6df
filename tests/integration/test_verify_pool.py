"""The auditor's chain pass over a pool of processes finds exactly what it finds alone,
and never takes a worker's word for a signature under a key the journal did not give."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from ledger import verify_pool
from ledger.db import snapshot
from ledger.keys import public_key_b64, sign
from ledger.repository import Repository
from ledger.verify import Report, verify
from tests.conftest import World
from tests.integration.test_audit import rehash_from
from tests.integration.test_journal import _drop_trigger, populate, stored_rows


def audit(engine: Engine, workers: int) -> Report:
    with snapshot(engine) as conn, conn.begin():
        return verify(Repository(conn), reexecute=False, workers=workers)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of two rows, so that a short journal is checked in many tasks."""
    monkeypatch.setattr(verify_pool, "CHUNK_ENTRIES", 2)


def test_a_sound_journal_passes_in_a_pool(world: World, engine: Engine, small_chunks: None) -> None:
    populate(world, 6)
    alone, pooled = audit(engine, 1), audit(engine, 2)
    assert alone.ok and pooled.ok, (alone.problems, pooled.problems)
    assert (
        (pooled.entries, pooled.head_hash)
        == (alone.entries, alone.head_hash)
        == (
            7,
            stored_rows(engine)[-1].entry_hash,
        )
    )


def _rename(engine: Engine) -> None:
    command = stored_rows(engine)[4].command
    rehash_from(engine, 5, {"command": command.replace('"name":"Supplier 3"', '"name":"X"')})


def _break_hash(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET entry_hash = :h WHERE seq = 4"), {"h": "f" * 64})


def _spaced_effects(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET effects = REPLACE(effects, ',', ', ') WHERE seq = 6"))


@pytest.mark.tampers
@pytest.mark.parametrize(
    ("tamper", "first"),
    [
        (_rename, "seq 5: signature does not verify"),
        (_break_hash, "seq 4: entry_hash does not match the entry's content"),
        (_spaced_effects, "seq 6: stored effects text is not in canonical form"),
    ],
)
def test_the_pool_reports_the_first_problem_as_one_process_does(
    world: World,
    engine: Engine,
    small_chunks: None,
    tamper: Callable[[Engine], None],
    first: str,
) -> None:
    populate(world, 6)
    _drop_trigger(engine)
    tamper(engine)
    alone, pooled = audit(engine, 1), audit(engine, 2)
    assert [str(p) for p in pooled.problems] == [str(p) for p in alone.problems]
    assert str(pooled.problems[0]).startswith(first), pooled.problems


@pytest.mark.tampers
def test_a_signature_by_a_key_put_in_the_keys_table_is_not_taken(
    world: World, engine: Engine, small_chunks: None
) -> None:
    """An insider rewrites a command, signs it with a key of their own, recomputes the
    chain, and puts that key in the (editable) keys table under the signer's key id. A
    worker, told the table's keys, finds the signature good; the walk must not take it,
    for the journal gave the signer another key."""
    populate(world, 6)
    _drop_trigger(engine)
    row = stored_rows(engine)[4]
    forged = json.loads(row.command) | {"body": json.loads(row.command)["body"] | {"name": "X"}}
    forged_text = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    insider = Ed25519PrivateKey.generate()
    rehash_from(
        engine, 5, {"command": forged_text, "signature": sign(insider, forged_text.encode())}
    )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE member_keys SET public_key = :k WHERE key_id = :id"),
            {"k": public_key_b64(insider.public_key()), "id": forged["key_id"]},
        )
    report = audit(engine, 2)
    assert str(report.problems[0]).startswith("seq 5: signature does not verify"), report.problems
