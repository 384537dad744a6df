"""The journal: an append-only chain of entries, each hashing the one before.

An entry is ``{seq, prev_hash, recorded_at, command, signature, effects}`` and its
``entry_hash`` is SHA-256 over the RFC 8785 bytes of exactly that object. The first
entry (seq 1, the genesis that admits the operator) has ``prev_hash`` of 64 zeros.
Changing any field of any entry changes its hash, which breaks the link stored in the
next entry: a rewrite cannot stay quiet.

    >>> e1 = make_entry(1, GENESIS_PREV_HASH, "2026-11-22T08:00:00.000000Z",
    ...                 {"type": "ledger.genesis"}, None, {})
    >>> e2 = make_entry(2, e1.entry_hash, "2026-11-22T08:00:01.000000Z",
    ...                 {"type": "x"}, "sig", {})
    >>> e2.prev_hash == e1.entry_hash
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.canonical import hash_value

GENESIS_PREV_HASH = "0" * 64
GENESIS_TYPE = "ledger.genesis"
# Entries the service writes itself, unsigned: consequences of the clock, not acts of a member.
EXPIRE_TYPE = "certificate.expire"
SYSTEM_TYPES = frozenset({GENESIS_TYPE, EXPIRE_TYPE})


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


def make_entry(
    seq: int,
    prev_hash: str,
    recorded_at: str,
    command: dict[str, Any],
    signature: str | None,
    effects: dict[str, Any],
) -> Entry:
    assert seq >= 1 and len(prev_hash) == 64, (seq, prev_hash)
    entry_hash = hash_value(hashed_part(seq, prev_hash, recorded_at, command, signature, effects))
    return Entry(seq, prev_hash, recorded_at, command, signature, effects, entry_hash)
