"""The log key: the service's own Ed25519 key, which signs the Merkle tree's checkpoints.

The operator publishes the key's public half in the journal with ``ledger.log_key``
``{name, public_key}``; a member pins it from the history itself, so a checkpoint the
service signs can be checked without trusting the service's word for its key. Publishing
another key rotates: the one before is retired at that seq, and checkpoints are signed
by the new one from then on. The key is never a member's (a member's key signs commands;
a log key only checkpoints), so a key a member holds is refused, as is a key published
before.

The key's ``name`` is the checkpoints' origin line (c2sp.org/tlog-checkpoint) and the
name in their signature lines; dcc's tools publish ``dcc/<ledger id>``.

    >>> from ledger.keys import generate_private_key, public_key_b64
    >>> public = public_key_b64(generate_private_key().public_key())
    >>> ctx = Context(7, None, "", None)  # type: ignore[arg-type]
    >>> first = publish(None, None, LogKeyBody(name="dcc/ab12", public_key=public), ctx)
    >>> [(k["name"], k["published_seq"], k["retired_seq"]) for k in first["log_keys"]]
    [('dcc/ab12', 7, None)]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import StringConstraints

from ledger.commands import PublicKey, WireModel
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.keys import key_id_of

LOG_KEY_NAME_LENGTH_MAX = 100
# A note key name: printable ASCII, no space and no "+" (c2sp.org/signed-note).
LogKeyName = Annotated[
    str, StringConstraints(pattern=r"^[!-*,-~]{1,100}$", max_length=LOG_KEY_NAME_LENGTH_MAX)
]


class LogKeyBody(WireModel):
    name: LogKeyName
    public_key: PublicKey


@dataclass(frozen=True)
class LogKey:
    key_id: str  # as a member's key id: SHA-256 of the raw public key, truncated
    name: str
    public_key: str  # base64url, as members' keys
    published_seq: int
    retired_seq: int | None

    def wire(self) -> dict[str, Any]:
        from ledger.entities import LOG_KEYS  # which imports this module

        return LOG_KEYS.to_wire(self)


def publish(
    active: LogKey | None, key_owner: str | None, body: LogKeyBody, ctx: Context
) -> Effects:
    """Publish a log key, retiring the ``active`` one. ``key_owner`` is whoever already
    holds this public key: a member, or the log (a key published before)."""
    if key_owner is not None:
        raise Refusal("key-in-use", "this public key is already a member's or was a log key")
    new = LogKey(key_id_of(body.public_key), body.name, body.public_key, ctx.seq, None)
    retired = [] if active is None else [replace(active, retired_seq=ctx.seq).wire()]
    return {"log_keys": [*retired, new.wire()]}
