"""Write-path benchmark: signed commands per second through Ledger.execute.

For each database, in one process: a *baseline* of one bare transaction per command
(INSERT of a row the size of an entry, commit) — the floor that one-transaction-per-
command allows — then the real path: pre-signed `certificate.transfer` (a pure split:
1 input, 2 outputs) and `certificate.issue` commands, executed one after another, and
the same with 4 client threads. Reports the median of several runs and the ratio to
the baseline. Also times the pre-lock CPU work alone (parse + JCS + Ed25519 verify).

    .venv/bin/python bench/journal.py [--commands 300] [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from ledger.catalog import parse
from ledger.commands import signed_bytes
from ledger.db import make_engine
from ledger.keys import generate_private_key, public_key_b64, verify
from ledger.service import Ledger
from ledger.signing import sign_command
from ledger.uscc import make_uscc
from migrations.runner import upgrade

_serial = iter(range(1, 10**9))


def new_id() -> str:
    return make_uscc(f"913501{next(_serial):011d}")


class Party:
    def __init__(self) -> None:
        self.id = new_id()
        self.key = generate_private_key()
        self.ledger = ""  # the ledger's id, known once it has its genesis entry

    def sign(self, type_: str, body: dict[str, object]) -> dict[str, object]:
        return sign_command(
            self.key, self.id, type_, body, issued_at=datetime.now(UTC), ledger=self.ledger
        )


def setup(engine: Engine) -> tuple[Ledger, Party, Party, Party]:
    upgrade(engine)
    ledger = Ledger(engine)
    operator, core, supplier = Party(), Party(), Party()
    ledger.genesis(operator.id, "Operator", public_key_b64(operator.key.public_key()))
    for party in (operator, core, supplier):
        party.ledger = ledger.ledger_id()
    for party, role in ((core, "core"), (supplier, "supplier")):
        ledger.execute(
            operator.sign(
                "member.admit",
                {
                    "id": party.id,
                    "name": role,
                    "roles": [role],
                    "public_key": public_key_b64(party.key.public_key()),
                },
            )
        )
    ledger.execute(operator.sign("limit.set", {"member": core.id, "amount": "9000000000.00"}))
    return ledger, operator, core, supplier


def issue_envelopes(core: Party, supplier: Party, count: int) -> list[dict[str, object]]:
    maturity = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    return [
        core.sign(
            "certificate.issue",
            {
                "to": supplier.id,
                "amount": "1000.00",
                "maturity": maturity,
                "trade": {
                    "contract_no": "B",
                    "invoices": [
                        {"no": f"B{os.getpid()}{i:012d}{next(_serial)}", "amount": "1000.00"}
                    ],
                },
            },
        )
        for i in range(count)
    ]


def split_envelopes(
    ledger: Ledger, core: Party, supplier: Party, count: int
) -> list[dict[str, object]]:
    """Active pieces for the supplier, and one signed pure split of each."""
    pieces = []
    for envelope in issue_envelopes(core, supplier, count):
        root = ledger.execute(envelope).effects["certificates"][0]["id"]
        ledger.execute(supplier.sign("certificate.accept", {"id": root}))
        pieces.append(root)
    return [
        supplier.sign(
            "certificate.transfer",
            {
                "inputs": [piece],
                "outputs": [{"to": supplier.id, "amount": "600.00"}],
                "trade": {"contract_no": "B", "invoices": []},
            },
        )
        for piece in pieces
    ]


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def baseline(engine: Engine, count: int) -> float:
    payload = "x" * 1500
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS bench_floor (n BIGINT PRIMARY KEY, body TEXT)")
        )
        conn.execute(text("DELETE FROM bench_floor"))

    def run() -> None:
        for n in range(count):
            with engine.connect().execution_options(dcc_write=True) as conn, conn.begin():
                conn.execute(
                    text("INSERT INTO bench_floor VALUES (:n, :b)"), {"n": n, "b": payload}
                )

    return count / timed(run)


def sequential(ledger: Ledger, envelopes: list[dict[str, object]]) -> float:
    return len(envelopes) / timed(lambda: [ledger.execute(e) for e in envelopes])


def threaded(ledger: Ledger, envelopes: list[dict[str, object]], threads: int) -> float:
    chunks = [envelopes[i::threads] for i in range(threads)]

    def run() -> None:
        workers = [
            threading.Thread(target=lambda c=c: [ledger.execute(e) for e in c]) for c in chunks
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    return len(envelopes) / timed(run)


def batched(ledger: Ledger, envelopes: list[dict[str, object]], size: int) -> float:
    """Commands handed to the sequencer ``size`` at a time (``Ledger.execute_together``):
    what one sequencer applies when ``size`` requests are waiting for it."""

    def run() -> None:
        for start in range(0, len(envelopes), size):
            outcomes = ledger.execute_together(envelopes[start : start + size])
            assert all(not isinstance(o, Exception) for o in outcomes), outcomes

    return len(envelopes) / timed(run)


def pre_lock_cpu(envelopes: list[dict[str, object]], public_key: str) -> float:
    def run() -> None:
        for envelope in envelopes:
            cmd = parse(envelope)
            assert verify(public_key, cmd.signature, signed_bytes(cmd.raw))

    return len(envelopes) / timed(run)


def measure(name: str, url: str, count: int, runs: int) -> list[tuple[str, str, float, float]]:
    results: dict[str, list[float]] = {}
    for _ in range(runs):
        engine = make_engine(url() if callable(url) else url)
        ledger, _operator, core, supplier = setup(engine)
        floor = baseline(engine, count)
        issues = issue_envelopes(core, supplier, count)
        splits = split_envelopes(ledger, core, supplier, count)
        more_issues = issue_envelopes(core, supplier, count)
        batch_issues = issue_envelopes(core, supplier, count)
        batch_splits = split_envelopes(ledger, core, supplier, count)
        samples = {
            "baseline: 1 INSERT + COMMIT per command": floor,
            "certificate.issue, 1 client": sequential(ledger, issues),
            "certificate.transfer (split), 1 client": sequential(ledger, splits),
            "certificate.issue, 4 client threads": threaded(ledger, more_issues, 4),
            "certificate.issue, batches of 64": batched(ledger, batch_issues, 64),
            "certificate.transfer (split), batches of 64": batched(ledger, batch_splits, 64),
            "pre-lock CPU only (parse + JCS + verify)": pre_lock_cpu(
                issue_envelopes(core, supplier, count), public_key_b64(core.key.public_key())
            ),
        }
        for label, value in samples.items():
            results.setdefault(label, []).append(value)
        assert ledger.verify().ok
        ledger.close()
        engine.dispose()
    base = statistics.median(results["baseline: 1 INSERT + COMMIT per command"])
    return [
        (name, label, statistics.median(v), statistics.median(v) / base)
        for label, v in results.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("DCC_BENCH_POSTGRES_URL", ""))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        rows += measure(
            "SQLite (WAL, synchronous=FULL)",
            lambda: f"sqlite:///{tmp}/bench{next(counter)}.db",
            args.commands,
            args.runs,
        )
    if args.postgres:
        rows += measure("PostgreSQL 15 (local)", fresh_pg(args.postgres), args.commands, args.runs)
    print(f"| database | workload | commands/s (median of {args.runs}) | × baseline |")
    print("|---|---|---:|---:|")
    for name, label, rate, ratio in rows:
        print(f"| {name} | {label} | {rate:,.0f} | {ratio:.2f} |")


def fresh_pg(url: str) -> Callable[[], str]:
    from sqlalchemy import create_engine, make_url

    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    counter = iter(range(10**6))

    def make() -> str:
        name = f"dcc_bench_{os.getpid()}_{next(counter)}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(url).set(database=name).render_as_string(hide_password=False)

    return make


if __name__ == "__main__":
    main()
