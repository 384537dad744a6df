"""Does a dead webhook endpoint slow the write path? The journal's write rate with 0 and
with 100 registered endpoints that never answer.

A loopback socket accepts every connection and never answers: the worst endpoint, one
that holds each attempt for the whole timeout. The relay runs in a process of its own,
as under ``dcc serve`` (``api.server.relay_process``), on the same database, so what it
costs the writer — the outbox rows in each batch, its reads and writes of the outbox
competing for the database — is in the figures. Workloads (``certificate.issue``):

* *spread*: 100 suppliers, each with one endpoint; each issue goes to the next
  supplier, so every entry queues one message;
* *fan-out*: one supplier with 100 endpoints; every entry queues 100 messages.

Each is timed one command at a time (1 client) and in batches of 64 (what the
sequencer applies when that many requests wait), against the same with no endpoint,
median of several runs, on SQLite and on PostgreSQL when ``--postgres`` names one.

    .venv/bin/python bench/webhooks.py [--commands 300] [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal import Party, fresh_pg, new_id, timed
from sqlalchemy import text

from ledger.db import make_engine
from ledger.jobs import relay
from ledger.keys import public_key_b64
from ledger.service import Ledger
from ledger.settings import Settings
from migrations.runner import upgrade

ENDPOINTS = 100


class Silent:
    """A loopback listener that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def admit(ledger: Ledger, operator: Party, party: Party, role: str) -> None:
    party.ledger = ledger.ledger_id()
    body = {
        "id": party.id,
        "name": role,
        "roles": [role],
        "public_key": public_key_b64(party.key.public_key()),
    }
    ledger.execute(operator.sign("member.admit", body))


def world(url: str, suppliers: int) -> tuple[Ledger, Party, list[Party]]:
    engine = make_engine(url)
    upgrade(engine)
    ledger = Ledger(engine, Settings(webhook_endpoints_max=ENDPOINTS))
    operator, core = Party(), Party()
    ledger.genesis(operator.id, "Operator", public_key_b64(operator.key.public_key()))
    operator.ledger = ledger.ledger_id()
    admit(ledger, operator, core, "core")
    payees = [Party() for _ in range(suppliers)]
    for payee in payees:
        admit(ledger, operator, payee, "supplier")
    ledger.execute(operator.sign("limit.set", {"member": core.id, "amount": "9000000000.00"}))
    return ledger, core, payees


def register(ledger: Ledger, payees: list[Party], port: int, per_payee: int) -> None:
    for payee in payees:
        for n in range(per_payee):
            body = {
                "url": f"http://127.0.0.1:{port}/{payee.id}/{n}",
                "events": ["certificate.received"],
            }
            ledger.execute(payee.sign("webhook.set", body))


def issues(core: Party, payees: list[Party], count: int) -> list[dict[str, object]]:
    maturity = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    return [
        core.sign(
            "certificate.issue",
            {
                "to": payees[i % len(payees)].id,
                "amount": "1000.00",
                "maturity": maturity,
                "trade": {
                    "contract_no": "W",
                    "invoices": [{"no": f"W{new_id()}", "amount": "1000.00"}],
                },
            },
        )
        for i in range(count)
    ]


def rates(ledger: Ledger, core: Party, payees: list[Party], count: int) -> tuple[float, float]:
    one = issues(core, payees, count)
    rate_one = count / timed(lambda: [ledger.execute(e) for e in one])
    many = issues(core, payees, count)

    def batches() -> None:
        for start in range(0, count, 64):
            outcomes = ledger.execute_together(many[start : start + 64])
            assert not any(isinstance(o, Exception) for o in outcomes), outcomes

    return rate_one, count / timed(batches)


def measure(url: Callable[[], str], count: int, runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(runs):
        for workload, suppliers, per_payee in (
            ("no endpoint", ENDPOINTS, 0),
            ("spread: 100 members × 1 dead endpoint", ENDPOINTS, 1),
            ("fan-out: 1 member × 100 dead endpoints", 1, ENDPOINTS),
        ):
            silent = Silent()
            database = url()
            ledger, core, payees = world(database, suppliers)
            register(ledger, payees, silent.port, per_payee)
            sending = spawn.Process(target=relay.serve, args=(database, os.getpid()))
            sending.start()
            rate_one, rate_batched = rates(ledger, core, payees, count)
            sending.terminate()
            sending.join()
            queued = ledger.read(
                lambda repo: repo.conn.execute(text("SELECT count(*) FROM webhook_outbox")).scalar()
            )
            assert queued == (2 * count if per_payee == 1 else 2 * count * per_payee), queued
            assert ledger.verify().ok
            ledger.close()
            ledger.engine.dispose()
            silent.close()
            samples.setdefault(f"{workload} | 1 client", []).append(rate_one)
            samples.setdefault(f"{workload} | batches of 64", []).append(rate_batched)
    return samples


def table(name: str, samples: dict[str, list[float]]) -> list[str]:
    medians = {label: statistics.median(values) for label, values in samples.items()}
    rows = []
    for label, rate in medians.items():
        mode = label.split(" | ")[1]
        base = medians[f"no endpoint | {mode}"]
        rows.append(f"| {name} | {label} | {rate:,.0f} | {rate / base:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("DCC_BENCH_POSTGRES_URL", ""))
    args = parser.parse_args()
    print(f"{platform.node()} · {os.cpu_count()} cores · {datetime.now(UTC):%Y-%m-%d} · "
          f"{args.commands} commands, median of {args.runs} runs")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        samples = measure(lambda: f"sqlite:///{tmp}/w{next(counter)}.db", args.commands, args.runs)
        rows += table("SQLite", samples)
    if args.postgres:
        rows += table("PostgreSQL", measure(fresh_pg(args.postgres), args.commands, args.runs))
    print("| database | endpoints | clients | commands/s | × no endpoint |")
    print("|---|---|---|---:|---:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
