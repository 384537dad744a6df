"""`dcc serve`: uvicorn on uvloop and httptools, with every timeout and limit set on purpose.

The front is lean: uvloop's event loop, uvicorn's httptools protocol (llhttp, in C), no
access log, and routes that answer on the event loop unless they must wait for the
database. uvloop also matters for ``--workers``: under uvicorn's workers the plain
asyncio loop leaves ``TCP_NODELAY`` off on accepted connections (the listening socket
reaches each worker without its protocol number, and asyncio sets the option only for
sockets it knows to be TCP), so every keep-alive answer sent in two writes waits for the
client's delayed ACK — about 44 ms a request. uvloop sets it on every TCP connection.

uvicorn bounds an *idle* kept-alive connection (``timeout_keep_alive``), but it has no
deadline on *reading* a request head (its keep-alive timer is cancelled by every byte
received, so a client that sends its headers one byte a second holds a connection for
ever, and a connection that never sends a byte is never closed), and its httptools
protocol bounds neither the size of a head (llhttp keeps a header value growing for as
long as it arrives) nor the connections of one peer. :class:`BoundedHttpToolsProtocol`
adds what is missing:

* a request head must be complete within ``request_head_read_s_max`` of the connection
  opening, or of the first byte of the next request on a kept-alive connection; if not,
  the server answers ``408 request-timeout`` and closes the connection;
* a request head (request line and headers) is at most ``request_head_bytes_max``
  bytes, counted as it arrives and again once parsed; past it, and for a malformed
  head, ``400 bad-request`` and the connection is closed;
* between requests, uvicorn's keep-alive timeout closes an idle connection;
* past ``http_connections_max`` connections or requests in flight, a request is
  answered ``503 unavailable`` (uvicorn's ``limit_concurrency``, answered here as
  problem+json like every other error) — except ``/healthz`` and ``/livez``, which an
  operator's monitor and an orchestrator's liveness probe must always reach (a probe
  failing because the server is busy would have it restarted, and busier still);
* one peer address holds at most ``http_connections_per_peer_max`` connections: a
  client opening silent connections (and reopening each as the head deadline closes
  it) fills its own share, not the server's, and the next it opens is closed at once.

Every limit here is per server process: with ``--workers N`` the kernel spreads
connections over N processes, each with its own caps (docs/operations.md).

uvicorn's h11 protocol is not kept as a fallback: uvloop and httptools are dependencies
(wheels for Linux and macOS), and a second protocol would be a second, untested way to
keep the same guarantees.

The body of a request is bounded by :mod:`api.bodies` (size and read time), which is an
ASGI middleware and so also guards the in-process app the tests drive.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.errors import PROBLEM_JSON, status_of
from ledger import remote
from ledger.db import database_url
from ledger.errors import PROBLEMS
from ledger.jobs import relay
from ledger.settings import Settings

log = logging.getLogger("dcc.server")
SEQUENCER_CHECK_S = 0.5  # how often dcc serve checks that its sequencer process runs

# Answered even at the connection cap: the health check and the liveness probe.
ALWAYS_ANSWERED_PATHS = frozenset({"/healthz", "/livez"})


@functools.cache
def process_settings() -> Settings:
    """This process's settings, read once from the ``DCC_*`` environment: the app and
    every connection's protocol read the same (each worker reads its own copy)."""
    return Settings.from_env()


def problem_bytes(type_: str, detail: str) -> tuple[int, bytes]:
    """The status and problem+json body of ``type_``, for answers outside the app."""
    status = status_of(type_)
    body = {"type": type_, "title": PROBLEMS[type_].title, "status": status, "detail": detail}
    return status, json.dumps(body).encode()


class HeadTooLarge(Exception):
    """A complete request head over the limit (raised inside the parser's callback, which
    makes httptools report the head as malformed)."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request head,
    a cap per peer address and problem+json answers (see the module)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = process_settings()
        self.head_read_s_max = float(settings.request_head_read_s_max)
        self.head_bytes_max = settings.request_head_bytes_max
        self.connections_per_peer_max = settings.http_connections_per_peer_max
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_open = False  # reading a request head: from its first byte to its end
        self.head_bytes = 0  # bytes received since the head opened (a bound, not exact)
        self.head_parsed_bytes = 0  # request line and headers as parsed
        self.message_open = False  # between the parser's message begin and complete
        self.head_refusal = ""
        # uvicorn's own over-limit answer is text/plain; gate the app here instead.
        self.connections_max = self.limit_concurrency
        self.limit_concurrency = None
        self.inner_app = self.app
        self.app = self._gated

    # -- connections ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._peer_is_over_its_share():
            log.warning("closing a connection from %s: at its connection cap", self.client)
            transport.close()
            return
        self._open_head()  # the deadline runs from the connection opening

    def _peer_is_over_its_share(self) -> bool:
        peer = self.client[0] if self.client else None
        share = self.connections_per_peer_max
        if not share or peer is None:
            return False
        same = sum(1 for c in self.connections if (getattr(c, "client", None) or ("",))[0] == peer)
        return same > share

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    async def _gated(self, scope: Any, receive: Any, send: Any) -> None:
        cap = self.connections_max
        over = cap is not None and (len(self.connections) > cap or len(self.tasks) > cap)
        if over and scope.get("path") not in ALWAYS_ANSWERED_PATHS:
            self.logger.warning("connection cap (%d) reached: answering 503", cap)
            status, body = problem_bytes("unavailable", "the server is at its connection cap")
            headers = [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.inner_app(scope, receive, send)

    # -- the request head: its deadline and its size ----------------------------------

    def data_received(self, data: bytes) -> None:
        if not self.head_open and not self.message_open:
            self._open_head()  # the first byte of the next request on a kept-alive connection
        if self.head_open:
            self.head_bytes += len(data)
        super().data_received(data)
        over = self.head_open and self.head_bytes > self.head_bytes_max
        if over and not self.transport.is_closing():
            self._answer_and_close("bad-request", self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.message_open = True
        self.head_parsed_bytes = 0
        if not self.head_open:  # a pipelined request starting inside a read
            self._open_head()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_parsed_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self.head_open = False
        self._cancel_head_timer()
        if self.head_parsed_bytes > self.head_bytes_max:
            self.head_refusal = self._too_large()
            raise HeadTooLarge(self.head_refusal)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.message_open = False

    def send_400_response(self, msg: str) -> None:
        detail = self.head_refusal or f"{msg} (a malformed request head)"
        self._answer_and_close("bad-request", detail)

    def _too_large(self) -> str:
        return f"the request head is over {self.head_bytes_max} bytes"

    def _open_head(self) -> None:
        self.head_open = True
        self.head_bytes = 0
        self._cancel_head_timer()
        self.head_timer = self.loop.call_later(self.head_read_s_max, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or not self.head_open:
            return
        self._answer_and_close(
            "request-timeout", f"the request head took longer than {self.head_read_s_max:g} s"
        )

    def _answer_and_close(self, type_: str, detail: str) -> None:
        """Answer ``type_`` as problem+json, if no response is under way, and close."""
        self._cancel_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            status, body = problem_bytes(type_, detail)
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: ",
                PROBLEM_JSON.encode(),
                b"\r\ncontent-length: ",
                str(len(body)).encode(),
                b"\r\nconnection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        # else: a response was already under way; closing is all that is left.
        self.transport.close()


def worker_app() -> Any:
    """The ASGI app of one server process (uvicorn calls this factory in each worker):
    its own engine, pools and :class:`~ledger.service.Ledger` on ``DCC_DATABASE_URL``,
    which :func:`run` has set and migrated."""
    from api.app import create_app
    from ledger.db import make_engine, pool_options
    from ledger.service import Ledger

    settings = process_settings()
    pool = pool_options(settings.db_write_pool_max, settings.db_pool_timeout_s)
    engine = make_engine(database_url(), **pool)
    address, key = os.environ.get(remote.SOCKET_ENV), os.environ.get(remote.KEY_ENV)
    link = remote.RemoteSequencer(address, bytes.fromhex(key)) if address and key else None
    return create_app(Ledger(engine, settings, remote=link), background_sweep=True)


def uvicorn_options(settings: Settings, host: str, port: int, workers: int) -> dict[str, Any]:
    """uvicorn's options for ``dcc serve`` (docs/operations.md)."""
    return {
        "app": f"{__name__}:worker_app",
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "ws": "none",  # no WebSocket routes: an upgrade must not leave this protocol
        "access_log": False,
        "log_level": "info",
        "timeout_keep_alive": settings.http_keep_alive_s,
        "limit_concurrency": settings.http_connections_max,
        "backlog": settings.http_listen_backlog_max,
    }


def run(url: str, host: str, port: int, workers: int = 1) -> None:
    """Serve the ledger on the migrated database ``url`` from ``workers`` processes
    sharing one listening socket, with the limits and timeouts of the ``DCC_*``
    settings. Each process builds its own app (:func:`worker_app`); they take turns on the
    chain head as any two writers do (a row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on
    SQLite)."""
    assert workers >= 1
    warning = process_settings().clock_offset_warning()
    if warning is not None:  # and again by every worker and the sequencer process
        log.warning(warning)
    os.environ["DCC_DATABASE_URL"] = url  # read by every worker's worker_app()
    with sequencer_process(url), relay_process(url):
        uvicorn.run(**uvicorn_options(process_settings(), host, port, workers))


@contextmanager
def sequencer_process(url: str) -> Iterator[None]:
    """Run the ledger's sequencer in a process of its own (``ledger.remote``) while the
    block runs, tell the workers where it listens, and start another should it end."""
    context = multiprocessing.get_context("spawn")
    directory = tempfile.mkdtemp(prefix="dcc-")
    address, key = os.path.join(directory, "sequencer.sock"), secrets.token_bytes(32)

    def start() -> Any:
        ready = context.Event()
        process = context.Process(
            target=remote.serve, args=(url, address, key, ready), name="dcc-sequencer"
        )
        process.start()
        if not ready.wait(60):
            process.kill()
            raise RuntimeError("the sequencer process did not start")
        return process

    os.environ[remote.SOCKET_ENV], os.environ[remote.KEY_ENV] = address, key.hex()
    try:
        with supervised("sequencer", start):
            yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def relay_process(url: str) -> Iterator[None]:
    """Run the webhook relay (``ledger.jobs.relay``) in a process of its own while the
    block runs: once per deployment whatever ``--workers`` says, and sharing no
    interpreter lock with the sequencer or the front, so sending costs the write path
    nothing (docs/BENCHMARKS.md). Another is started should it end."""
    context = multiprocessing.get_context("spawn")

    def start() -> Any:
        process = context.Process(target=relay.serve, args=(url, os.getpid()), name="dcc-relay")
        process.start()
        return process

    with supervised("relay", start):
        yield


@contextmanager
def supervised(name: str, start: Callable[[], Any]) -> Iterator[None]:
    """Run the process ``start`` starts while the block runs; start another should it end."""
    running = [start()]
    stop = threading.Event()

    def supervise() -> None:
        while not stop.wait(SEQUENCER_CHECK_S):
            if not running[0].is_alive():
                log.error("the %s process ended (%s); starting another", name, running[0].exitcode)
                try:
                    running[0] = start()
                except Exception:  # tried again at the next check
                    log.exception("the %s process did not start", name)

    threading.Thread(target=supervise, name=f"dcc-{name}-supervisor", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        running[0].terminate()
        running[0].join(10)
