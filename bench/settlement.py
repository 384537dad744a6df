"""What paying at maturity costs: ``settlement.pay`` of a root split into N pieces.

A root is split into N pieces its supplier keeps (transfers of up to 100 outputs to
itself); the ledger's clock is then moved past the maturity and the grace, so every
payment is late and writes a payment row and a late-interest obligation per piece — the
largest entry a payment writes. Timed, on a fresh database each run:

* *pieces*: ``{pieces: [N ids], payment_ref}`` (N at most ``PIECES_PER_PAYMENT_MAX``);
* *pro rata*: ``{root, amount, payment_ref}`` paying half the root over its N pieces;

with the entry's bytes (command and effects) per piece, against one
``certificate.issue`` in the same run (the baseline: a one-row entry). Medians of
``--runs`` runs; SQLite, and PostgreSQL when ``--postgres`` names one.

    .venv/bin/python bench/settlement.py [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal import Party, fresh_pg, setup, timed

from ledger.canonical import canonical_bytes
from ledger.db import make_engine
from ledger.errors import Refusal
from ledger.service import Ledger

SIZES = (50, 200, 400, 600)
FACE = "1000000.00"


def _invoice(amount: str, n: int) -> dict[str, object]:
    return {"contract_no": "HT-BENCH", "invoices": [{"no": f"B{n:018d}", "amount": amount}]}


def split_root(ledger: Ledger, core: Party, supplier: Party, pieces: int) -> str:
    """A root of FACE held by ``supplier`` in ``pieces`` active pieces; its id."""
    maturity = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    body = {"to": supplier.id, "amount": FACE, "maturity": maturity, "trade": _invoice(FACE, 0)}
    root = ledger.execute(core.sign("certificate.issue", body)).effects["certificates"][0]["id"]
    ledger.execute(supplier.sign("certificate.accept", {"id": root}))
    each_fen = 100_000_000 // pieces
    rest, made = root, 1
    while made < pieces:
        outputs = min(100, pieces - made)
        body = {
            "inputs": [rest],
            "outputs": [{"to": supplier.id, "amount": f"{each_fen // 100}.{each_fen % 100:02d}"}]
            * outputs,
            "trade": _invoice(FACE, made),
        }
        created = ledger.execute(supplier.sign("certificate.transfer", body)).effects
        rest = created["certificates"][-1]["id"]  # the change
        made += outputs
    return root


def run_once(url: str, pieces: int, form: str) -> tuple[float, float, int | None]:
    """(ms of the payment, ms of one issue, entry bytes) — bytes None when refused."""
    engine = make_engine(url)
    ledger, _, core, supplier = setup(engine)
    try:
        root = split_root(ledger, core, supplier, pieces)
        maturity = (datetime.now(UTC) + timedelta(days=30)).date()
        issue = {
            "to": supplier.id,
            "amount": "1.00",
            "maturity": maturity.isoformat(),
            "trade": _invoice("1.00", 999_999),
        }
        issue_s = timed(lambda: ledger.execute(core.sign("certificate.issue", issue)))
        shift = timedelta(days=45)  # past any payment date, so every payment is late
        ledger.clock = lambda: datetime.now(UTC) + shift
        tree = ledger.read(lambda repo: repo.root_holding(root))
        if form == "pieces":
            body: dict[str, object] = {"pieces": sorted(tree), "payment_ref": "BENCH"}
        else:
            body = {"root": root, "amount": "500000.00", "payment_ref": "BENCH"}
        envelope = core.sign("settlement.pay", body)
        written: list[int] = []

        def pay() -> None:
            receipt = ledger.execute(envelope)
            written.append(len(canonical_bytes(envelope)) + len(canonical_bytes(receipt.effects)))

        try:
            pay_s = timed(pay)
        except Refusal as refusal:
            assert refusal.type in ("entry-too-large", "validation"), refusal
            return 0.0, issue_s * 1000, None
        return pay_s * 1000, issue_s * 1000, written[0]
    finally:
        ledger.close()
        engine.dispose()


def measure(name: str, url_of: Callable[[], str], runs: int) -> list[str]:
    rows = []
    for form in ("pieces", "pro rata"):
        for pieces in SIZES:
            if form == "pieces" and pieces > 200:
                continue
            results = [run_once(url_of(), pieces, form) for _ in range(runs)]
            if any(r[2] is None for r in results):
                rows.append(f"| {name} | {form} | {pieces} | refused (entry-too-large) | | | |")
                continue
            pay_ms = statistics.median(r[0] for r in results)
            issue_ms = statistics.median(r[1] for r in results)
            size = statistics.median(r[2] or 0 for r in results)
            rows.append(
                f"| {name} | {form} | {pieces} | {pay_ms:.0f} ms | {pay_ms / issue_ms:.0f}× | "
                f"{size / 1024:.0f} KiB | {size / pieces:.0f} B |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL (its database is recreated)")
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{datetime.now(UTC):%Y-%m-%d}, median of {args.runs}")  # fmt: skip
    print("| database | form | pieces | payment | × one issue | entry | per piece |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        counter = iter(range(10**6))
        for row in measure(
            "SQLite", lambda: f"sqlite:///{scratch}/bench{next(counter)}.db", args.runs
        ):
            print(row, flush=True)
    if args.postgres:
        for row in measure("PostgreSQL", fresh_pg(args.postgres), args.runs):
            print(row, flush=True)


if __name__ == "__main__":
    main()
