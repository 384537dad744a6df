"""Discounting end to end between real processes on loopback: `dcc serve` and a bank
played by `dcc bank-sim`, which hears ``financing.requested``, verifies it with the
`standardwebhooks` package and posts its signed ``financing.decide`` back.

A supplier applies for two pieces, one within what the bank approves and one above it.
The bank approves the first (it then holds the piece, and its line shows it used) and
rejects the second (the piece is the supplier's again); the supplier hears both decisions
through its own endpoint, each signed as Standard Webhooks specifies.
"""

from __future__ import annotations

from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from api.client import DccClient
from tests.conftest import Actor, Chain, business_date
from tests.e2e.conftest import free_port
from tests.e2e.test_webhooks import Processes, handled, processes, registered, until
from tests.receiver import receiving

__all__ = ["processes"]  # the fixture, used by name


def _client(http: httpx.Client, who: Actor, chain: Chain) -> DccClient:
    return DccClient(http, who.id, who.key, clock=chain.clock)


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_apply_webhook_signed_decision_and_the_bank_holds_the_piece(
    chain: Chain, database_url: str, processes: Processes
) -> None:
    base, _server = processes.serve(database_url)
    sim_port = free_port()
    processes.bank_sim(chain.bank, base, sim_port, "--approve-up-to", "500.00")
    until(registered(base, chain), "the bank-sim to register")
    with receiving() as supplier_hooks, httpx.Client(base_url=base, timeout=30) as http:
        bank, core, s1 = (_client(http, who, chain) for who in (chain.bank, chain.core, chain.s1))
        line = {
            "core": chain.core.id,
            "amount": "10000.00",
            "annual_rate": "0.0385",
            "expires_on": business_date(chain.clock, 365),
        }
        _ok(bank.submit("credit_line.set", line))
        hook = {"url": supplier_hooks.url, "events": ["financing.decided"]}
        _ok(s1.submit("webhook.set", hook))
        (endpoint,) = _ok(s1.get(f"/v1/webhooks/{chain.s1.id}/secret"))["endpoints"]
        pieces = []
        for amount in ("400.00", "800.00"):
            trade = {"contract_no": "HT-E2E", "invoices": [chain.new_invoice(amount)]}
            body = {
                "to": chain.s1.id,
                "amount": amount,
                "maturity": business_date(chain.clock, 60),
                "trade": trade,
            }
            piece = _ok(core.submit("certificate.issue", body))["effects"]["certificates"][0]
            _ok(s1.submit("certificate.accept", {"id": piece["id"]}))
            pieces.append(piece["id"])
        financings = [
            _ok(s1.submit("financing.apply", {"certificate": p, "bank": chain.bank.id}))
            for p in pieces
        ]
        ids = [f["effects"]["financings"][0]["id"] for f in financings]

        def decided() -> list[dict[str, Any]] | None:
            shown = [_ok(s1.get(f"/v1/financings/{i}")) for i in ids]
            return shown if all(f["state"] != "requested" for f in shown) else None

        approved, rejected = until(decided, "the bank's decisions")
        assert approved["state"] == "approved" and approved["registration_ref"].startswith(
            "BANKSIM-"
        )
        assert rejected["state"] == "rejected" and rejected["reason"]
        held = _ok(bank.get(f"/v1/certificates/{pieces[0]}"))
        assert (held["holder"], held["state"]) == (chain.bank.id, "active")
        back = _ok(s1.get(f"/v1/certificates/{pieces[1]}"))
        assert (back["holder"], back["state"]) == (chain.s1.id, "active")
        (shown,) = _ok(bank.get(f"/v1/banks/{chain.bank.id}/exposure"))["lines"]
        assert (shown["used"], shown["pending"], shown["available"]) == (
            "400.00",
            "0.00",
            "9600.00",
        )
        # The supplier heard both decisions, each verified as a bank would verify it.
        received = supplier_hooks.wait_for(2, timeout_s=30)
        heard = {}
        for delivery in received:
            event = Webhook(endpoint["secret"]).verify(delivery.body, delivery.headers)
            assert event["type"] == "financing.decided"
            heard[event["data"]["id"]] = event["data"]["state"]
        assert heard == {ids[0]: "approved", ids[1]: "rejected"}
    # The bank acted on each request once.
    requests = [
        e for e in handled(processes.directory, chain.bank) if e["type"] == "financing.requested"
    ]
    assert sorted(e["id"] for e in requests) == sorted(ids)
    assert [e["outcome"] for e in requests] == ["applied", "applied"], requests
