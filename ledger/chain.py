"""The journal: an append-only chain of entries, each hashing the one before.

An entry is ``{seq, prev_hash, recorded_at, command, signature, effects}`` and its
``entry_hash`` is SHA-256 over the RFC 8785 bytes of exactly that object. The first
entry (seq 1, the genesis that admits the operator) has ``prev_hash`` of 64 zeros.
Changing any field of any entry changes its hash, which breaks the link stored in the
next entry: a rewrite cannot stay quiet.

    >>> e1, _, _ = make_entry(1, GENESIS_PREV_HASH, "2026-11-22T08:00:00.000000Z",
    ...                       {"type": "ledger.genesis"}, None, {})
    >>> e2, _, _ = make_entry(2, e1.entry_hash, "2026-11-22T08:00:01.000000Z",
    ...                       {"type": "x"}, "sig", {})
    >>> e2.prev_hash == e1.entry_hash
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ledger.canonical import canonical_bytes, sha256_hex

GENESIS_PREV_HASH = "0" * 64
GENESIS_TYPE = "ledger.genesis"
# Entries the service writes itself, unsigned, are declared in ``ledger.system``.
EXPIRE_TYPE = "certificate.expire"
FINANCING_EXPIRE_TYPE = "financing.expire"
OVERDUE_TYPE = "certificate.overdue"
NOTICE_TYPE = "settlement.notice"
SETTINGS_TYPE = "ledger.settings"


@dataclass(frozen=True)
class Entry:
    seq: int
    prev_hash: str
    recorded_at: str
    command: dict[str, Any]
    signature: str | None
    effects: dict[str, Any]
    entry_hash: str

    def hashed_part(self) -> dict[str, Any]:
        return hashed_part(
            self.seq, self.prev_hash, self.recorded_at, self.command, self.signature, self.effects
        )


def hashed_part(
    seq: int,
    prev_hash: str,
    recorded_at: str,
    command: dict[str, Any],
    signature: str | None,
    effects: dict[str, Any],
) -> dict[str, Any]:
    """The object an entry hash covers: the entry without ``entry_hash``."""
    return {
        "seq": seq,
        "prev_hash": prev_hash,
        "recorded_at": recorded_at,
        "command": command,
        "signature": signature,
        "effects": effects,
    }


def entry_bytes(
    seq: int,
    prev_hash: str,
    recorded_at: str,
    command_bytes: bytes,
    signature: str | None,
    effects_bytes: bytes,
) -> bytes:
    """The RFC 8785 bytes of :func:`hashed_part`, composed from parts already in that form.

    JCS of an object is its members sorted by key, each value in its own JCS form, so the
    writer need not canonicalise the (large) command and effects a second time. The
    keys below are in JCS order; a property test checks this equals ``canonical_bytes``.
    """
    return b"".join(
        (
            b'{"command":',
            command_bytes,
            b',"effects":',
            effects_bytes,
            b',"prev_hash":',
            _string(prev_hash),
            b',"recorded_at":',
            _string(recorded_at),
            b',"seq":',
            str(seq).encode(),
            b',"signature":',
            _string(signature),
            b"}",
        )
    )


def _string(text: str | None) -> bytes:
    """The RFC 8785 form of a hex hash, a timestamp or a base64url signature (or null):
    ASCII with nothing to escape, so JSON's own — but anything else goes the full way."""
    if text is None or (type(text) is str and text.isascii() and text.isprintable()):
        return orjson.dumps(text)
    return canonical_bytes(text)


def make_entry(
    seq: int,
    prev_hash: str,
    recorded_at: str,
    command: dict[str, Any],
    signature: str | None,
    effects: dict[str, Any],
    *,
    command_bytes: bytes | None = None,
    effects_bytes: bytes | None = None,
) -> tuple[Entry, bytes, bytes]:
    """A new entry, with the canonical bytes of its command and effects (as stored;
    made here unless the caller has them)."""
    assert seq >= 1 and len(prev_hash) == 64, (seq, prev_hash)
    command_bytes = command_bytes if command_bytes is not None else canonical_bytes(command)
    effects_bytes = effects_bytes if effects_bytes is not None else canonical_bytes(effects)
    data = entry_bytes(seq, prev_hash, recorded_at, command_bytes, signature, effects_bytes)
    entry = Entry(seq, prev_hash, recorded_at, command, signature, effects, sha256_hex(data))
    return entry, command_bytes, effects_bytes
