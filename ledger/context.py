"""What a rule may know about the entry it is deciding, besides the state it loaded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.settings import Settings

Effects = dict[str, Any]
ID_HEX_LENGTH = 32


@dataclass(frozen=True)
class Context:
    seq: int  # the seq the entry will get
    now: datetime  # the server clock, read once inside the lock
    command_hash: str  # SHA-256 of the signed command bytes
    settings: Settings

    def derive_id(self, index: int) -> str:
        """The id of the ``index``-th thing this command creates.

        Derived from the signed command (unique per signer and nonce), so a client
        knows the ids of what it creates before it submits, and replay rebuilds them.
        """
        digest = hashlib.sha256(f"{self.command_hash}:{index}".encode()).hexdigest()
        return digest[:ID_HEX_LENGTH]
