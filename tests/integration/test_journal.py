"""The journal on a real database: hashes, links, triggers, tamper detection, atomicity."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.errors import Refusal
from ledger.models import metadata
from ledger.service import Ledger
from tests.conftest import ON_POSTGRES, World
from tests.helpers import declare_unprojectable

ENTRY_FIELDS = ("seq", "prev_hash", "recorded_at", "command", "signature", "effects")


def independent_hash(row: Any) -> str:
    """The entry hash, recomputed without the ledger's code: for our values (ASCII keys,
    no floats) RFC 8785 is sorted keys, no white space, UTF-8 as is."""
    entry = {
        "seq": row.seq,
        "prev_hash": row.prev_hash,
        "recorded_at": row.recorded_at,
        "command": json.loads(row.command),
        "signature": row.signature,
        "effects": json.loads(row.effects),
    }
    data = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def populate(world: World, count: int = 4) -> None:
    for i in range(count):
        world.admit("supplier", name=f"Supplier {i}")


def stored_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM entries ORDER BY seq")))


def test_stored_hashes_and_links_match_an_independent_computation(
    world: World, engine: Engine
) -> None:
    populate(world)
    rows = stored_rows(engine)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == "0" * 64
    for previous, row in itertools.pairwise(rows):
        assert row.prev_hash == previous.entry_hash
    for row in rows:
        assert row.entry_hash == independent_hash(row)


def _drop_trigger(engine: Engine) -> None:
    with engine.begin() as conn:
        if ON_POSTGRES:
            conn.execute(text("DROP TRIGGER entries_no_update_delete ON entries"))
        else:
            conn.execute(text("DROP TRIGGER entries_no_update"))
            conn.execute(text("DROP TRIGGER entries_no_delete"))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entries SET recorded_at = 'x' WHERE seq = 2",
        "DELETE FROM entries WHERE seq = 2",
        "UPDATE entries SET seq = seq + 100",
    ],
)
def test_the_database_refuses_to_rewrite_entries(
    world: World, engine: Engine, statement: str
) -> None:
    populate(world, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert len(stored_rows(engine)) == 3


def test_the_database_refuses_to_empty_the_journal(world: World, engine: Engine) -> None:
    """PostgreSQL's TRUNCATE skips row triggers (a statement trigger refuses it); SQLite's
    unqualified DELETE, its truncate, still fires the row trigger."""
    populate(world, 2)
    statement = "TRUNCATE entries" if ON_POSTGRES else "DELETE FROM entries"
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert len(stored_rows(engine)) == 3


CONTENT_CHANGED = "entry_hash does not match the entry's content"
# Each tamper, and the check of the auditor that must catch it first. Everything an entry
# hash covers (docs/architecture.md) is caught by the hash; the hash itself by the next
# link or the head; the columns outside the hash by their comparison with the command.
TAMPERS: dict[str, tuple[str, str]] = {
    "seq": ("seq + 1000", "entry has seq "),
    "prev_hash": ("'" + "1" * 64 + "'", "prev_hash does not match the previous entry's hash"),
    "entry_hash": ("'" + "2" * 64 + "'", CONTENT_CHANGED),
    "recorded_at": ("'2020-01-01T00:00:00.000000Z'", CONTENT_CHANGED),
    "type": ("'member.suspend'", "type/signer/nonce columns disagree with the signed command"),
    "signer": ("'91350100M000100Y43'", "type/signer/nonce columns disagree"),
    "nonce": ("'AAAAAAAAAAAAAAAAAAAAAAAA'", "type/signer/nonce columns disagree"),
    "command": ('REPLACE(command, \'"name":"\', \'"name":"X\')', CONTENT_CHANGED),
    "signature": ("'AAAA'", CONTENT_CHANGED),
    "effects": (
        'REPLACE(effects, \'"status":"active"\', \'"status":"suspended"\')',
        CONTENT_CHANGED,
    ),
}


@pytest.mark.tampers
@pytest.mark.parametrize("target_seq", [1, 3, 5])
@pytest.mark.parametrize("field", sorted(TAMPERS))
def test_verify_reports_a_tampered_field_at_exactly_its_seq(
    world: World, engine: Engine, database_url: str, field: str, target_seq: int
) -> None:
    populate(world, 4)  # seqs 1..5
    runner = CliRunner()
    assert runner.invoke(cli_app, ["verify", "--db", database_url]).exit_code == 0
    _drop_trigger(engine)
    with engine.begin() as conn:
        before = conn.execute(
            text(f"SELECT {field} FROM entries WHERE seq = :s"), {"s": target_seq}
        ).scalar()
        conn.execute(
            text(f"UPDATE entries SET {field} = {TAMPERS[field][0]} WHERE seq = :s"),
            {"s": target_seq},
        )
        after = conn.execute(
            text(f"SELECT {field} FROM entries ORDER BY seq LIMIT 1 OFFSET :o"),
            {"o": target_seq - 1},
        ).scalar()
    assert before != after, "the tamper must change the stored value"
    result = runner.invoke(cli_app, ["verify", "--db", database_url])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"seq {target_seq}: {TAMPERS[field][1]}"), result.output


@pytest.mark.tampers
def test_verify_finds_a_projection_row_edited_behind_the_services_back(
    world: World, engine: Engine
) -> None:
    populate(world, 3)
    victim = world.admit("supplier", name="Honest Ltd")
    seq = world.ledger.head().seq  # type: ignore[union-attr]
    populate(world, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE members SET name = 'Forged' WHERE id = :id"), {"id": victim.id})
    report = world.ledger.verify()
    assert not report.ok
    assert report.problems[0].seq == seq
    assert "members" in report.problems[0].message and "name" in report.problems[0].message


@pytest.mark.tampers
def test_verify_cli_in_a_real_process(world: World, engine: Engine, database_url: str) -> None:
    populate(world, 2)
    ok = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", "--db", database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: 3 entries")
    _drop_trigger(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET recorded_at = 'x' WHERE seq = 2"))
    bad = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", "--db", database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stdout.startswith("seq 2: ")


def test_a_failure_after_the_append_leaves_neither_entry_nor_projection(
    world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule whose effects cannot be projected (NOT NULL violated) rolls back the entry."""

    broken = declare_unprojectable(monkeypatch)
    before = stored_rows(engine)
    envelope = world.client(world.operator).envelope(broken, {"id": "someone"})
    with pytest.raises(DBAPIError):
        world.ledger.execute(envelope)
    assert stored_rows(engine) == before
    assert world.ledger.head().seq == len(before)  # type: ignore[union-attr]
    assert world.ledger.verify().ok


def test_genesis_only_once(world: World, ledger: Ledger) -> None:
    with pytest.raises(Refusal) as refused:
        ledger.genesis(world.operator.id, "Again", world.operator.public_key)
    assert refused.value.type == "already-initialised"


def test_commands_before_genesis_are_refused(ledger: Ledger, clock: Any) -> None:
    from ledger.keys import generate_private_key
    from ledger.signing import sign_command
    from tests.conftest import new_member_id

    envelope = sign_command(
        generate_private_key(),
        new_member_id(),
        "member.suspend",
        {"id": new_member_id()},
        issued_at=clock(),
        ledger="0" * 64,
    )
    with pytest.raises(Refusal) as refused:
        ledger.execute(envelope)
    # Before genesis there is no ledger id to sign for: refused before any lock is taken.
    assert refused.value.type == "not-initialised"
    assert ledger.head() is None


def test_the_migrations_build_exactly_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_migrations_key_each_entity_table_as_declared(engine: Engine) -> None:
    # compare_metadata does not compare primary keys: the upserts' conflict targets do.
    from sqlalchemy import inspect

    from ledger.entities import ENTITIES

    inspector = inspect(engine)
    for entity in ENTITIES.values():
        migrated = inspector.get_pk_constraint(entity.table.name)["constrained_columns"]
        assert migrated == list(entity.key_columns), entity.collection
