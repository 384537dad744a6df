"""Revision 0004 on a database written before invoices had parties."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ledger.db import make_engine
from migrations.runner import upgrade
from tests.conftest import Template, pg_database

_names = itertools.count(1)


@pytest.fixture
def empty_engine(template: Template, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no schema at all (not the migrated template)."""
    if template.kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    for url in pg_database(f"{template.location}_old_{next(_names)}"):
        engine = make_engine(url)
        yield engine
        engine.dispose()


def test_existing_invoices_move_to_the_legacy_namespace_unchanged(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO invoices (no, amount_fen, used_fen, updated_seq) VALUES "
                "('INV-1', 10000, 6000, 5), ('inv-1', 500, 0, 9)"
            )
        )
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT buyer, seller, no, amount_fen, used_fen, updated_seq FROM invoices")
        ).all()
    # Exactly what replaying their entries rebuilds: those entries name no parties.
    assert sorted(tuple(row) for row in rows) == [
        ("", "", "INV-1", 10000, 6000, 5),
        ("", "", "inv-1", 500, 0, 9),
    ]
