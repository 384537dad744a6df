"""A real `dcc serve` process on loopback, against the test's own database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Clock, WallClock


def process_name(pid: int) -> str:
    """A process's name as /proc shows it (``dcc-sequencer``, ``dcc-relay``), or ""."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    """The base URL of `dcc serve` running in its own process on ``database_url``."""
    yield from serve(database_url)


def start_server(
    database_url: str,
    log: IO[str],
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> tuple[str, subprocess.Popen[str]]:
    """Start `dcc serve` (with extra options ``args``) on ``port`` (a free one if None),
    logging to ``log``; its base URL once healthy."""
    # Logs go to a file, not a pipe: an unread pipe fills up and blocks the server.
    port = port or free_port()
    command = ["serve", "--db", database_url, "--port", str(port), *args]
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *command],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log)
    except BaseException:
        process.kill()
        raise
    return base, process


def serve(
    database_url: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Run `dcc serve` (with extra environment ``env`` and options ``args``) until the
    generator closes."""
    with tempfile.TemporaryFile(mode="w+") as log:
        base, process = start_server(database_url, log, env, args)
        try:
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int

    def connect(self, timeout_s: float = 10, source: str | None = None) -> socket.socket:
        """A connection from ``source`` (another loopback address) or the default one."""
        address = (source, 0) if source else None
        sock = socket.create_connection(
            (self.host, self.port), timeout=timeout_s, source_address=address
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@contextmanager
def running(database_url: str, args: tuple[str, ...] = (), **settings: str) -> Iterator[Server]:
    """`dcc serve` with options ``args`` and the given DCC_* settings (names without the
    prefix); its address and process id."""
    env = {f"DCC_{name.upper()}": value for name, value in settings.items()}
    with tempfile.TemporaryFile(mode="w+") as log:
        base, process = start_server(database_url, log, env, args)
        url = urlsplit(base)
        assert url.hostname is not None and url.port is not None
        try:
            yield Server(url.hostname, url.port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=15)


def is_up(health: httpx.Response) -> bool:
    """Whether a ``/healthz`` answer is from a server that serves: ready, or up on a
    ledger not yet initialised (most tests write the genesis entry themselves)."""
    if health.status_code == 200:
        return True
    return health.status_code == 503 and health.json().get("status") == "not-initialised"


def _wait_healthy(base: str, process: subprocess.Popen[str], log: IO[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"dcc serve exited: {log.read()}")
        try:
            if is_up(httpx.get(f"{base}/healthz", timeout=1)):
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("dcc serve did not become healthy")


@pytest.fixture
def clock() -> Clock:
    """A real server process reads the real clock, so its clients sign with it too."""
    return WallClock()
