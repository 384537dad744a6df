"""Shared fixtures: a fresh, migrated real database per test, on SQLite or PostgreSQL.

The database is chosen by DCC_DATABASE_URL, as for the service: unset, every test gets
its own SQLite file copied from a migrated template; set to a PostgreSQL URL, every
test gets its own database created from a migrated template database on that server.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import settings
from sqlalchemy import Engine, make_url, text

from api.app import create_app
from api.client import DccClient
from ledger.db import make_engine
from ledger.keys import generate_private_key, public_key_b64
from ledger.service import Ledger
from ledger.uscc import make_uscc
from migrations.runner import upgrade

DATABASE_URL = os.environ.get("DCC_DATABASE_URL", "")

# Hypothesis profiles. `make test` (and CI) runs "ci": derandomised, so every run draws the
# same examples and a red build is reproducible, with no example database to replay a
# local failure into a CI run. `make test-deep` runs "deep": many more examples, drawn at
# random each time, kept in .hypothesis/ so a failure found once is tried first next time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("deep", max_examples=1000, derandomize=False, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
ON_POSTGRES = DATABASE_URL.startswith("postgresql")
_counter = itertools.count(1)


# Every in-process test starts at this instant, a Monday 09:00 in China Standard Time, and
# time moves only when the test moves it: deadlines are tested at the exact microsecond,
# and nothing depends on the hour the suite happens to run.
FROZEN_START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Clock:
    """The server's and the clients' clock, frozen: it moves only when a test moves it."""

    def __init__(self, start: datetime = FROZEN_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        assert moment.tzinfo is not None, moment
        self.now = moment


class WallClock(Clock):
    """Real time, for clients of a real server process (which reads the real clock)."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))

    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def advance(self, **kwargs: float) -> None:
        raise AssertionError("a real server's clock cannot be moved from a test")


def _autocommit(url: str) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _pg_url(name: str) -> str:
    return make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Template:
    kind: str  # "sqlite" or "postgresql"
    location: str  # a file path, or a template database name


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    if not ON_POSTGRES:
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield Template("sqlite", str(path))
        return
    base = make_url(DATABASE_URL).database
    name = f"{base}_tpl_{os.getpid()}"
    admin = _autocommit(_pg_url("postgres"))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield Template("postgresql", name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(template: Template, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated, empty database for this test."""
    with fresh_database(template, tmp_path) as url:
        yield url


@contextmanager
def fresh_database(template: Template, directory: Path) -> Iterator[str]:
    """A new migrated database copied from ``template`` (a file in ``directory`` on
    SQLite); dropped or deleted on exit."""
    number = next(_counter)
    if template.kind == "sqlite":
        path = directory / f"dcc-{number}.db"
        shutil.copyfile(template.location, path)
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in directory.glob(f"dcc-{number}.db*"):
                leftover.unlink()
        return
    yield from pg_database(f"{template.location}_{number}", template.location)


def pg_database(name: str, template: str | None = None) -> Iterator[str]:
    """Create database ``name`` on the PostgreSQL server (a copy of ``template``, or
    empty), yield its URL, drop it after."""
    admin = _autocommit(_pg_url("postgres"))
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(engine: Engine, clock: Clock, request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """The ledger under test. After the test, ``dcc verify``'s check must pass: whatever
    the test did and whatever was refused, the journal replays to the stored projections
    (a test that tampers with the database on purpose is marked ``tampers``), and every
    command re-executes to its effects under the rule settings the journal recorded
    before it, whichever deployments wrote it."""
    ledger = Ledger(engine, clock=clock)
    yield ledger
    try:
        if request.node.get_closest_marker("tampers") is None:
            report = ledger.verify()
            assert report.ok, f"dcc verify fails after the test: {report.problems[:3]}"
    finally:
        ledger.close()


_ids = itertools.count(1)


def new_member_id() -> str:
    """A fresh valid unified social credit code."""
    return make_uscc(f"913501{next(_ids):011d}")


@dataclass(frozen=True)
class Actor:
    id: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return public_key_b64(self.key.public_key())


def new_actor() -> Actor:
    return Actor(new_member_id(), generate_private_key())


def seeded_actor(number: int) -> Actor:
    """Actor ``number`` of a deterministic cast: the same id and key in every run."""
    seed = hashlib.sha256(f"dcc test actor {number}".encode()).digest()
    return Actor(make_uscc(f"913502{number:011d}"), Ed25519PrivateKey.from_private_bytes(seed))


@pytest.fixture
def operator(ledger: Ledger) -> Actor:
    actor = new_actor()
    genesis = ledger.genesis(actor.id, "Platform operator", actor.public_key)
    assert genesis.seq == 1, genesis
    return actor


@pytest.fixture
def http(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        yield client


class World:
    """An initialised ledger behind the real app, with helpers to act as members."""

    def __init__(self, http: TestClient, ledger: Ledger, operator: Actor, clock: Clock) -> None:
        self.http = http
        self.ledger = ledger
        self.operator = operator
        self.clock = clock

    def client(self, actor: Actor) -> DccClient:
        return DccClient(
            self.http, actor.id, actor.key, clock=self.clock, ledger=self.ledger.ledger_id()
        )

    def admit(self, *roles: str, name: str = "Member") -> Actor:
        actor = new_actor()
        response = self.client(self.operator).submit(
            "member.admit",
            {"id": actor.id, "name": name, "roles": list(roles), "public_key": actor.public_key},
        )
        assert response.status_code == 201, response.text
        return actor


@pytest.fixture
def world(http: TestClient, ledger: Ledger, operator: Actor, clock: Clock) -> World:
    return World(http, ledger, operator, clock)


def business_date(clock: Clock, days: int = 0) -> str:
    """A date in China Standard Time, ``days`` from the clock's today."""
    moment = clock().astimezone(timezone(timedelta(hours=8)))
    return (moment.date() + timedelta(days=days)).isoformat()


class Chain(World):
    """A small supply chain: a core enterprise with an issuance limit, three suppliers, a bank."""

    LIMIT = "1000000.00"

    def __init__(self, world: World) -> None:
        super().__init__(world.http, world.ledger, world.operator, world.clock)
        self.core = self.admit("core", name="Core Builder Group")
        self.s1 = self.admit("supplier", name="Tier 1 Steel")
        self.s2 = self.admit("supplier", name="Tier 2 Wire")
        self.s3 = self.admit("supplier", name="Tier 3 Ore")
        self.bank = self.admit("bank", name="Bank")
        response = self.client(self.operator).submit(
            "limit.set", {"member": self.core.id, "amount": self.LIMIT}
        )
        assert response.status_code == 201, response.text
        self._invoice = itertools.count(1)

    def new_invoice(self, amount: str) -> dict[str, str]:
        return {"no": f"{next(self._invoice):020d}{id(self) % 997:03d}", "amount": amount}

    def issue(self, amount: str, to: Actor | None = None, days: int = 90, **extra: Any) -> Any:
        trade = extra.pop("trade", None) or {
            "contract_no": "HT-2026-001",
            "invoices": [self.new_invoice(amount)],
        }
        body = {
            "to": (to or self.s1).id,
            "amount": amount,
            "maturity": business_date(self.clock, days),
            "trade": trade,
            **extra,
        }
        return self.client(self.core).submit("certificate.issue", body)

    def issued(self, amount: str, to: Actor | None = None, **extra: Any) -> str:
        """Issue and accept; the root id."""
        to = to or self.s1
        response = self.issue(amount, to, **extra)
        assert response.status_code == 201, response.text
        root_id: str = response.json()["effects"]["certificates"][0]["id"]
        accepted = self.client(to).submit("certificate.accept", {"id": root_id})
        assert accepted.status_code == 201, accepted.text
        return root_id

    def transfer(
        self,
        sender: Actor,
        inputs: list[str],
        outputs: list[tuple[Actor, str]],
        invoices: list[dict[str, str]] | None = None,
    ) -> Any:
        if invoices is None:  # an invoice has one seller: one for each seller paid
            paid: dict[str, int] = {}
            for who, amount in outputs:
                if who.id != sender.id:
                    paid[who.id] = paid.get(who.id, 0) + int(amount.replace(".", ""))
            invoices = [self.new_invoice(f"{f // 100}.{f % 100:02d}") for f in paid.values()]
        body = {
            "inputs": inputs,
            "outputs": [{"to": who.id, "amount": amount} for who, amount in outputs],
            "trade": {"contract_no": "HT-SUB-1", "invoices": invoices},
        }
        return self.client(sender).submit("certificate.transfer", body)


@pytest.fixture
def chain(world: World) -> Chain:
    return Chain(world)
