"""Load benchmark: `dcc serve` driven over real HTTP by separate client processes.

Starts `dcc serve` on a fresh database (SQLite file, or a new PostgreSQL database),
admits the parties in process, then drives the server from client *processes* with
pre-signed envelopes over raw keep-alive HTTP/1.1 (asyncio streams: about 50 µs of
client CPU per request, so the generator is not what is measured). Every client runs
its own supply chain in rounds of a realistic mix, each command depending on the one
before (a client knows the ids a command will create, as every client does, because
they are derived from the signed command):

    issue (a core enterprise → the client's supplier)   accept
    split-transfer to the next supplier, change back     self-split of the change
    obligation.register to the next supplier             one signed wallet read

Each client holds one keep-alive connection for all its requests. Each level (1, 8, 32
concurrent clients by default) prints commands/s and the p50/p95/p99 latency of writes
and reads. In the same run, on the same server: the rate and latency of a no-op request
through the same HTTP stack (`GET /livez`, answered on the event loop without the
database) and the machine's Ed25519 verify rate, so every figure is also a ratio. Every
answer must be the expected 201/200 and `dcc verify` must pass at the end.

    .venv/bin/python bench/load.py [--clients 1,8,32] [--commands 2000] [--postgres URL]
                                   [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import sha256_hex
from ledger.commands import signed_bytes
from ledger.db import make_engine
from ledger.keys import generate_private_key, public_key_b64, sign, verify
from ledger.service import Ledger
from ledger.signing import sign_command, sign_request
from ledger.uscc import make_uscc
from migrations.runner import upgrade

COMMANDS_PER_ROUND = 5
EXPECTED = {"write": 201, "read": 200, "noop": 200}
CORES = 4
ROOT_FEN = 1000_00


@dataclass(frozen=True)
class Party:
    id: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return public_key_b64(self.key.public_key())


def _parties(count: int, start: int) -> list[Party]:
    return [
        Party(make_uscc(f"913503{start + n:011d}"), generate_private_key()) for n in range(count)
    ]


def created_id(envelope: dict[str, Any], index: int) -> str:
    """The id the ledger will give the ``index``-th thing this command creates."""
    command_hash = sha256_hex(signed_bytes(envelope["command"]))
    return hashlib.sha256(f"{command_hash}:{index}".encode()).hexdigest()[:32]


# -- the workload ---------------------------------------------------------------------------

Request = tuple[str, str, dict[str, str], bytes, int, str]  # method, path, headers, body, ok, kind


def _post(envelope: dict[str, Any]) -> Request:
    body = json.dumps(envelope).encode()
    return ("POST", "/v1/commands", {"content-type": "application/json"}, body, 201, "write")


def client_script(
    ledger_id: str,
    level: int,
    number: int,
    rounds: int,
    cores: list[Party],
    supplier: Party,
    peer: Party,
) -> list[Request]:
    """One client's rounds, in order, signed now."""
    now = datetime.now(UTC)
    maturity = (now + timedelta(days=120)).date().isoformat()
    due = (now + timedelta(days=30)).date().isoformat()
    script: list[Request] = []
    for r in range(rounds):
        core = cores[(number + r) % len(cores)]
        tag = f"{level:02d}{number:03d}{r:05d}"

        def signed(signer: Party, type_: str, body: dict[str, Any]) -> dict[str, Any]:
            return sign_command(signer.key, signer.id, type_, body, issued_at=now, ledger=ledger_id)

        issue = signed(
            core,
            "certificate.issue",
            {
                "to": supplier.id,
                "amount": "1000.00",
                "maturity": maturity,
                "trade": {
                    "contract_no": "HT-LOAD",
                    "invoices": [{"no": f"L{tag}A", "amount": "1000.00"}],
                },
            },
        )
        root = created_id(issue, 0)
        accept = signed(supplier, "certificate.accept", {"id": root})
        pay = signed(
            supplier,
            "certificate.transfer",
            {
                "inputs": [root],
                "outputs": [{"to": peer.id, "amount": "300.00"}],
                "trade": {
                    "contract_no": "HT-LOAD-2",
                    "invoices": [{"no": f"L{tag}B", "amount": "300.00"}],
                },
            },
        )
        change = created_id(pay, 1)
        split = signed(
            supplier,
            "certificate.transfer",
            {
                "inputs": [change],
                "outputs": [{"to": supplier.id, "amount": "100.00"}],
                "trade": {"contract_no": "HT-LOAD-3", "invoices": []},
            },
        )
        owe = signed(
            supplier,
            "obligation.register",
            {"creditor": peer.id, "amount": "12.34", "due_date": due, "reference": f"PO{tag}"},
        )
        script += [_post(e) for e in (issue, accept, pay, split, owe)]
        path = f"/v1/wallets/{supplier.id}"
        headers = sign_request(
            supplier.key, supplier.id, "GET", path, timestamp=int(now.timestamp()), ledger=ledger_id
        )
        script.append(("GET", path, headers, b"", 200, "read"))
    return script


# -- a small keep-alive HTTP/1.1 client ----------------------------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request, host: str
) -> tuple[int, bool]:
    """Send ``request``, read its answer: the status, and whether the server closes."""
    method, path, headers, body, _ok, _kind = request
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length, closing = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "connection":
            closing = "close" in value.lower()
    await reader.readexactly(length)
    return status, closing


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _run_client(
    host: str, port: int, script: list[Request]
) -> tuple[list[tuple[str, float, int]], int]:
    """The script over one keep-alive connection: each result, and the connections
    opened (more than one only if the server closed one)."""
    reader, writer = await _connect(host, port)
    opened, results = 1, []
    for request in script:
        started = time.perf_counter()
        status, closing = await _exchange(reader, writer, request, f"{host}:{port}")
        results.append((request[5], time.perf_counter() - started, status))
        if closing:
            writer.close()
            reader, writer = await _connect(host, port)
            opened += 1
    writer.close()
    return results, opened


def _worker(args: tuple[str, int, list[list[Request]], float]) -> tuple[list[Any], float, int]:
    host, port, scripts, start_at = args

    async def main() -> tuple[list[Any], int]:
        while time.monotonic() < start_at:
            await asyncio.sleep(0.001)
        clients = await asyncio.gather(*(_run_client(host, port, s) for s in scripts))
        return [item for batch, _ in clients for item in batch], sum(n for _, n in clients)

    results, opened = asyncio.run(main())
    return results, time.monotonic(), opened


def drive(port: int, scripts: list[list[Request]], processes: int) -> tuple[list[Any], float, int]:
    """Run the scripts concurrently from ``processes`` processes: the results, the wall
    time and the connections opened (one per script when every one was kept alive)."""
    shares = [scripts[i::processes] for i in range(processes)]
    start_at = time.monotonic() + 1.0
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        outcomes = pool.map(_worker, [("127.0.0.1", port, share, start_at) for share in shares])
    results = [item for part, _end, _opened in outcomes for item in part]
    wall_s = max(end for _part, end, _opened in outcomes) - start_at
    return results, wall_s, sum(opened for *_x, opened in outcomes)


# -- the server -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    if postgres is None:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/load.db"
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"dcc_load_{os.getpid()}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, suppliers: int) -> tuple[str, list[Party], list[Party]]:
    """Migrate, write the genesis, admit the parties and set the cores' limits."""
    engine = make_engine(url)
    upgrade(engine)
    ledger = Ledger(engine)
    [operator] = _parties(1, 1)
    cores, members = _parties(CORES, 100), _parties(suppliers, 1000)
    ledger.genesis(operator.id, "Operator", operator.public_key)

    def run(type_: str, body: dict[str, Any]) -> None:
        ledger.execute(
            sign_command(
                operator.key,
                operator.id,
                type_,
                body,
                issued_at=datetime.now(UTC),
                ledger=ledger.ledger_id(),
            )
        )

    for party, role in [*((c, "core") for c in cores), *((s, "supplier") for s in members)]:
        body = {"id": party.id, "name": role, "roles": [role], "public_key": party.public_key}
        run("member.admit", body)
    for core in cores:
        run("limit.set", {"member": core.id, "amount": "9000000000000.00"})
    ledger_id = ledger.ledger_id()
    engine.dispose()
    return ledger_id, cores, members


@contextmanager
def server(url: str, workers: int) -> Iterator[int]:
    """`dcc serve --workers N` on a free port, once every worker has started its app."""
    port = _free_port()
    command = ["serve", "--db", url, "--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *command], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            # The port accepts before the workers serve (uvicorn binds it in the parent):
            # wait for every worker's startup line instead.
            deadline = time.monotonic() + 60
            while _started(log) < workers:
                if time.monotonic() > deadline or process.poll() is not None:
                    fd = log.fileno()
                    output = os.pread(fd, os.fstat(fd).st_size, 0).decode()
                    raise RuntimeError(f"dcc serve did not start: {output}")
                time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=20)


def _started(log: Any) -> int:
    """Workers started so far, from the log the server is still writing (``pread``: the
    server shares the file's offset, which a seek here would move under it)."""
    fd = log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).count(b"Application startup complete")


# -- measuring ------------------------------------------------------------------------------------


def percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verify_rate() -> float:
    key = generate_private_key()
    public, message = public_key_b64(key.public_key()), b"x" * 300
    signature = sign(key, message)
    count, started = 3000, time.perf_counter()
    for _ in range(count):
        assert verify(public, signature, message)
    return count / (time.perf_counter() - started)


def level(
    port: int, ledger_id: str, clients: int, commands: int, cores: list[Party], members: list[Party]
) -> dict[str, Any]:
    rounds = max(1, commands // (COMMANDS_PER_ROUND * clients))
    scripts = [
        client_script(
            ledger_id, clients, n, rounds, cores, members[n], members[(n + 1) % len(members)]
        )
        for n in range(clients)
    ]
    results, wall_s, opened = drive(port, scripts, min(clients, 2))
    failed = _failed(results, opened - clients)
    writes = [s for kind, s, _ok in results if kind == "write"]
    reads = [s for kind, s, _ok in results if kind == "read"]
    return {
        "clients": clients,
        "commands": len(writes),
        "failed": failed,
        "per_s": len(writes) / wall_s,
        "write_ms": [percentile_ms(writes, q) for q in (0.50, 0.95, 0.99)],
        "read_ms": [percentile_ms(reads, q) for q in (0.50, 0.99)],
    }


def _failed(results: list[Any], reconnects: int) -> Counter[Any]:
    """Unexpected statuses, and connections the server closed (every client is meant to
    keep one connection alive for its whole script)."""
    failed: Counter[Any] = Counter(s for kind, _s, s in results if s != EXPECTED[kind])
    if reconnects:
        failed["reconnect"] = reconnects
    return failed


def noop(port: int, clients: int, requests: int) -> dict[str, Any]:
    probe: Request = ("GET", "/livez", {}, b"", 200, "noop")
    scripts = [[probe] * (requests // clients) for _ in range(clients)]
    results, wall_s, opened = drive(port, scripts, min(clients, 2))
    latencies = [s for _kind, s, _ok in results]
    return {
        "per_s": len(results) / wall_s,
        "failed": _failed(results, opened - clients),
        "p50_ms": percentile_ms(latencies, 0.5),
        "p99_ms": percentile_ms(latencies, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--commands", type=int, default=2000, help="per level")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server; else SQLite")
    parser.add_argument("--workers", type=int, default=1, help="dcc serve --workers N")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    kind = "PostgreSQL" if args.postgres else "SQLite"
    ed25519_per_s = verify_rate()
    with database(args.postgres) as url:
        ledger_id, cores, members = prepare(url, max(levels) + 1)
        with server(url, args.workers) as port:
            base = noop(port, 8, 4000)
            rows = [level(port, ledger_id, c, args.commands, cores, members) for c in levels]
        verified = subprocess.run(
            [sys.executable, "-m", "api.cli", "verify", "--db", url],
            capture_output=True,
            text=True,
            check=False,
        )
    print(
        f"\n{kind}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"dcc serve --workers {args.workers}"
    )
    print(
        f"no-op GET /livez, 8 clients: {base['per_s']:,.0f}/s, p50 {base['p50_ms']:.2f} ms, "
        f"p99 {base['p99_ms']:.2f} ms; Ed25519 verify {ed25519_per_s:,.0f}/s per core"
    )
    print(
        "| clients | commands | commands/s | × no-op | × verify "
        "| write p50/95/99 ms | × no-op p50 | read p50/99 | failed |"
    )
    print("|---:|---:|---:|---:|---:|---|---:|---|---|")
    for row in rows:
        p50, p95, p99 = row["write_ms"]
        r50, r99 = row["read_ms"]
        print(
            f"| {row['clients']} | {row['commands']} | {row['per_s']:,.0f} | "
            f"{row['per_s'] / base['per_s']:.2f} | {row['per_s'] / ed25519_per_s:.3f} | "
            f"{p50:.1f} / {p95:.1f} / {p99:.1f} | {p50 / base['p50_ms']:.1f} | "
            f"{r50:.1f} / {r99:.1f} | {dict(row['failed']) or 0} |"
        )
    print(f"dcc verify: {verified.stdout.strip() or verified.stderr.strip()}")
    if verified.returncode != 0 or any(row["failed"] for row in rows) or base["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
