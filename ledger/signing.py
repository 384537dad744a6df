"""The client side of signing: build signed command envelopes and signed read headers.

Members run this on their own machines with their own private keys; the service only
ever verifies. The demo, the CLI and the tests use it to act as members.

Every signature is bound to one ledger: a command names it in ``command.ledger``, and a
signed read covers it as its first line. The ledger id is the ``entry_hash`` of the
ledger's genesis entry, published unauthenticated at ``GET /v1/ledger``; a command or a
read signed for another deployment (test, staging, another platform that admitted the
same key) is ``bad-signature`` here.

A signed read carries four headers; the signature covers the ledger id, ``METHOD``, the
path with its query (``?query`` only when there is one), the timestamp and the body's
SHA-256::

    9f2c…(the 64-hex ledger id)
    GET
    /v1/members/91350100M000100Y43
    1795334400
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.commands import signed_bytes
from ledger.keys import key_id_of_raw, public_key_raw, sign

HEADER_MEMBER = "X-DCC-Member"
HEADER_KEY_ID = "X-DCC-Key-Id"
HEADER_TIMESTAMP = "X-DCC-Timestamp"
HEADER_SIGNATURE = "X-DCC-Signature"


def key_id_for(private_key: Ed25519PrivateKey) -> str:
    return key_id_of_raw(public_key_raw(private_key.public_key()))


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def sign_command(
    private_key: Ed25519PrivateKey,
    signer: str,
    command_type: str,
    body: dict[str, Any],
    *,
    issued_at: datetime,
    ledger: str,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A signed envelope ``{"command": {...}, "signature": ...}`` ready to POST to the
    ledger whose id is ``ledger``."""
    command = {
        "type": command_type,
        "ledger": ledger,
        "signer": signer,
        "key_id": key_id_for(private_key),
        "nonce": nonce or new_nonce(),
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": body,
    }
    return {"command": command, "signature": sign(private_key, signed_bytes(command))}


def request_message(
    ledger: str, method: str, path_query: str, timestamp: str, body: bytes
) -> bytes:
    """The bytes a signed read covers."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{ledger}\n{method.upper()}\n{path_query}\n{timestamp}\n{digest}".encode()


def sign_request(
    private_key: Ed25519PrivateKey,
    member: str,
    method: str,
    path_query: str,
    *,
    timestamp: int,
    ledger: str,
    body: bytes = b"",
) -> dict[str, str]:
    """The four ``X-DCC-*`` headers of a signed read of the ledger whose id is ``ledger``."""
    message = request_message(ledger, method, path_query, str(timestamp), body)
    return {
        HEADER_MEMBER: member,
        HEADER_KEY_ID: key_id_for(private_key),
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(private_key, message),
    }
