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
from dataclasses import dataclass

from fastapi import Request

from api.capacity import capacity_of
from ledger.commands import KEY_ID_PATTERN
from ledger.errors import Refusal
from ledger.keys import verify
from ledger.members import Key, Member
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


@dataclass(frozen=True)
class Claim:
    """Who a signed request says it comes from, checked as far as headers allow."""

    key: Key
    member: Member
    timestamp: str
    signature: str


def identify(ledger: Ledger, headers: dict[str, str]) -> Claim:
    """Check the ``X-DCC-*`` headers and find the key they name: everything but the
    signature, which covers the body, so that nothing of a body is read before this."""
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
    # Against the unshifted clock, as for commands (``Ledger``: clients sign with real time).
    skew_s = abs(int(ledger.wall_clock().timestamp()) - int(timestamp))
    if skew_s > ledger.settings.clock_skew_s_max:
        raise Refusal("stale-timestamp", f"X-DCC-Timestamp is {skew_s} s from the server clock")
    with ledger.connect() as conn, conn.begin():
        found = Repository(conn).key_with_member(key_id)
    if found is None or found[0].member != member_id:
        raise Refusal("bad-signature", BAD_SIGNATURE)
    key, member = found
    return Claim(key, member, timestamp, signature)


def authenticate(
    ledger: Ledger, claim: Claim, method: str, target: str, body: bytes, roles: frozenset[str]
) -> Member:
    """The member behind ``claim`` once its signature over the request (and this
    ledger's id) verifies."""
    message = request_message(ledger.ledger_id(), method, target, claim.timestamp, body)
    if not verify(claim.key.public_key, claim.signature, message):
        raise Refusal("bad-signature", BAD_SIGNATURE)
    return authorise_member(claim.key, claim.member, roles)


def reader(*roles: str) -> Callable[[Request], Awaitable[Member]]:
    """A FastAPI dependency: the authenticated member, with one of ``roles`` if given.

    The headers are checked (and the key looked up) before the body is read; the body,
    if any, is bounded by :class:`api.bodies.BodyLimit` (a signed read is a ``GET``, so
    a body is refused there before this runs at all).
    """
    wanted = frozenset(roles)

    async def dependency(request: Request) -> Member:
        headers = {k.lower(): v for k, v in request.headers.items()}
        ledger: Ledger = request.app.state.ledger
        capacity = capacity_of(request.app.state)
        claim = await capacity.read(identify, ledger, headers)
        body = await request.body()
        target = path_query(request)
        return await capacity.read(
            authenticate, ledger, claim, request.method, target, body, wanted
        )

    return dependency
