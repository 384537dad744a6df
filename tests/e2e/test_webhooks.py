"""Webhooks between real processes on loopback: `dcc serve` (its relay in the sequencer's
process) and `dcc bank-sim`, each stopped and restarted while events arrive.

The bank-sim accepts every piece sent to it (``certificate.received``), so "handled
exactly once" shows twice: in its own log of what it did, and in the ledger, where each
piece is accepted once and nothing is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import text

from api.client import DccClient
from ledger.keys import private_key_pem
from tests.conftest import Actor, Chain
from tests.e2e.conftest import free_port, start_server

# Retries every second for a minute: long enough for any outage in these tests.
SETTINGS = {
    "DCC_WEBHOOK_RETRY_SCHEDULE_S": ",".join(["0"] + ["1"] * 60),
    "DCC_WEBHOOK_JITTER_PCT": "0",
    "DCC_WEBHOOK_POLL_MS": "50",
    "DCC_WEBHOOK_TIMEOUT_S": "3",
}
WAIT_S = 60


class Processes:
    """Processes a test started, each with its log; whatever is left is killed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[tuple[subprocess.Popen[str], IO[str]]] = []

    def serve(
        self, database_url: str, port: int | None = None
    ) -> tuple[str, subprocess.Popen[str]]:
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        base, process = start_server(database_url, log, SETTINGS, port=port)
        self.running.append((process, log))
        return base, process

    def bank_sim(self, bank: Actor, base: str, port: int, *extra: str) -> subprocess.Popen[str]:
        key = self.directory / "bank.key"
        key.write_bytes(private_key_pem(bank.key))
        log = (self.directory / "bank-sim.log").open("a")
        command = [
            *("bank-sim", "--member", bank.id, "--key", str(key), "--service", base),
            *("--port", str(port), "--state-dir", str(self.directory)),
            *extra,
        ]
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.running.append((process, log))
        return process

    def close(self) -> None:
        for process, log in self.running:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            log.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.close()


def until(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def handled(directory: Path, bank: Actor) -> list[dict[str, Any]]:
    path = directory / f"banksim-{bank.id}.handled"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def registered(base: str, chain: Chain) -> Callable[[], bool]:
    def check() -> bool:
        with httpx.Client(base_url=base, timeout=5) as http:
            client = DccClient(http, chain.bank.id, chain.bank.key, clock=chain.clock)
            answer = client.get(f"/v1/webhooks/{chain.bank.id}")
        return answer.status_code == 200 and bool(answer.json()["endpoints"])

    return check


def send_pieces(base: str, chain: Chain, count: int) -> list[str]:
    """Issue ``count`` pieces to the bank through the live server; their ids."""
    ids = []
    with httpx.Client(base_url=base, timeout=30) as http:
        core = DccClient(http, chain.core.id, chain.core.key, clock=chain.clock)
        for n in range(count):
            body = {
                "to": chain.bank.id,
                "amount": f"{n + 1}.00",
                "maturity": chain_maturity(chain),
                "trade": {"contract_no": "HT-WH", "invoices": [chain.new_invoice(f"{n + 1}.00")]},
            }
            answer = core.submit("certificate.issue", body)
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["effects"]["certificates"][0]["id"])
    return ids


def chain_maturity(chain: Chain) -> str:
    from tests.conftest import business_date

    return business_date(chain.clock, 60)


def assert_each_handled_once(chain: Chain, directory: Path, pieces: list[str]) -> None:
    done = handled(directory, chain.bank)
    assert Counter(entry["webhook_id"] for entry in done).most_common(1)[0][1] == 1
    assert sorted(entry["id"] for entry in done) == sorted(pieces)
    assert {entry["outcome"] for entry in done} <= {"applied", "already-done"}
    wallet = chain.client(chain.bank).get(f"/v1/wallets/{chain.bank.id}?limit=500").json()
    active = {c["id"] for c in wallet["certificates"] if c["state"] == "active"}
    assert active == set(pieces)  # each accepted, once: a second accept would be refused
    undelivered = chain.ledger.read(
        lambda repo: repo.conn.execute(
            text("SELECT count(*) FROM webhook_outbox WHERE state != 'delivered'")
        ).scalar_one()
    )
    assert undelivered == 0
    report = chain.ledger.verify()
    assert report.ok, report.problems[:3]


def test_a_bank_stopped_while_events_arrive_handles_every_one_once_after_its_restart(
    chain: Chain, database_url: str, processes: Processes
) -> None:
    base, _server = processes.serve(database_url)
    port = free_port()
    sim = processes.bank_sim(chain.bank, base, port)
    until(registered(base, chain), "the bank-sim to register")
    first = send_pieces(base, chain, 5)
    until(lambda: len(handled(processes.directory, chain.bank)) >= 2, "some to be handled")
    sim.send_signal(signal.SIGKILL)  # mid-stream: some handled, some in flight or queued
    sim.wait(timeout=10)
    second = send_pieces(base, chain, 5)  # while the bank is down
    processes.bank_sim(chain.bank, base, port)
    until(lambda: len(handled(processes.directory, chain.bank)) >= 10, "all ten handled")
    time.sleep(1.5)  # any duplicate the relay were to send would have come by now
    assert_each_handled_once(chain, processes.directory, first + second)


def test_a_server_killed_with_undelivered_messages_delivers_them_after_its_restart(
    chain: Chain, database_url: str, processes: Processes
) -> None:
    base, server = processes.serve(database_url)
    port = free_port()
    sim = processes.bank_sim(chain.bank, base, port)
    until(registered(base, chain), "the bank-sim to register")
    sim.terminate()  # the bank is away: nothing can be delivered
    sim.wait(timeout=10)
    pieces = send_pieces(base, chain, 5)

    def tried_and_pending() -> bool:
        rows = chain.ledger.read(
            lambda repo: repo.conn.execute(
                text("SELECT state, attempts FROM webhook_outbox")
            ).fetchall()
        )
        return len(rows) == 5 and all(r.state == "pending" and r.attempts >= 1 for r in rows)

    until(tried_and_pending, "every message to be tried and still pending")
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    processes.bank_sim(chain.bank, base, port)  # back before the service is
    time.sleep(1)
    processes.serve(database_url, port=int(base.rsplit(":", 1)[1]))  # where the bank calls
    until(lambda: len(handled(processes.directory, chain.bank)) >= 5, "all five handled")
    time.sleep(1.5)
    assert_each_handled_once(chain, processes.directory, pieces)
