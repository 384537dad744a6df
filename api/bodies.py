"""Request bodies, bounded while they stream, for every route.

A pure ASGI middleware around the whole app, so no route can forget it:

* a ``GET``, ``HEAD``, ``DELETE`` or ``OPTIONS`` that announces a body (a
  ``Content-Length`` above 0 or any ``Transfer-Encoding``) is refused at once,
  ``400 body-not-allowed``, before a byte of it is read;
* a declared ``Content-Length`` above ``request_body_bytes_max`` is refused at once,
  ``413 payload-too-large``;
* otherwise the body is counted as it arrives, whatever its framing (chunked included),
  and the read that passes ``request_body_bytes_max`` raises ``payload-too-large``: at
  most the limit (plus one network read) is ever held;
* the whole body must arrive within ``request_body_read_s_max`` of the first read of
  it, or ``408 request-timeout``.

A response sent before the request body was read to its end carries
``Connection: close``: the server then closes the connection instead of reading and
discarding the rest of a body nobody wants.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request

from api.errors import refusal_response
from ledger.errors import Refusal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class BodyLimit:
    def __init__(self, app: App, bytes_max: int, read_s_max: float) -> None:
        self.app = app
        self.bytes_max = bytes_max
        self.read_s_max = read_s_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        declared_bytes = int(declared) if declared and declared.isdigit() else None
        has_body = "transfer-encoding" in headers or bool(declared_bytes)
        refusal = self._refuse_early(scope["method"], has_body, declared_bytes)
        if refusal is not None:
            await _answer(refusal, scope, receive, send, close=has_body)
            return
        body = _Body(self.bytes_max, self.read_s_max, done=not has_body)
        await self.app(scope, body.receiving(receive), body.sending(send))

    def _refuse_early(
        self, method: str, has_body: bool, declared_bytes: int | None
    ) -> Refusal | None:
        if has_body and method in BODYLESS_METHODS:
            return Refusal("body-not-allowed", f"a {method} request carries no body")
        if declared_bytes is not None and declared_bytes > self.bytes_max:
            return Refusal("payload-too-large", f"at most {self.bytes_max} bytes")
        return None


class _Body:
    """One request's body as it streams: bytes read so far, the deadline, the end."""

    def __init__(self, bytes_max: int, read_s_max: float, *, done: bool) -> None:
        self.bytes_max = bytes_max
        self.read_s_max = read_s_max
        self.read_bytes = 0
        self.deadline: float | None = None
        self.done = done  # the last part has been read (or there is no body)

    def receiving(self, receive: Receive) -> Receive:
        async def limited() -> Message:
            if self.done:  # after the body, receive only reports a disconnect
                return await receive()
            if self.deadline is None:
                self.deadline = time.monotonic() + self.read_s_max
            try:
                with anyio.fail_after(max(0.0, self.deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise Refusal(
                    "request-timeout", f"the body took longer than {self.read_s_max:g} s"
                ) from None
            if message["type"] == "http.request":
                self.read_bytes += len(message.get("body", b""))
                if self.read_bytes > self.bytes_max:
                    raise Refusal("payload-too-large", f"at most {self.bytes_max} bytes")
                self.done = not message.get("more_body", False)
            else:
                self.done = True  # disconnected
            return message

        return limited

    def sending(self, send: Send) -> Send:
        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.done:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        return closing


async def _answer(
    refusal: Refusal, scope: Scope, receive: Receive, send: Send, *, close: bool
) -> None:
    response = refusal_response(refusal, Request(scope))
    if close:
        response.headers["connection"] = "close"
    await response(scope, receive, send)
