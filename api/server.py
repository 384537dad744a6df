"""`dcc serve`: uvicorn with every timeout and limit set on purpose.

uvicorn bounds an *idle* kept-alive connection (``timeout_keep_alive``) and the size of
a request head (``h11_max_incomplete_event_size``), but it has no deadline on *reading*
a request head: its keep-alive timer is cancelled by every byte received, so a client
that sends its headers one byte a second (slowloris) holds a connection for ever, and a
connection that never sends a byte is never closed. :class:`BoundedH11Protocol` adds
that deadline to uvicorn's own h11 protocol:

* a request head must be complete within ``request_head_read_s_max`` of the connection
  opening, or of the first byte of the next request on a kept-alive connection; if not,
  the server answers ``408 request-timeout`` and closes the connection;
* between requests, uvicorn's keep-alive timeout closes an idle connection;
* past ``http_connections_max`` connections or requests in flight, a request is
  answered ``503 unavailable`` (uvicorn's ``limit_concurrency``, answered here as
  problem+json like every other error) — except ``/healthz``, which an operator's
  monitor must always reach — and a malformed request head ``400 bad-request``;
* one peer address holds at most ``http_connections_per_peer_max`` connections: a
  client opening silent connections (and reopening each as the head deadline closes
  it) fills its own share, not the server's, and the next it opens is closed at once.

The body of a request is bounded by :mod:`api.bodies` (size and read time), which is an
ASGI middleware and so also guards the in-process app the tests drive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.errors import PROBLEM_JSON, status_of
from ledger.errors import PROBLEMS
from ledger.settings import Settings

log = logging.getLogger("dcc.server")


def problem_bytes(type_: str, detail: str) -> tuple[int, bytes]:
    """The status and problem+json body of ``type_``, for answers outside the app."""
    status = status_of(type_)
    body = {"type": type_, "title": PROBLEMS[type_].title, "status": status, "detail": detail}
    return status, json.dumps(body).encode()


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head (see the module)."""

    head_read_s_max: float = 10.0  # set per server by :func:`protocol_class`
    connections_per_peer_max: int = 0  # 0: no cap per peer address

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timer: asyncio.TimerHandle | None = None
        # uvicorn's own over-limit answer is text/plain; gate the app here instead.
        self.connections_max = self.limit_concurrency
        self.limit_concurrency = None
        self.app = self._gated(self.app)

    def _gated(self, app: Any) -> Any:
        async def gated(scope: Any, receive: Any, send: Any) -> None:
            cap = self.connections_max
            over = cap is not None and (len(self.connections) > cap or len(self.tasks) > cap)
            if over and scope.get("path") != "/healthz":
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
            await app(scope, receive, send)

        return gated

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._peer_is_over_its_share():
            log.warning("closing a connection from %s: at its connection cap", self.client)
            transport.close()
            return
        self._arm_head_timer()

    def _peer_is_over_its_share(self) -> bool:
        peer = self.client[0] if self.client else None
        share = self.connections_per_peer_max
        if not share or peer is None:
            return False
        same = sum(1 for c in self.connections if (getattr(c, "client", None) or ("",))[0] == peer)
        return same > share

    def data_received(self, data: bytes) -> None:
        if self.head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the first byte of a new request head
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_timer()  # the head is complete (or the request failed)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._answer_and_close("bad-request", f"{msg} (a malformed or oversized head)")

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self.head_timer = self.loop.call_later(self.head_read_s_max, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self._answer_and_close(
            "request-timeout", f"the request head took longer than {self.head_read_s_max:g} s"
        )

    def _answer_and_close(self, type_: str, detail: str) -> None:
        """Answer ``type_`` as problem+json, if a response can still be sent, and close."""
        status, body = problem_bytes(type_, detail)
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            output = self.conn.send(h11.Response(status_code=status, headers=headers))
            output = (output or b"") + (self.conn.send(h11.Data(data=body)) or b"")
            output += self.conn.send(h11.EndOfMessage()) or b""
            self.transport.write(output)
        except h11.LocalProtocolError:
            pass  # a response was already under way: closing is all that is left
        self.transport.close()


def protocol_class(settings: Settings) -> type[BoundedH11Protocol]:
    """The protocol class for one server, carrying its head-read deadline and its cap
    per peer address."""
    return type(
        "DccH11Protocol",
        (BoundedH11Protocol,),
        {
            "head_read_s_max": float(settings.request_head_read_s_max),
            "connections_per_peer_max": settings.http_connections_per_peer_max,
        },
    )


def run(app: Any, settings: Settings, host: str, port: int) -> None:
    """Serve ``app`` with the limits and timeouts of ``settings`` (docs/operations.md)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        http=protocol_class(settings),
        timeout_keep_alive=settings.http_keep_alive_s,
        h11_max_incomplete_event_size=settings.request_head_bytes_max,
        limit_concurrency=settings.http_connections_max,
        backlog=settings.http_listen_backlog_max,
    )
