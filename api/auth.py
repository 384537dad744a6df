"""Signed reads: authenticate a request by its ``X-DCC-*`` headers, authorise by role.

The signature covers ``LEDGER\\nMETHOD\\nPATH?QUERY\\nTIMESTAMP\\nhex(SHA-256(body))``
where ``LEDGER`` is this ledger's id (``GET /v1/ledger``) and ``?QUERY`` appears only when
the request has a query string, exactly as sent.

A request that does not prove its member gets one answer, ``bad-signature``, whether or
not the member is admitted and whether or not the key is one of its keys.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ledger.commands import KEY_ID_PATTERN
from ledger.errors import Refusal
from ledger.keys import verify
from ledger.members import Member
from ledger.repository import Repository
from ledger.service import BAD_SIGNATURE, Ledger, authorise_member
from ledger.signing import (
    HEADER_KEY_ID,
    HEADER_MEMBER,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_message,
)
from ledger.uscc import is_valid_uscc

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_KEY_ID = re.compile(KEY_ID_PATTERN)


def path_query(request: Request) -> str:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    text = raw_path.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


def authenticate(
    ledger: Ledger,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    roles: frozenset[str],
) -> Member:
    member_id = headers.get(HEADER_MEMBER.lower())
    key_id = headers.get(HEADER_KEY_ID.lower())
    timestamp = headers.get(HEADER_TIMESTAMP.lower())
    signature = headers.get(HEADER_SIGNATURE.lower())
    if not (member_id and key_id and timestamp and signature):
        raise Refusal("unauthenticated", "a signed request needs the four X-DCC-* headers")
    if not is_valid_uscc(member_id) or not _KEY_ID.fullmatch(key_id):
        raise Refusal("unauthenticated", "X-DCC-Member or X-DCC-Key-Id is malformed")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal("unauthenticated", "X-DCC-Timestamp must be unix seconds")
    skew_s = abs(int(ledger.clock().timestamp()) - int(timestamp))
    if skew_s > ledger.settings.clock_skew_s_max:
        raise Refusal("stale-timestamp", f"X-DCC-Timestamp is {skew_s} s from the server clock")
    message = request_message(ledger.ledger_id(), method, target, timestamp, body)
    with ledger.connect() as conn, conn.begin():
        found = Repository(conn).key_with_member(key_id)
    if found is None or found[0].member != member_id:
        raise Refusal("bad-signature", BAD_SIGNATURE)
    key, member = found
    if not verify(key.public_key, signature, message):
        raise Refusal("bad-signature", BAD_SIGNATURE)
    return authorise_member(key, member, roles)


def reader(*roles: str) -> Callable[[Request], Awaitable[Member]]:
    """A FastAPI dependency: the authenticated member, with one of ``roles`` if given."""
    wanted = frozenset(roles)

    async def dependency(request: Request) -> Member:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        ledger: Ledger = request.app.state.ledger
        return await run_in_threadpool(
            authenticate, ledger, request.method, path_query(request), headers, body, wanted
        )

    return dependency
