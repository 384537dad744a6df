"""A small Python client that signs for you: commands and reads as one member.

    >>> client = DccClient(httpx.Client(base_url="http://127.0.0.1:8000"), member_id, key)
    >>> client.submit("member.admit", {...}).json()["seq"]
    >>> client.get(f"/v1/members/{member_id}").json()

``http`` is any ``httpx.Client`` (FastAPI's TestClient is one), so the same client
drives a live server and the in-process app. Every signature names the ledger it is
for; unless given ``ledger``, the client asks the server once (``GET /v1/ledger``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signing import sign_command, sign_request


def _now() -> datetime:
    return datetime.now(UTC)


class DccClient:
    def __init__(
        self,
        http: httpx.Client,
        member: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], datetime] = _now,
        ledger: str | None = None,
    ) -> None:
        self.http = http
        self.member = member
        self.private_key = private_key
        self.clock = clock
        self._ledger = ledger

    @property
    def ledger(self) -> str:
        """The id of the ledger this client signs for, fetched once when not given."""
        if self._ledger is None:
            self._ledger = fetch_ledger_id(self.http)
        return self._ledger

    def envelope(self, command_type: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("issued_at", self.clock())
        kwargs.setdefault("ledger", self.ledger)
        return sign_command(self.private_key, self.member, command_type, body, **kwargs)

    def post_envelope(self, envelope: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v1/commands", json=envelope)

    def submit(self, command_type: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.post_envelope(self.envelope(command_type, body, **kwargs))

    def get(self, path_query: str, accept: str | None = None) -> httpx.Response:
        headers = self._signed("GET", path_query)
        if accept is not None:  # not signed: it chooses the form, not the data
            headers["Accept"] = accept
        return self.http.get(path_query, headers=headers)

    def post(self, path_query: str) -> httpx.Response:
        """A signed request without a body that is not a command (a redelivery)."""
        return self.http.post(path_query, headers=self._signed("POST", path_query))

    def _signed(self, method: str, path_query: str) -> dict[str, str]:
        return sign_request(
            self.private_key,
            self.member,
            method,
            path_query,
            timestamp=int(self.clock().timestamp()),
            ledger=self.ledger,
        )


def fetch_ledger_id(http: httpx.Client) -> str:
    """The id a server publishes for its ledger (unauthenticated)."""
    response = http.get("/v1/ledger")
    response.raise_for_status()
    ledger_id: str = response.json()["ledger_id"]
    return ledger_id
