"""How long the largest netting run holds the ledger lock, and how large its entry is.

Builds the largest netting work the default limits allow between two firms: a core
enterprise's roots, each split by its supplier into nearly the most live pieces a root
may have (transfers of 100 outputs to itself), and an obligation of the supplier back to the core
for the whole amount. Then the operator runs netting, and the script reports the time of
the whole command, the time inside the lock (the transaction that holds the chain
head) and the size of every entry the run wrote. It runs unchanged against older
versions of the ledger (for before/after figures).

    .venv/bin/python bench/netting_lock.py [--roots 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from ledger.db import make_engine
from ledger.keys import generate_private_key, public_key_b64
from ledger.service import Ledger
from ledger.signing import sign_command
from ledger.uscc import make_uscc
from migrations.runner import upgrade

OUTPUTS = 100
TRANSFERS_PER_ROOT = 19  # 1,901 live pieces of 100.00: above the root's smallest, 95.05
PIECE_FEN = 100_00
_serial = iter(range(1, 10**9))


class Party:
    ledger_id = ""  # the ledger every signature names, set once its genesis is written

    def __init__(self) -> None:
        self.id = make_uscc(f"913509{next(_serial):011d}")
        self.key = generate_private_key()

    def sign(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        return sign_command(self.key, self.id, type_, body, issued_at=now, ledger=self.ledger_id)


class TimedLedger(Ledger):
    """Times every transaction that holds the chain head (the lock)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.lock_s: list[float] = []

    def _apply(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._apply(*args)  # type: ignore[misc]
        finally:
            self.lock_s.append(time.perf_counter() - started)


def today(days: int = 0) -> str:
    return (datetime.now(timezone(timedelta(hours=8))).date() + timedelta(days=days)).isoformat()


def build(ledger: Ledger, roots: int) -> tuple[Party, Party, Party]:
    operator, core, supplier = Party(), Party(), Party()
    ledger.genesis(operator.id, "Operator", public_key_b64(operator.key.public_key()))
    Party.ledger_id = ledger.ledger_id()
    for party, role in ((core, "core"), (supplier, "supplier")):
        body = {
            "id": party.id,
            "name": role,
            "roles": [role],
            "public_key": public_key_b64(party.key.public_key()),
        }
        ledger.execute(operator.sign("member.admit", body))
    ledger.execute(operator.sign("limit.set", {"member": core.id, "amount": "100000000.00"}))
    for party in (core, supplier):
        ledger.execute(party.sign("member.netting_consent", {"consent": True}))
    face_fen = PIECE_FEN * (OUTPUTS * TRANSFERS_PER_ROOT + 1)
    for r in range(roots):
        amount = f"{face_fen // 100}.00"
        issued = ledger.execute(
            core.sign(
                "certificate.issue",
                {
                    "to": supplier.id,
                    "amount": amount,
                    "maturity": today(90),
                    "trade": {
                        "contract_no": "B",
                        "invoices": [{"no": f"BENCH{r:06d}", "amount": amount}],
                    },
                },
            )
        )
        piece = issued.effects["certificates"][0]["id"]
        ledger.execute(supplier.sign("certificate.accept", {"id": piece}))
        for _ in range(TRANSFERS_PER_ROOT):
            outputs = [{"to": supplier.id, "amount": f"{PIECE_FEN // 100}.00"}] * OUTPUTS
            receipt = ledger.execute(
                supplier.sign(
                    "certificate.transfer",
                    {
                        "inputs": [piece],
                        "outputs": outputs,
                        "trade": {"contract_no": "B", "invoices": []},
                    },
                )
            )
            piece = receipt.effects["certificates"][-1]["id"]  # the change
    owed = f"{face_fen * roots // 100}.00"
    registered = ledger.execute(
        supplier.sign(
            "obligation.register",
            {
                "creditor": core.id,
                "amount": owed,
                "due_date": today(30),
                "reference": "BENCH",
            },
        )
    )
    ledger.execute(
        core.sign("obligation.confirm", {"id": registered.effects["obligations"][0]["id"]})
    )
    return operator, core, supplier


def measure(engine: Engine, roots: int) -> None:
    upgrade(engine)
    ledger = TimedLedger(engine)
    operator, _, _ = build(ledger, roots)
    before = ledger.head()
    assert before is not None
    ledger.lock_s = []
    started = time.perf_counter()
    ledger.execute(operator.sign("netting.run", {"mode": "setoff", "as_of": today()}))
    total_s = time.perf_counter() - started
    with engine.connect() as conn:
        sizes = (
            conn.execute(
                text("SELECT length(command) + length(effects) FROM entries WHERE seq > :seq"),
                {"seq": before.seq},
            )
            .scalars()
            .all()
        )
    print(
        f"| {engine.dialect.name} | {roots} roots × {OUTPUTS * TRANSFERS_PER_ROOT + 1} "
        f"pieces | {total_s * 1000:.0f} ms | {max(ledger.lock_s) * 1000:.0f} ms "
        f"| {', '.join(f'{size / 2**20:.2f} MiB' for size in sizes)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roots", type=int, default=3)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    print("| database | graph | netting.run | lock held | entries written |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/bench.db")
        measure(engine, args.roots)
        engine.dispose()
    if args.postgres:
        engine = make_engine(args.postgres)
        measure(engine, args.roots)
        engine.dispose()


if __name__ == "__main__":
    main()
