"""Time in the journal never goes back, whatever the clock reads; a shifted clock moves
every decision but not the check of signed times.

The sequencer keeps what rules see as now at or after the head entry's time
(``Batch.now``), so an NTP step back, a server restarted with a smaller
``DCC_CLOCK_OFFSET_S``, or a second server whose clock runs behind writes entries at the
head's time, and a deadline once passed in the journal stays passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from ledger.limits import CLOCK_OFFSET_S_MAX
from ledger.service import Ledger, Receipt
from ledger.settings import Settings
from tests.conftest import Chain, World, new_actor
from tests.helpers import certs, head, ok, refused
from tests.integration.test_journal import stored_rows

DAY = timedelta(days=1)


def recorded(engine: Engine) -> list[datetime]:
    """Every entry's recorded_at, in seq order."""
    return [datetime.fromisoformat(row.recorded_at) for row in stored_rows(engine)]


def assert_monotonic(engine: Engine) -> list[datetime]:
    times = recorded(engine)
    assert all(a <= b for a, b in itertools.pairwise(times)), times
    return times


def test_a_clock_set_back_records_entries_at_the_head_time_and_commands_still_work(
    chain: Chain, engine: Engine
) -> None:
    chain.clock.advance(hours=1)
    root = chain.issued("100.00")  # issued and accepted an hour after the set-up
    high = chain.clock()
    chain.clock.set(high - 2 * DAY)  # the clock steps back two days
    before = head(chain)
    ok(chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]))
    chain.admit("supplier", name="Late Supplier")
    chain.clock.advance(days=1)  # still a day behind the journal
    ok(chain.issue("10.00"))
    times = assert_monotonic(engine)
    assert times[before:] == [high] * (head(chain) - before)  # held at the head's time
    chain.clock.set(high + DAY)  # past the head again: time moves on from the clock
    chain.admit("supplier", name="Next Supplier")
    assert assert_monotonic(engine)[-1] == high + DAY
    assert chain.ledger.verify().ok


@pytest.mark.parametrize("path", ["command", "sweep", "read"])
def test_a_deadline_passed_in_the_journal_stays_passed_when_the_clock_goes_back(
    chain: Chain, engine: Engine, path: str
) -> None:
    """An entry recorded after a pending piece's deadline, then the clock set back before
    the deadline: every path that decides the deadline sees it passed."""
    [piece] = certs(chain.issue("100.00"))
    deadline = datetime.fromisoformat(piece["expires_at"])
    chain.clock.set(deadline + timedelta(seconds=1))
    chain.admit("supplier", name="After the deadline")  # does not touch the piece
    chain.clock.set(deadline - DAY)
    before = head(chain)
    if path == "command":
        answer = chain.client(chain.s1).submit("certificate.accept", {"id": piece["id"]})
        refused(chain, answer, 409, "certificate-expired")
    elif path == "sweep":
        assert chain.ledger.sweep_all() == 1
    # A read decides with the clock as it reads (it writes nothing itself), and shows the
    # piece pending until an entry expires it; the read after the command or the sweep
    # shows it expired.
    state = chain.client(chain.core).get(f"/v1/certificates/{piece['id']}").json()["state"]
    assert state == ("pending" if path == "read" else "expired")
    assert head(chain) == before + (0 if path == "read" else 1)
    assert_monotonic(engine)


def test_commands_in_one_batch_on_a_clock_that_steps_back_at_every_reading(
    world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings = itertools.count()

    def steps_back() -> datetime:
        return world.clock() - timedelta(seconds=next(readings))

    operator = world.client(world.operator)
    envelopes = []
    for number in range(5):
        actor = new_actor()
        body = {
            "id": actor.id,
            "name": f"Member {number}",
            "roles": ["supplier"],
            "public_key": actor.public_key,
        }
        envelopes.append(operator.envelope("member.admit", body))
    monkeypatch.setattr(world.ledger, "clock", steps_back)
    receipts = world.ledger.execute_together(envelopes)
    assert all(isinstance(r, Receipt) for r in receipts), receipts
    times = assert_monotonic(engine)
    assert len(set(times[-5:])) == 1, times  # all at the first reading, none earlier
    assert world.ledger.verify().ok


@contextmanager
def shifted(world: World, offset_s: int) -> Iterator[World]:
    """The same database served by a second ledger whose clock runs ``offset_s`` from
    the test's clock (its wall clock)."""
    other = Ledger(world.ledger.engine, Settings(clock_offset_s=offset_s), world.clock)
    try:
        with TestClient(create_app(other), raise_server_exceptions=False) as http:
            yield World(http, other, world.operator, world.clock)
    finally:
        other.close()


def test_a_second_server_whose_clock_runs_behind_writes_at_the_head_time(
    world: World, engine: Engine
) -> None:
    """The head's time is read from the database with the head, in the head's lock: a
    server knows the time another server's entries were recorded at."""
    world.admit("supplier", name="Recorded at the test's time")
    ahead_time = recorded(engine)[-1]
    with shifted(world, -3600) as behind:
        behind.admit("supplier", name="Written by the server an hour behind")
        assert recorded(engine)[-1] == ahead_time
    assert_monotonic(engine)


def test_a_shifted_ledger_decides_at_its_time_and_checks_signed_times_against_the_wall(
    chain: Chain, engine: Engine
) -> None:
    [piece] = certs(chain.issue("100.00"))
    deadline = datetime.fromisoformat(piece["expires_at"])
    offset_s = int((deadline - chain.clock()).total_seconds())
    assert chain.ledger.sweep_all() == 0  # not due on the wall clock
    with shifted(chain, offset_s) as ahead:
        health = ahead.http.get("/healthz").json()
        assert health["clock_offset_s"] == offset_s
        assert ahead.ledger.sweep_all() == 1  # due at the shifted time
        # Signed with the test's (wall) clock: a signed read and a command are fresh.
        shown = ok(ahead.client(chain.core).get(f"/v1/certificates/{piece['id']}"))
        assert shown["state"] == "expired"
        operator = ahead.client(chain.operator)
        ok(operator.submit("limit.set", {"member": chain.core.id, "amount": "5.00"}))
        stale = ahead.ledger.clock()  # the shifted time: days from the wall clock
        answer = operator.submit(
            "limit.set", {"member": chain.core.id, "amount": "6.00"}, issued_at=stale
        )
        refused(chain, answer, 401, "stale-timestamp")
    assert recorded(engine)[-1] == deadline  # recorded at the shifted time
    assert chain.http.get("/healthz").json()["clock_offset_s"] == 0


def test_a_clock_offset_is_bounded_and_announced() -> None:
    assert Settings().clock_offset_s == 0 and Settings().clock_offset_warning() is None
    warning = Settings(clock_offset_s=8 * 86400).clock_offset_warning()
    assert warning is not None and "DCC_CLOCK_OFFSET_S=691200" in warning
    assert "8 days" in warning and "never in production" in warning
    Settings(clock_offset_s=-CLOCK_OFFSET_S_MAX)
    with pytest.raises(AssertionError):
        Settings(clock_offset_s=CLOCK_OFFSET_S_MAX + 1)


def test_a_ledger_with_a_clock_offset_says_so_at_start_up(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="dcc.ledger"):
        Ledger(engine, Settings(clock_offset_s=3600)).close()
        Ledger(engine, Settings()).close()
    warnings = [r for r in caplog.records if r.name == "dcc.ledger"]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "DCC_CLOCK_OFFSET_S=3600" in warnings[0].getMessage()
