"""`dcc serve --workers 2`: two server processes on one socket and one database.

Each worker has its own `Ledger`, pools and caches; only the database's chain head (a
row lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) orders their writes. Keep-alive
connections are opened until each worker holds some (the kernel decides who accepts),
and the same signed commands are then sent through both at once: every command must
get exactly one entry, its retry through the other worker the same receipt, a contested
certificate exactly one spender, and `dcc verify` must pass.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select

from ledger.models import entries
from tests.conftest import Chain, business_date
from tests.e2e.conftest import Server, process_name, running

WORKERS = 2
CONNECTIONS_PER_WORKER = 4
ISSUES = 12
OPENED_MAX = 200  # connections opened, at most, until every worker holds its share
JOBS_NAMED_S = 30  # how long the sequencer and the relay may take to name themselves


def test_two_workers_share_one_database_safely(chain: Chain, database_url: str) -> None:
    issues = [_issue(chain, n) for n in range(ISSUES)]
    root = chain.issued("1000.00")
    contested = [_pay(chain, root, n) for n in range(2 * CONNECTIONS_PER_WORKER)]
    seq_before = _head_seq(chain)
    with running(database_url, ("--workers", str(WORKERS)), http_keep_alive_s="60") as server:
        by_worker = _connections_on_every_worker(server)
        for pid in by_worker:  # serving on uvloop: asyncio's loop would leave Nagle on
            with open(f"/proc/{pid}/maps") as maps:
                loaded = maps.read()
            assert "/uvloop/loop." in loaded and "/httptools/parser/parser." in loaded
        first, second = (conns[:CONNECTIONS_PER_WORKER] for conns in by_worker.values())
        scripts = []
        for j in range(CONNECTIONS_PER_WORKER):  # each command once through each worker
            scripts.append((first[j], [contested[j], *issues[j::CONNECTIONS_PER_WORKER]]))
            later_first = issues[::-1][j::CONNECTIONS_PER_WORKER]
            scripts.append((second[j], [contested[CONNECTIONS_PER_WORKER + j], *later_first]))
        answers = _send_all_at_once(scripts)
        for conns in by_worker.values():
            for conn in conns:
                conn.close()

    by_nonce: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for envelope, status, body in answers:
        by_nonce[envelope["command"]["nonce"]].append((status, body))
    for envelope in issues:
        (status_a, a), (status_b, b) = sorted(by_nonce[envelope["command"]["nonce"]])
        assert (status_a, status_b) == (200, 201), (a, b)  # applied once, then its receipt
        assert a["seq"] == b["seq"] and a["entry_hash"] == b["entry_hash"]
    spent = Counter(status for e in contested for status, _ in by_nonce[e["command"]["nonce"]])
    assert spent == {201: 1, 409: len(contested) - 1}, spent

    applied = {
        (e["command"]["signer"], e["command"]["nonce"]): body["seq"]
        for e, status, body in answers
        if status == 201
    }
    with chain.ledger.engine.connect() as conn:
        written = conn.execute(
            select(entries.c.seq, entries.c.signer, entries.c.nonce).where(
                entries.c.seq > seq_before
            )
        ).all()
    # Every applied command has exactly one entry, at the seq its receipt gave, and
    # nothing else was written: no lost command, no double entry, no gap.
    assert {(row.signer, row.nonce): row.seq for row in written} == applied
    assert len(written) == ISSUES + 1 == len(applied)
    assert sorted(row.seq for row in written) == list(range(seq_before + 1, _head_seq(chain) + 1))
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", "--db", database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _issue(chain: Chain, n: int) -> dict[str, Any]:
    body = {
        "to": chain.s1.id,
        "amount": f"{100 + n}.00",
        "maturity": business_date(chain.clock, 60),
        "trade": {"contract_no": f"W{n}", "invoices": [chain.new_invoice(f"{100 + n}.00")]},
    }
    return chain.client(chain.core).envelope("certificate.issue", body)


def _pay(chain: Chain, root: str, n: int) -> dict[str, Any]:
    amount = f"{10 + n}.00"
    body = {
        "inputs": [root],
        "outputs": [{"to": chain.s2.id, "amount": amount}],
        "trade": {"contract_no": f"P{n}", "invoices": [chain.new_invoice(amount)]},
    }
    return chain.client(chain.s1).envelope("certificate.transfer", body)


def _head_seq(chain: Chain) -> int:
    head = chain.ledger.head()
    assert head is not None
    return head.seq


# -- connections and the worker that accepted each --------------------------------------


def _connections_on_every_worker(server: Server) -> dict[int, list[http.client.HTTPConnection]]:
    """Keep-alive connections by the worker process that accepted them, opened until
    every worker holds ``CONNECTIONS_PER_WORKER``."""
    workers = _workers(server.pid)
    assert len(workers) == WORKERS, f"dcc serve runs {len(workers)} worker processes"
    by_worker: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in workers}
    for _ in range(OPENED_MAX):
        if all(len(conns) >= CONNECTIONS_PER_WORKER for conns in by_worker.values()):
            return by_worker
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        conn.request("GET", "/livez")  # answered, so accepted by a worker by now
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read()) == {"status": "ok"}
        by_worker[_accepted_by(server.port, conn, workers)].append(conn)
    raise AssertionError(f"{OPENED_MAX} connections did not reach every worker: {by_worker}")


def _workers(pid: int) -> list[int]:
    """The server processes uvicorn spawned (not multiprocessing's resource tracker, nor
    the sequencer and webhook relay processes, which name themselves — the relay once it
    has imported its modules, which may be after the server answers: so this waits, a
    bounded time, until both have)."""
    deadline = time.monotonic() + JOBS_NAMED_S
    while True:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [int(child) for child in children.read().split()]
        spawned = [child for child in pids if b"spawn_main" in _cmdline(child)]
        jobs = [c for c in spawned if process_name(c) in ("dcc-sequencer", "dcc-relay")]
        if len(jobs) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    workers = [child for child in spawned if child not in jobs]
    assert len(jobs) == 2, "one sequencer process and one relay besides the workers"
    assert all(b"DCC_SEQUENCER_SOCKET=" in _environ(child) for child in workers)
    return workers


def _environ(pid: int) -> bytes:
    with open(f"/proc/{pid}/environ", "rb") as environ:
        return environ.read()


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read()


def _accepted_by(port: int, conn: http.client.HTTPConnection, workers: list[int]) -> int:
    """The worker holding the server's end of ``conn`` (Linux: /proc/net/tcp)."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    [inode] = [
        row[9]
        for row in rows
        if int(row[1].split(":")[1], 16) == port and int(row[2].split(":")[1], 16) == client_port
    ]
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue  # closed while we looked
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _send_all_at_once(
    scripts: list[tuple[http.client.HTTPConnection, list[dict[str, Any]]]],
) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """POST each script's envelopes in order over its connection, every script in its own
    thread, all released together; (envelope, status, body) for each."""
    barrier = threading.Barrier(len(scripts))
    answers: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
    lock = threading.Lock()

    def run(conn: http.client.HTTPConnection, envelopes: list[dict[str, Any]]) -> None:
        barrier.wait()
        for envelope in envelopes:
            body = json.dumps(envelope).encode()
            conn.request("POST", "/v1/commands", body, {"content-type": "application/json"})
            answer = conn.getresponse()
            with lock:
                answers.append((envelope, answer.status, json.loads(answer.read())))

    threads = [threading.Thread(target=run, args=script) for script in scripts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == sum(len(envelopes) for _conn, envelopes in scripts)
    return answers
