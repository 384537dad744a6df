"""A real `dcc serve` against clients that try to hold it: raw sockets on loopback.

Every test is bounded in time (a few seconds, deadlines below) and in bytes sent; the
server runs with short timeouts from its DCC_* settings so that the bounds are small.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.db import make_engine
from ledger.service import Ledger
from tests.conftest import new_actor, new_member_id
from tests.e2e.conftest import Server, running

HEAD_READ_S = 2
KEEP_ALIVE_S = 1
SLACK_S = 1.5  # scheduling slack on a busy machine, on top of each bound


@pytest.fixture
def database_url(database_url: str) -> str:
    """An initialised ledger: `/healthz`, the probe these tests send, is 200 only then."""
    operator = new_actor()
    ledger = Ledger(make_engine(database_url))
    try:
        ledger.genesis(operator.id, "Platform operator", operator.public_key)
    finally:
        ledger.close()
    return database_url


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"].startswith("application/problem+json"), self
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def parse_response(data: bytes) -> Response:
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return Response(int(status_line.split()[1]), headers, rest[:length])


def read_response(sock: socket.socket) -> Response:
    """One response with a Content-Length, leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    return parse_response(data)


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def until_closed(sock: socket.socket, timeout_s: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes; and how long that took (None: the
    connection was still open after ``timeout_s``)."""
    started = time.monotonic()
    data = b""
    while (left := started + timeout_s - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data, time.monotonic() - started
        data += chunk
    return data, None


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


# -- bodies ---------------------------------------------------------------------------

CHUNK_BYTES = 64 * 1024
SENT_BYTES_MAX = 64 * 1024 * 1024


def test_a_chunked_body_is_refused_once_it_passes_the_limit(database_url: str) -> None:
    """Hundreds of megabytes would do; 64 MiB is enough to tell "read whole" from
    "refused at the limit", which the server reaches after 256 KiB."""
    with running(database_url) as server:
        peak_before_kib = peak_rss_kib(server.pid)
        sock = server.connect()
        sock.sendall(
            b"POST /v1/commands HTTP/1.1\r\nHost: dcc\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(until_closed(sock, 30)[0]))
        reader.start()
        chunk = b"%x\r\n" % CHUNK_BYTES + b"x" * CHUNK_BYTES + b"\r\n"
        sent = 0
        try:
            while sent < SENT_BYTES_MAX:
                sock.sendall(chunk)
                sent += CHUNK_BYTES
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server closed the connection: the point of the test
        reader.join(timeout=30)
        sock.close()
        growth_kib = peak_rss_kib(server.pid) - peak_before_kib
    print(f"chunked body: {sent} bytes taken before the refusal; peak RSS +{growth_kib} KiB")
    # What the server read is at most the limit; the rest of what was sent before the
    # close is what loopback socket buffers held (a few MiB).
    assert sent < SENT_BYTES_MAX // 2, f"{sent} bytes were taken before the refusal"
    assert growth_kib < 32 * 1024, f"the server grew by {growth_kib} KiB"
    assert received and received[0], "no answer, and the connection stayed open"
    response = parse_response(received[0])
    assert response.status == 413 and response.problem()["type"] == "payload-too-large"
    assert response.headers["connection"] == "close"


def test_a_get_with_a_body_is_answered_before_the_body_is_sent(database_url: str) -> None:
    """No authentication headers and a chunked body that never comes: answered at once."""
    with running(database_url) as server:
        sock = server.connect(timeout_s=5)
        sock.sendall(
            f"GET /v1/members/{new_member_id()} HTTP/1.1\r\nHost: dcc\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        data, closed_after_s = until_closed(sock, 5)
        sock.close()
    assert closed_after_s is not None, "the server waited for the body"
    response = parse_response(data)
    assert response.status == 400 and response.problem()["type"] == "body-not-allowed"


# -- connections ----------------------------------------------------------------------


def test_a_slow_header_client_is_cut_off_within_the_head_deadline(database_url: str) -> None:
    """One byte a second, on a fresh connection and on a kept-alive one."""
    with running(
        database_url, request_head_read_s_max=str(HEAD_READ_S), http_keep_alive_s="30"
    ) as server:
        fresh = server.connect()
        kept = server.connect()
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: dcc\r\n\r\n")
        assert read_response(kept).status == 200
        for sock in (fresh, kept):
            data, closed_after_s = trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: dcc\r\nX-A: b")
            sock.close()
            assert closed_after_s is not None, "a slow head held the connection"
            assert closed_after_s <= HEAD_READ_S + SLACK_S, closed_after_s
            response = parse_response(data)
            assert response.status == 408 and response.problem()["type"] == "request-timeout"


def trickle(sock: socket.socket, head: bytes) -> tuple[bytes, float | None]:
    """Send ``head`` one byte a second until the server answers or closes."""
    started = time.monotonic()
    for byte in head:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        data, closed_after_s = until_closed(sock, 1.0)
        if data or closed_after_s is not None:
            rest, _ = until_closed(sock, 1.0)
            return data + rest, time.monotonic() - started
    return b"", None


def test_idle_connections_are_closed(database_url: str) -> None:
    """A connection that never sends a request, and a kept-alive one that sends no next."""
    with running(
        database_url,
        request_head_read_s_max=str(HEAD_READ_S),
        http_keep_alive_s=str(KEEP_ALIVE_S),
    ) as server:
        silent = server.connect()
        data, closed_after_s = until_closed(silent, HEAD_READ_S + SLACK_S + 3)
        silent.close()
        assert closed_after_s is not None, "a silent connection was kept open"
        assert closed_after_s <= HEAD_READ_S + SLACK_S
        assert parse_response(data).status == 408

        kept = server.connect()
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: dcc\r\n\r\n")
        assert read_response(kept).status == 200
        data, closed_after_s = until_closed(kept, KEEP_ALIVE_S + SLACK_S + 3)
        kept.close()
        assert closed_after_s is not None, "an idle kept-alive connection was kept open"
        assert closed_after_s <= KEEP_ALIVE_S + SLACK_S and data == b""


def test_past_the_connection_cap_a_request_is_503(database_url: str) -> None:
    cap = 3
    with running(database_url, http_connections_max=str(cap), http_keep_alive_s="30") as server:
        held = [server.connect() for _ in range(cap)]
        for sock in held:  # each answered, and each stays open (kept alive)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: dcc\r\n\r\n")
            assert read_response(sock).status == 200
        extra = server.connect()
        extra.sendall(b"GET /v1/ledger HTTP/1.1\r\nHost: dcc\r\n\r\n")
        response = read_response(extra)
        extra.close()
        assert response.status == 503 and response.problem()["type"] == "unavailable"
        assert response.headers["retry-after"] == "1"
        # The health check and the liveness probe are answered even at the cap: a
        # monitor must always reach them.
        for probe in ("/healthz", "/livez"):
            monitor = server.connect()
            monitor.sendall(f"GET {probe} HTTP/1.1\r\nHost: dcc\r\n\r\n".encode())
            assert read_response(monitor).status == 200, probe
            monitor.close()
        for sock in held:
            sock.close()
        assert answered_200_within(server, 5), "the server did not recover below the cap"


def test_one_peer_cannot_hold_the_servers_connections(database_url: str) -> None:
    """Silent connections from one address fill that address's share only: the next one
    is closed at once, while another address is still served (found by an attack that
    held 1,005 silent sockets and reopened each as the head deadline closed it)."""
    share = 3
    settings = {"http_connections_per_peer_max": str(share), "request_head_read_s_max": "30"}
    with running(database_url, **settings) as server:
        silent = [server.connect() for _ in range(share)]
        extra = server.connect(timeout_s=5)
        data, closed_after_s = until_closed(extra, 3)
        extra.close()
        assert closed_after_s is not None and data == b"", "a connection past the share stayed"
        other = server.connect(source="127.0.0.2")
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: dcc\r\nConnection: close\r\n\r\n")
        assert read_response(other).status == 200
        other.close()
        for sock in silent:
            sock.close()
        assert answered_200_within(server, 5), "the peer was not served again below its share"


def answered_200_within(server: Server, timeout_s: float) -> bool:
    """Whether a fresh request is served within ``timeout_s`` (the server notices the
    closed connections asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: dcc\r\nConnection: close\r\n\r\n")
            if read_response(sock).status == 200:
                return True
        time.sleep(0.1)
    return False


def test_an_oversized_request_head_is_a_problem_not_a_hang(database_url: str) -> None:
    """Whether the head is still arriving or arrives whole in one read, and on a fresh
    or a kept-alive connection."""
    big = b"GET /healthz HTTP/1.1\r\nHost: dcc\r\nX-Big: " + b"a" * 16 * 1024
    with running(database_url, request_head_bytes_max=str(8 * 1024)) as server:
        for head in (big, big + b"\r\n\r\n"):
            for kept_alive in (False, True):
                sock = server.connect(timeout_s=5)
                if kept_alive:
                    sock.sendall(b"GET /livez HTTP/1.1\r\nHost: dcc\r\n\r\n")
                    assert read_response(sock).status == 200
                sock.sendall(head)
                data, closed_after_s = until_closed(sock, 5)
                sock.close()
                assert closed_after_s is not None
                response = parse_response(data)
                assert response.status == 400 and response.problem()["type"] == "bad-request"
                assert response.headers["connection"] == "close"
        within = server.connect(timeout_s=5)  # a head just under the limit is served
        within.sendall(
            b"GET /livez HTTP/1.1\r\nHost: dcc\r\nX-Big: " + b"a" * 7 * 1024 + b"\r\n\r\n"
        )
        assert read_response(within).status == 200
        within.close()


def test_a_malformed_request_head_is_a_bad_request_problem(database_url: str) -> None:
    with running(database_url) as server:
        for head in (
            b"GET /livez HTTP/1.1\r\nHost: dcc\r\nNo colon here\r\n\r\n",
            b"GET /livez HTTP/9.9\r\nHost: dcc\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS on the plain port
        ):
            sock = server.connect(timeout_s=5)
            sock.sendall(head)
            data, closed_after_s = until_closed(sock, 5)
            sock.close()
            assert closed_after_s is not None, head
            response = parse_response(data)
            assert response.status == 400 and response.problem()["type"] == "bad-request"


def test_pipelined_requests_are_each_answered_in_order(database_url: str) -> None:
    """Requests sent back to back in one write (the head state follows each one)."""
    with running(database_url) as server:
        sock = server.connect(timeout_s=5)
        sock.sendall(
            b"GET /livez HTTP/1.1\r\nHost: dcc\r\n\r\n"
            b"GET /v1/nowhere HTTP/1.1\r\nHost: dcc\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: dcc\r\nConnection: close\r\n\r\n"
        )
        data, closed_after_s = until_closed(sock, 5)
        sock.close()
    assert closed_after_s is not None
    statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    assert statuses == [200, 404, 200], data


def test_a_slow_body_is_cut_off_within_the_body_deadline(database_url: str) -> None:
    """The head arrives at once; the body one byte a second."""
    body_read_s = 2
    with running(database_url, request_body_read_s_max=str(body_read_s)) as server:
        sock = server.connect()
        sock.sendall(
            b"POST /v1/commands HTTP/1.1\r\nHost: dcc\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        data, closed_after_s = trickle(sock, b"{" * 10)  # of the 100 announced
        sock.close()
    assert closed_after_s is not None, "a slow body held the connection"
    assert closed_after_s <= body_read_s + SLACK_S, closed_after_s
    response = parse_response(data)
    assert response.status == 408 and response.problem()["type"] == "request-timeout"
    assert response.headers["connection"] == "close"
