"""Proof-serving benchmark: inclusion and consistency proofs on a tree of 10^6 and 10^7.

The read path is what is measured, so the tree is synthesised: random leaf hashes, every
perfect subtree computed (``ledger.merkle.append_leaf``) and bulk-inserted into a fresh
SQLite database built by the migrations, with the head row set to the size. Then the
functions the routes call (``ledger.transparency.inclusion`` / ``consistency``, each in
its own read transaction, as ``Ledger.read`` runs them) are timed for random seqs and
sizes; the table shows the median and 99th percentile.

    .venv/bin/python bench/proofs.py [--sizes 1000000,10000000] [--proofs 500]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import transparency
from ledger.db import make_engine
from ledger.merkle import Node, append_leaf
from ledger.repository import Repository
from migrations.runner import upgrade

CHUNK = 200_000


def synthesise(path: Path, size: int, seed: int) -> float:
    """A migrated database at ``path`` holding the tree of ``size`` random leaves."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    frontier: dict[Node, bytes] = {}
    rows: list[tuple[int, int, bytes]] = []
    for index in range(size):
        for (level, position), digest in append_leaf(frontier, index, rng.randbytes(32)):
            rows.append((level, position, digest))
        if len(rows) >= CHUNK:
            db.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", rows)
            rows = []
    db.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", rows)
    db.execute("INSERT INTO ledger_head (id, seq, entry_hash) VALUES (1, ?, ?)", (size, "0" * 64))
    db.commit()
    db.close()
    return time.perf_counter() - started


def timed(engine: object, call: object, *args: int) -> float:
    started = time.perf_counter()
    with engine.connect() as conn, conn.begin():  # type: ignore[attr-defined]
        call(Repository(conn), *args)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--proofs", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(7)
    print("| leaves | build | proof | median | p99 |")
    print("|---:|---:|---|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "tree.db"
            build_s = synthesise(path, size, seed=size)
            mib = os.path.getsize(path) / 2**20
            engine = make_engine(f"sqlite:///{path}")
            for kind in ("inclusion", "consistency"):
                times = []
                for _ in range(args.proofs):
                    second = rng.randint(size // 2, size)
                    first = rng.randint(1, second)
                    call = (
                        transparency.inclusion if kind == "inclusion" else transparency.consistency
                    )
                    times.append(timed(engine, call, first, second))
                times.sort()
                p99 = times[int(len(times) * 0.99) - 1]
                build = f"{build_s:.0f} s, {mib:,.0f} MiB"
                print(
                    f"| {size:,} | {build} | {kind} | "
                    f"{statistics.median(times):.2f} ms | {p99:.2f} ms |"
                )
            engine.dispose()


if __name__ == "__main__":
    main()
