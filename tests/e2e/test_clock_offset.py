"""`dcc serve` with DCC_CLOCK_OFFSET_S: days pass for a real server process.

A pending piece is issued on a server at real time; a server restarted a week and a day
ahead sweeps it by itself, while its clients still sign with real time; a server
restarted at real time again records its entries at the journal's time, not earlier.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import httpx

from api.client import DccClient
from ledger.settings import Settings
from tests.conftest import Chain, business_date
from tests.e2e.conftest import start_server

AHEAD_S = Settings().pending_expiry_s + 86400  # a day past every pending deadline
WARNING = "DCC_CLOCK_OFFSET_S="


@contextmanager
def server(database_url: str, *args: str, **settings: str) -> Iterator[tuple[str, IO[str]]]:
    """`dcc serve` with DCC_* ``settings``: its base URL and its log."""
    env = {f"DCC_{name.upper()}": value for name, value in settings.items()}
    with tempfile.NamedTemporaryFile(mode="w+") as log:
        base, process = start_server(database_url, log, env, args)
        try:
            yield base, log
        finally:
            process.terminate()
            process.wait(timeout=15)


def logged(log: IO[str]) -> str:
    """What the server has logged so far, read through a file of its own (seeking the
    server's would move where it writes)."""
    with open(log.name) as reader:
        return reader.read()


def warnings_logged(log: IO[str], count: int) -> int:
    """The warnings the server's processes logged, once ``count`` have (a worker may
    still be starting) or after 30 s."""
    deadline = time.monotonic() + 30
    while logged(log).count(WARNING) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return logged(log).count(WARNING)


def issue(chain: Chain, core: DccClient) -> dict[str, Any]:
    body = {
        "to": chain.s1.id,
        "amount": "10.00",
        "maturity": business_date(chain.clock, 90),
        "trade": {"contract_no": "C", "invoices": [chain.new_invoice("10.00")]},
    }
    response = core.submit("certificate.issue", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def last_entry(core: DccClient, member: str) -> dict[str, Any]:
    response = core.get(f"/v1/wallets/{member}/history?limit=1")
    assert response.status_code == 200, response.text
    return dict(response.json()["entries"][0])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_server_restarted_days_ahead_sweeps_what_is_due_and_time_never_goes_back(
    chain: Chain, database_url: str
) -> None:
    with server(database_url, sweep_interval_s="1") as (base, log):
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/healthz").json()["clock_offset_s"] == 0
            core = DccClient(http, chain.core.id, chain.core.key)
            [piece] = issue(chain, core)["effects"]["certificates"]
        assert WARNING not in logged(log)
    assert piece["state"] == "pending"

    # Two workers: the warning comes from every process (the parent, each worker, the
    # sequencer process), and the health check of every worker names the offset.
    ahead = server(
        database_url, "--workers", "2", clock_offset_s=str(AHEAD_S), sweep_interval_s="1"
    )
    with ahead as (base, log), httpx.Client(base_url=base, timeout=30) as http:
        assert all(http.get("/healthz").json()["clock_offset_s"] == AHEAD_S for _ in range(8))
        seq = http.get("/healthz").json()["seq"]
        deadline = time.monotonic() + 20
        while http.get("/healthz").json()["seq"] == seq and time.monotonic() < deadline:
            time.sleep(0.2)  # the sweep, not a read, expires the piece: wait for its entry
        core = DccClient(http, chain.core.id, chain.core.key)  # signs with real time
        swept = last_entry(core, chain.core.id)
        assert (swept["type"], swept["signer"]) == ("certificate.expire", None), swept
        shown = core.get(f"/v1/certificates/{piece['id']}").json()
        assert shown["state"] == "expired", shown
        real = datetime.now(UTC)
        assert at(swept["recorded_at"]) > real + timedelta(seconds=AHEAD_S - 60)
        issued = issue(chain, core)  # a command signed with real time is fresh
        high = at(last_entry(core, chain.core.id)["recorded_at"])
        assert high > real + timedelta(seconds=AHEAD_S - 60)
        assert warnings_logged(log, 4) >= 4, logged(log)  # a worker uvicorn restarts logs again

    with server(database_url) as (base, log), httpx.Client(base_url=base, timeout=30) as http:
        s1 = DccClient(http, chain.s1.id, chain.s1.key)
        accepted = s1.submit(
            "certificate.accept", {"id": issued["effects"]["certificates"][0]["id"]}
        )
        assert accepted.status_code == 201, accepted.text
        # Real time is a week behind the journal: the entry is recorded at the head's time.
        assert at(last_entry(s1, chain.s1.id)["recorded_at"]) == high
    assert chain.ledger.verify().ok
