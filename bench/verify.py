"""Audit benchmark: entries per second of each pass of ``dcc verify``.

Builds a ledger of realistic traffic on SQLite through ``Ledger.execute_together`` (the
sequencer's batches): members admitted with limits, certificates issued to suppliers
and accepted, split and transferred down the chain (accepted, or now and then
rejected), trade payables registered and confirmed, webhooks registered. Then times,
on that database, the median of ``--runs`` runs of:

* the chain-and-signature pass: positions, links, hashes, times, indexed columns and
  signatures of every entry (``verify(..., projections=False, reexecute=False)``), in
  one process and with a worker process per CPU checking whole chunks of entries
  (``ledger.verify_pool``) while one walk follows the signers' keys;
* the projections pass: every entry's effects replayed in memory and compared with the
  stored tables;
* the re-execution pass: every command run again against a scratch replay
  (``verify(..., chain=False)``);
* all three, as ``dcc verify`` runs them.

    .venv/bin/python bench/verify.py [--entries 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal import Party

from ledger.db import make_engine, snapshot
from ledger.keys import public_key_b64
from ledger.repository import Repository
from ledger.service import Ledger
from ledger.verify import Report, verify
from migrations.runner import upgrade

SUPPLIERS = 40
BATCH = 200
EVENTS = ["certificate.received", "certificate.accepted"]


class Traffic:
    """A core enterprise paying its suppliers, who pass the paper down the chain."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.operator, self.core = Party(), Party()
        self.suppliers = [Party() for _ in range(SUPPLIERS)]
        self.maturity = (datetime.now(UTC) + timedelta(days=120)).date().isoformat()
        self.serial = 0

    def run(self, entries: int) -> None:
        ledger, operator = self.ledger, self.operator
        ledger.genesis(operator.id, "Operator", public_key_b64(operator.key.public_key()))
        for party in (operator, self.core, *self.suppliers):
            party.ledger = ledger.ledger_id()
        admits = [self._admit(self.core, "core")]
        admits += [self._admit(s, "supplier") for s in self.suppliers]
        admits.append(
            operator.sign("limit.set", {"member": self.core.id, "amount": "90000000000.00"})
        )
        self._submit(admits)
        round_ = 0
        while self._head() < entries:
            self._round(round_)
            round_ += 1

    def _head(self) -> int:
        head = self.ledger.head()
        return head.seq if head else 0

    def _admit(self, party: Party, role: str) -> dict[str, Any]:
        body = {
            "id": party.id,
            "name": f"{role} {party.id[-6:]}",
            "roles": [role],
            "public_key": public_key_b64(party.key.public_key()),
        }
        return self.operator.sign("member.admit", body)

    def _submit(self, envelopes: list[dict[str, Any]]) -> list[Any]:
        receipts: list[Any] = []
        for start in range(0, len(envelopes), BATCH):
            outcomes = self.ledger.execute_together(envelopes[start : start + BATCH])
            failed = [o for o in outcomes if isinstance(o, Exception)]
            assert not failed, failed[:3]
            receipts += outcomes
        return receipts

    def _round(self, round_: int) -> None:
        """Issue one piece to every supplier; each accepts, splits it to the next
        supplier (who accepts, or rejects one in eight), registers a payable to it,
        which it confirms; one in ten sets a webhook."""
        core, suppliers = self.core, self.suppliers
        issued = self._submit(
            [
                core.sign(
                    "certificate.issue",
                    {
                        "to": s.id,
                        "amount": "10000.00",
                        "maturity": self.maturity,
                        "trade": self._invoiced("10000.00"),
                    },
                )
                for s in suppliers
            ]
        )
        roots = [r.effects["certificates"][0]["id"] for r in issued]
        self._submit(
            [s.sign("certificate.accept", {"id": r}) for s, r in zip(suppliers, roots, strict=True)]
        )
        transfers = self._submit(
            [
                s.sign(
                    "certificate.transfer",
                    {
                        "inputs": [r],
                        "outputs": [{"to": self._next(i).id, "amount": "2500.00"}],
                        "trade": self._invoiced("2500.00"),
                    },
                )
                for i, (s, r) in enumerate(zip(suppliers, roots, strict=True))
            ]
        )
        sent = [_sent_to(t.effects, self._next(i).id) for i, t in enumerate(transfers)]
        answers = [
            self._next(i).sign(
                "certificate.reject" if (i + round_) % 8 == 0 else "certificate.accept",
                {"id": piece},
            )
            for i, piece in enumerate(sent)
        ]
        self._submit(answers)
        registered = self._submit(
            [
                s.sign(
                    "obligation.register",
                    {
                        "creditor": self._next(i).id,
                        "amount": "800.00",
                        "due_date": self.maturity,
                        "reference": f"PO-{round_}-{i}",
                    },
                )
                for i, s in enumerate(suppliers)
            ]
        )
        self._submit(
            [
                self._next(i).sign("obligation.confirm", {"id": r.effects["obligations"][0]["id"]})
                for i, r in enumerate(registered)
            ]
        )
        self._submit(
            [
                s.sign(
                    "webhook.set",
                    {
                        "url": f"https://s{i}.example/hook",
                        "events": EVENTS,
                    },
                )
                for i, s in enumerate(suppliers)
                if (i + round_) % 10 == 0
            ]
        )

    def _invoiced(self, amount: str) -> dict[str, Any]:
        """A trade citing one invoice of its own, of ``amount``."""
        self.serial += 1
        return {
            "contract_no": f"K{self.serial}",
            "invoices": [{"no": f"INV{self.serial:010d}", "amount": amount}],
        }

    def _next(self, i: int) -> Party:
        return self.suppliers[(i + 1) % len(self.suppliers)]


def _sent_to(effects: dict[str, Any], member: str) -> str:
    return next(c["id"] for c in effects["certificates"] if c["holder"] == member)


def timed(url: str, run: Callable[[Repository], Report], runs: int) -> tuple[float, int]:
    """Median seconds of ``runs`` runs, and the entries the report covered."""
    engine = make_engine(url)
    samples, entries = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with snapshot(engine) as conn, conn.begin():
            report = run(Repository(conn))
        samples.append(time.perf_counter() - start)
        assert report.ok, report.problems[:3]
        entries = report.entries
    engine.dispose()
    return statistics.median(samples), entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="keep the ledger in this SQLite file (reused if it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = args.db or os.path.join(directory, "verify.db")
        url = f"sqlite:///{path}"
        built_s = 0.0
        if not os.path.exists(path):
            engine = make_engine(url)
            upgrade(engine)
            ledger = Ledger(engine)
            start = time.perf_counter()
            Traffic(ledger).run(args.entries)
            built_s = time.perf_counter() - start
            ledger.close()
            engine.dispose()
        cpus = os.cpu_count() or 1
        passes = {
            "chain and signatures, one process": lambda r: verify(
                r, projections=False, reexecute=False, workers=1
            ),
            f"chain and signatures, {cpus} worker processes": lambda r: verify(
                r, projections=False, reexecute=False, workers=cpus
            ),
            "projections (replayed, compared)": lambda r: verify(
                r, chain=False, projections=True, reexecute=False
            ),
            "re-execution of every command": lambda r: verify(r, chain=False),
            "dcc verify (all three, as the CLI runs them)": verify,
        }
        print(f"SQLite, {os.cpu_count()} CPUs; ledger built in {built_s:.1f} s")
        print(f"{'pass':<48} {'entries':>8} {'seconds':>8} {'entries/s':>10}")
        for name, run in passes.items():
            seconds, entries = timed(url, run, args.runs)
            print(f"{name:<48} {entries:>8} {seconds:>8.2f} {entries / seconds:>10.0f}")


if __name__ == "__main__":
    main()
