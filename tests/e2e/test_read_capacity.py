"""Reads never wait behind writes: with the write lock held and many more writes queued
behind it than the server has worker threads, a signed read and `/healthz` still answer
within 1 s, and the writes all go through once the lock is released.

A bounded load check (the issue asks for "within 1 s"), loopback only.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from api.client import DccClient
from tests.conftest import ON_POSTGRES, Chain, World, new_actor
from tests.e2e.conftest import serve

WRITERS = 60  # more than any default worker-thread pool (anyio's is 40)
ANSWER_S_MAX = 1.0
WATCH_S = 3.0


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Hold the ledger's write lock from outside the server, as a stuck writer would."""
    if not ON_POSTGRES:
        path = make_url(database_url).database
        assert path is not None
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection, connection.begin() as transaction:
        connection.execute(text("SELECT seq FROM ledger_head FOR UPDATE"))
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()


def test_reads_and_healthz_answer_while_writes_wait_for_the_lock(
    world: World, database_url: str
) -> None:
    reader = world.operator
    envelopes = [admit(world) for _ in range(WRITERS)]
    server = serve(database_url)
    base = next(server)
    try:
        with httpx.Client(base_url=base, timeout=ANSWER_S_MAX) as http:
            assert_reads_answer(http, reader.id, world, watch_s=0.1)  # warm, unloaded
            with write_lock_held(database_url):
                writers, results = start_writers(base, envelopes)
                assert_reads_answer(http, reader.id, world, watch_s=WATCH_S)
            for thread in writers:
                thread.join(timeout=60)
    finally:
        server.close()
    statuses = Counter(status for status in results if status is not None)
    assert statuses == Counter({201: WRITERS}), statuses


def admit(world: World) -> dict[str, Any]:
    newcomer = new_actor()
    body = {
        "id": newcomer.id,
        "name": "Queued Supplier",
        "roles": ["supplier"],
        "public_key": newcomer.public_key,
    }
    return world.client(world.operator).envelope("member.admit", body)


def start_writers(
    base: str, envelopes: list[dict[str, Any]]
) -> tuple[list[threading.Thread], list[int | None]]:
    results: list[int | None] = [None] * len(envelopes)

    def write(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            results[index] = http.post("/v1/commands", json=envelopes[index]).status_code

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(envelopes))]
    for thread in threads:
        thread.start()
    return threads, results


def assert_reads_answer(http: httpx.Client, member: str, world: World, watch_s: float) -> None:
    """For ``watch_s``, a signed read and `/healthz` answer, each within 1 s."""
    client = DccClient(http, world.operator.id, world.operator.key, clock=world.clock)
    deadline = time.monotonic() + watch_s
    while True:
        for name, call in (
            ("signed read", lambda: client.get(f"/v1/members/{member}")),
            ("/healthz", lambda: http.get("/healthz")),
        ):
            started = time.monotonic()
            try:
                response = call()
            except httpx.TimeoutException:
                raise AssertionError(f"{name} waited over {ANSWER_S_MAX} s behind writes") from None
            assert response.status_code == 200, (name, response.text)
            assert time.monotonic() - started <= ANSWER_S_MAX
        if time.monotonic() >= deadline:
            return
        time.sleep(0.2)


TOUCHING_READERS = 24  # more than the read threads (16): each would hold one


# Written by a server with a 1 s pending deadline: not re-executable under the
# test ledger's settings (settings are not in the journal).
def test_reads_that_must_record_an_expiry_do_not_hold_read_threads(
    chain: Chain, database_url: str
) -> None:
    """A read that shows a pending piece past its deadline first records its expiry, a
    write that waits for the write lock; many such reads must not stall the others."""
    server = serve(database_url, env={"DCC_PENDING_EXPIRY_S": "1", "DCC_SWEEP_INTERVAL_S": "0"})
    base = next(server)
    try:
        with httpx.Client(base_url=base, timeout=ANSWER_S_MAX) as http:
            live = Chain.__new__(Chain)
            live.__dict__.update(chain.__dict__, http=http)
            issued = live.issue("100.00")  # pending for s1, due 1 s after it is written
            assert issued.status_code == 201, issued.text
            piece = issued.json()["effects"]["certificates"][0]
            wait_until_past(piece["expires_at"])
            with write_lock_held(database_url):
                readers, results = start_touching_reads(base, chain, piece["id"])
                assert_reads_answer(http, chain.operator.id, chain, watch_s=WATCH_S)
            for thread in readers:
                thread.join(timeout=60)
    finally:
        server.close()
    assert results == ["expired"] * TOUCHING_READERS, Counter(results)


def wait_until_past(moment_text: str) -> None:
    moment = datetime.fromisoformat(moment_text.replace("Z", "+00:00"))
    while datetime.now(UTC) <= moment:
        time.sleep(0.05)


def start_touching_reads(
    base: str, chain: Chain, piece_id: str
) -> tuple[list[threading.Thread], list[str | None]]:
    results: list[str | None] = [None] * TOUCHING_READERS

    def read(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            client = DccClient(http, chain.core.id, chain.core.key, clock=chain.clock)
            response = client.get(f"/v1/certificates/{piece_id}")
            results[index] = response.json().get("state")

    threads = [threading.Thread(target=read, args=(i,)) for i in range(TOUCHING_READERS)]
    for thread in threads:
        thread.start()
    return threads, results
