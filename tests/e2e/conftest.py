"""A real `dcc serve` process on loopback, against the test's own database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO

import httpx
import pytest

from tests.conftest import Clock, WallClock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    """The base URL of `dcc serve` running in its own process on ``database_url``."""
    yield from serve(database_url)


def start_server(
    database_url: str, log: IO[str], env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[str]]:
    """Start `dcc serve` on a free port, logging to ``log``; its base URL once healthy."""
    # Logs go to a file, not a pipe: an unread pipe fills up and blocks the server.
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--db", database_url, "--port", str(port)],
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


def serve(database_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `dcc serve` (with extra environment ``env``) until the generator closes."""
    with tempfile.TemporaryFile(mode="w+") as log:
        base, process = start_server(database_url, log, env)
        try:
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_healthy(base: str, process: subprocess.Popen[str], log: IO[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"dcc serve exited: {log.read()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("dcc serve did not become healthy")


@pytest.fixture
def clock() -> Clock:
    """A real server process reads the real clock, so its clients sign with it too."""
    return WallClock()
