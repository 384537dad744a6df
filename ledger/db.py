"""Engines for the two supported databases: SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer, with
``synchronous=FULL`` so a committed command survives a power cut, not only a crash.
A write transaction starts with ``BEGIN IMMEDIATE``: it takes the database's write
lock up front, so two writers never both read the chain head and then collide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url

DEFAULT_DATABASE_URL = "sqlite:///./dcc.db"
SQLITE_BUSY_TIMEOUT_S = 30
WRITE_OPTION = "dcc_write"


def database_url(explicit: str | None = None) -> str:
    """The database URL: ``explicit``, else ``DCC_DATABASE_URL``, else ``./dcc.db``. A
    plain file path (no ``scheme://``) is a SQLite file:

        >>> database_url("./x.db"), database_url("/var/dcc/x.db")
        ('sqlite:///./x.db', 'sqlite:////var/dcc/x.db')
    """
    url = explicit or os.environ.get("DCC_DATABASE_URL") or DEFAULT_DATABASE_URL
    return url if "://" in url else f"sqlite:///{url}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def snapshot(engine: Engine) -> Connection:
    """A connection whose transaction reads one snapshot of the whole database, for
    reads of many statements that must agree (the auditor). A SQLite read transaction is
    a snapshot already; PostgreSQL's default, READ COMMITTED, is per statement."""
    connection = engine.connect()
    if is_sqlite(engine):
        return connection
    return connection.execution_options(isolation_level="REPEATABLE READ")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A short write transaction on ``engine`` outside the sequencer (``BEGIN IMMEDIATE``
    on SQLite, so it waits its turn for the write lock rather than failing to upgrade):
    for operational state only, never the journal."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


def pool_options(pool_max: int, timeout_s: float) -> dict[str, Any]:
    """Engine options for a pool of at most ``pool_max`` connections (no overflow: the
    pool is the cap) that waits ``timeout_s`` for one, then raises ``TimeoutError``."""
    return {"pool_size": pool_max, "max_overflow": 0, "pool_timeout": timeout_s}


def is_memory(url: str) -> bool:
    """An in-memory SQLite database lives in one connection; it cannot have a second engine."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def engine_like(engine: Engine, **kwargs: Any) -> Engine:
    """A second engine on the same database as ``engine``, with its own pool."""
    return make_engine(engine.url.render_as_string(hide_password=False), **kwargs)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (the pysqlite driver
        # would otherwise begin lazily, and without IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
