"""A small Python client that signs for you: commands and reads as one member.

    >>> client = DccClient(httpx.Client(base_url="http://127.0.0.1:8000"), member_id, key)
    >>> client.submit("member.admit", {...}).json()["seq"]
    >>> client.get(f"/v1/members/{member_id}").json()

``http`` is any ``httpx.Client`` (FastAPI's TestClient is one), so the same client
drives a live server and the in-process app.
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
    ) -> None:
        self.http = http
        self.member = member
        self.private_key = private_key
        self.clock = clock

    def envelope(self, command_type: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("issued_at", self.clock())
        return sign_command(self.private_key, self.member, command_type, body, **kwargs)

    def post_envelope(self, envelope: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v1/commands", json=envelope)

    def submit(self, command_type: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.post_envelope(self.envelope(command_type, body, **kwargs))

    def get(self, path_query: str) -> httpx.Response:
        headers = sign_request(
            self.private_key,
            self.member,
            "GET",
            path_query,
            timestamp=int(self.clock().timestamp()),
        )
        return self.http.get(path_query, headers=headers)
