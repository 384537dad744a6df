"""Helpers shared by the HTTP tests: answers that must be receipts, refusals that must
have written nothing, and amounts read back from the wire."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.catalog import CATALOG, CommandType
from ledger.commands import WireModel
from ledger.keys import generate_private_key, private_key_pem, public_key_b64
from ledger.repository import Repository
from tests.conftest import Chain, World

PROBLEM = "application/problem+json"


def ok(response: Any) -> dict[str, Any]:
    """The JSON of a 200 or 201 answer."""
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int, type_: str) -> dict[str, Any]:
    """A problem+json answer with this status and type, and a detail for people."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == type_, body
    assert body["status"] == status and body["detail"], body
    return body


def refused(world: World, response: Any, status: int, type_: str) -> dict[str, Any]:
    """A refusal with its type that wrote nothing: no entry holds the refused command.

    Entry and projections are written in one transaction, so no entry means nothing of
    the command was applied.
    """
    problem = assert_problem(response, status, type_)
    sent = json.loads(response.request.content)
    command = sent.get("command") if isinstance(sent, dict) else None
    if isinstance(command, dict) and "signer" in command and "nonce" in command:
        with world.ledger.connect() as conn, conn.begin():
            written = Repository(conn).entry_by_nonce(command["signer"], command["nonce"])
        assert written is None, f"a refused command was recorded at seq {written.entry.seq}"
    return problem


def certs(response: Any) -> list[dict[str, Any]]:
    """The certificates a receipt's effects carry."""
    return list(ok(response)["effects"]["certificates"])


def head(world: World) -> int:
    """The seq of the newest entry."""
    found = world.ledger.head()
    assert found is not None
    return found.seq


def fen(amount: str) -> int:
    """A wire amount in fen."""
    yuan, _, cents = amount.partition(".")
    return int(yuan) * 100 + int(cents.ljust(2, "0"))


class IdBody(WireModel):
    id: str


def _unprojectable(repo: Any, cmd: Any, signer: Any, ctx: Any) -> dict[str, Any]:
    """Effects the database refuses when they are written (a member without a name)."""
    row = {
        "id": cmd.body.id,
        "name": None,
        "roles": ["supplier"],
        "status": "active",
        "key_id": "0" * 32,
        "public_key": "x",
        "admitted_seq": ctx.seq,
    }
    return {"members": [row]}


def declare_unprojectable(monkeypatch: pytest.MonkeyPatch) -> str:
    """Declare, for one test, a command type ``test.broken`` that any member may submit
    as ``{"id": …}`` and whose effects the database refuses; its type."""
    kind = CommandType("test.broken", IdBody, frozenset(), _unprojectable, frozenset(), "x")
    monkeypatch.setitem(CATALOG, kind.type, kind)
    return kind.type


def at_business_date(chain: Chain, day: str, hour: int = 10) -> None:
    """Move the clock to ``hour`` o'clock on ``day``, China Standard Time."""
    chain.clock.set(datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(UTC))


def limit_outstanding_fen(chain: Chain) -> int:
    """The core's issuance limit outstanding, as its issuer report shows it."""
    report = ok(chain.client(chain.core).get(f"/v1/reports/issuer/{chain.core.id}"))
    [period] = report["period"]
    return fen(period["outstanding"])


def publish_log_key(world: World, tmp_path: Path) -> str:
    """Give the server a log key (in tmp) and publish it; its public key."""
    private = generate_private_key()
    path = tmp_path / "log.key"
    path.write_bytes(private_key_pem(private))
    world.ledger.settings = replace(world.ledger.settings, log_key_file=str(path))
    public = public_key_b64(private.public_key())
    body = {"name": f"dcc/{world.ledger.ledger_id()}", "public_key": public}
    ok(world.client(world.operator).submit("ledger.log_key", body))
    return public
