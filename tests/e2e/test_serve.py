"""`dcc serve` on a database that has never been migrated: it migrates first."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from ledger.db import make_engine
from tests.conftest import ON_POSTGRES, pg_database
from tests.e2e.conftest import serve

_names = itertools.count(1)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on the suite's kind of server."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from pg_database(f"dcc_empty_{os.getpid()}_{next(_names)}")


def test_serve_migrates_an_empty_database_before_serving(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    assert "entries" not in inspect(engine).get_table_names()
    server = serve(empty_database_url)
    base = next(server)
    try:
        health = httpx.get(f"{base}/healthz", timeout=5)
        # Up, migrated, but not ready: no genesis entry yet.
        assert health.status_code == 503, health.text
        assert health.json() == {
            "status": "not-initialised",
            "seq": 0,
            "clock_offset_s": 0,
            "detail": "the ledger has no genesis entry: run `dcc init` (docs/operations.md)",
        }
        docs = httpx.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    finally:
        server.close()
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"entries", "ledger_head", "members", "certificates", "alembic_version"} <= tables
