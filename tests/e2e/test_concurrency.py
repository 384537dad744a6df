"""Many clients at once against a real server process, on SQLite and PostgreSQL.

Each thread signs its own command and POSTs it over real HTTP at the same moment
(a barrier releases them together). Whatever the interleaving, exactly one of the
competing commands may win, and the ledger afterwards must verify.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from api.client import DccClient
from tests.conftest import Chain

THREADS = 32


def race(base: str, make_requests: list[Any]) -> list[httpx.Response]:
    """Run each ``request(http)`` in its own thread, all released at once."""
    barrier = threading.Barrier(len(make_requests))
    results: list[httpx.Response | None] = [None] * len(make_requests)

    def run(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            results[index] = make_requests[index](http)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(make_requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_32_concurrent_transfers_of_one_certificate(chain: Chain, live_server: str) -> None:
    root = chain.issued("1000.00")
    recipients = [chain.s2, chain.s3, chain.bank]
    envelopes = []
    for i in range(THREADS):
        amount = f"{10 + i}.00"
        body = {
            "inputs": [root],
            "outputs": [{"to": recipients[i % 3].id, "amount": amount}],
            "trade": {"contract_no": f"C{i}", "invoices": [chain.new_invoice(amount)]},
        }
        envelopes.append(
            DccClient(chain.http, chain.s1.id, chain.s1.key).envelope("certificate.transfer", body)
        )
    responses = race(
        live_server, [(lambda http, e=e: http.post("/v1/commands", json=e)) for e in envelopes]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1, [r.text for r in responses if r.status_code != 409][:3]
    assert statuses[409] == THREADS - 1
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {"not-spendable"}
    winner = next(r.json() for r in responses if r.status_code == 201)
    tree = chain.client(chain.core).get(f"/v1/certificates/{root}/tree").json()
    live = [p for p in tree["pieces"] if p["state"] in ("pending", "active")]
    assert sum(int(p["amount"].replace(".", "")) for p in live) == 100000
    assert {p["id"] for p in live} == {
        c["id"] for c in winner["effects"]["certificates"] if c["state"] != "spent"
    }
    assert chain.ledger.verify().ok


def test_concurrent_issuances_cannot_overuse_one_invoice(chain: Chain, live_server: str) -> None:
    invoice = chain.new_invoice("1000.00")
    core = DccClient(chain.http, chain.core.id, chain.core.key, clock=chain.clock)
    envelopes = [
        core.envelope(
            "certificate.issue",
            {
                "to": chain.s1.id,
                "amount": "300.00",
                "maturity": _maturity(chain),
                "trade": {"contract_no": f"C{i}", "invoices": [invoice]},
            },
        )
        for i in range(16)
    ]
    responses = race(
        live_server, [(lambda http, e=e: http.post("/v1/commands", json=e)) for e in envelopes]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 3 and statuses[422] == 13, statuses
    assert {r.json()["type"] for r in responses if r.status_code == 422} == {"invoice-overused"}
    assert chain.ledger.verify().ok


def test_concurrent_reuse_of_one_nonce(chain: Chain, live_server: str) -> None:
    operator = DccClient(chain.http, chain.operator.id, chain.operator.key, clock=chain.clock)
    from tests.conftest import new_actor

    nonce = "same-nonce-for-everyone"
    different = []
    for _ in range(12):
        actor = new_actor()
        different.append(
            operator.envelope(
                "member.admit",
                {
                    "id": actor.id,
                    "name": "N",
                    "roles": ["supplier"],
                    "public_key": actor.public_key,
                },
                nonce=nonce,
            )
        )
    identical = [different[0]] * 4
    responses = race(
        live_server,
        [(lambda http, e=e: http.post("/v1/commands", json=e)) for e in different + identical],
    )
    statuses = Counter(r.status_code for r in responses)
    # The first envelope (sent 5 times) may win or lose; exactly one command is applied.
    assert statuses[201] == 1, statuses
    applied = next(r.json() for r in responses if r.status_code == 201)
    replays = [r for r in responses if r.status_code == 200]
    assert all(r.json() == applied for r in replays)
    refused = [r for r in responses if r.status_code == 409]
    assert {r.json()["type"] for r in refused} == {"replayed-nonce"}
    assert len(refused) + len(replays) == 15
    assert chain.ledger.head().seq == applied["seq"]  # type: ignore[union-attr]


def _maturity(chain: Chain) -> str:
    from tests.conftest import business_date

    return business_date(chain.clock, 60)
