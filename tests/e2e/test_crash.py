"""Kill the server (SIGKILL, mid-traffic) and restart it: nothing acknowledged is lost,
nothing is applied twice, and clients can retry everything safely."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.client import DccClient
from ledger.repository import Repository
from tests.conftest import Chain, business_date
from tests.e2e.conftest import start_server

COMMANDS = 240
CLIENTS = 4
KILL_AFTER_RECEIPTS = 60
AMOUNT = "1.00"


def start(database_url: str) -> tuple[str, subprocess.Popen[str], Any]:
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - outlives this call; caller closes
    base, process = start_server(database_url, log)
    return base, process, log


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_killed_server_loses_nothing_it_acknowledged(
    chain: Chain, database_url: str, servers: list[subprocess.Popen[str]]
) -> None:
    core = DccClient(chain.http, chain.core.id, chain.core.key, clock=chain.clock)
    maturity = business_date(chain.clock, 60)
    envelopes = [
        core.envelope(
            "certificate.issue",
            {
                "to": chain.s1.id,
                "amount": AMOUNT,
                "maturity": maturity,
                "trade": {"contract_no": f"C{i}", "invoices": [chain.new_invoice(AMOUNT)]},
            },
        )
        for i in range(COMMANDS)
    ]
    base, first, log = start(database_url)
    servers.append(first)
    acknowledged: dict[int, dict[str, Any]] = {}  # envelope index → receipt
    lock = threading.Lock()
    killed = threading.Event()
    unexpected: list[str] = []

    def client(indexes: range) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for index in indexes:
                try:
                    response = http.post("/v1/commands", json=envelopes[index])
                except httpx.TransportError:
                    return  # the server died under us: this request's fate is unknown
                with lock:
                    if response.status_code != 201:  # asserted in the main thread
                        unexpected.append(response.text)
                        return
                    acknowledged[index] = response.json()
                    if len(acknowledged) >= KILL_AFTER_RECEIPTS and not killed.is_set():
                        killed.set()
                        os.kill(first.pid, signal.SIGKILL)

    share = COMMANDS // CLIENTS
    threads = [
        threading.Thread(target=client, args=(range(i * share, (i + 1) * share),))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first.wait(timeout=10)
    log.close()
    assert not unexpected, unexpected[:3]
    assert killed.is_set() and first.returncode == -signal.SIGKILL
    assert KILL_AFTER_RECEIPTS <= len(acknowledged) < COMMANDS

    # Every acknowledged command is in the journal, exactly as its receipt said.
    def entries_of(repo: Repository, seqs: list[int]) -> dict[int, str | None]:
        return {seq: (e.entry.entry_hash if (e := repo.entry(seq)) else None) for seq in seqs}

    receipts = list(acknowledged.values())
    stored = chain.ledger.read(entries_of, [r["seq"] for r in receipts])
    assert all(stored[r["seq"]] == r["entry_hash"] for r in receipts)
    assert chain.ledger.verify().ok

    # After a restart, a client retries everything: what was applied answers its original
    # receipt (200), the rest is applied now (201), nothing twice, nothing refused.
    base, second, log = start(database_url)
    servers.append(second)
    retried: dict[int, httpx.Response] = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        for index, envelope in enumerate(envelopes):
            retried[index] = http.post("/v1/commands", json=envelope)
    log.close()
    for index, response in retried.items():
        if index in acknowledged:
            assert response.status_code == 200, response.text
            assert response.json() == acknowledged[index]
        else:
            assert response.status_code in (200, 201), response.text
    issued = {r.json()["effects"]["certificates"][0]["id"] for r in retried.values()}
    assert len(issued) == COMMANDS
    wallet = chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}?limit=500").json()
    pending = [c for c in wallet["certificates"] if c["state"] == "pending"]
    assert {c["id"] for c in pending} == issued
    assert [t["amount"] for t in wallet["totals"]] == [f"{COMMANDS}.00"]
    in_flight = [i for i, r in retried.items() if i not in acknowledged and r.status_code == 200]
    print(
        f"\n{len(acknowledged)} acknowledged before the kill; {len(in_flight)} more had "
        f"committed without their answer reaching the client"
    )
    report = chain.ledger.verify()
    assert report.ok, report.problems[:3]
