"""`dcc serve` expires pending pieces by itself, every DCC_SWEEP_INTERVAL_S."""

from __future__ import annotations

import time

import httpx

from api.client import DccClient
from tests.conftest import Chain, business_date
from tests.e2e.conftest import serve


# Written by a server with a 1 s pending deadline: not re-executable under the
# test ledger's settings (settings are not in the journal).
def test_the_server_sweeps_due_pending_pieces(chain: Chain, database_url: str) -> None:
    server = serve(database_url, {"DCC_PENDING_EXPIRY_S": "1", "DCC_SWEEP_INTERVAL_S": "1"})
    base = next(server)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            core = DccClient(http, chain.core.id, chain.core.key)
            issued = core.submit(
                "certificate.issue",
                {
                    "to": chain.s1.id,
                    "amount": "10.00",
                    "maturity": business_date(chain.clock, 30),
                    "trade": {"contract_no": "C", "invoices": [chain.new_invoice("10.00")]},
                },
            )
            assert issued.status_code == 201, issued.text
            root = issued.json()["effects"]["certificates"][0]["id"]
            state = "pending"
            deadline = time.monotonic() + 20
            while state == "pending" and time.monotonic() < deadline:
                time.sleep(0.5)
                state = core.get(f"/v1/certificates/{root}").json()["state"]
            assert state == "expired"
            limit = core.get(f"/v1/wallets/{chain.core.id}/history?limit=1").json()
            assert limit["entries"][0]["type"] == "certificate.expire"
            assert limit["entries"][0]["signer"] is None
    finally:
        server.close()
    assert chain.ledger.verify(reexecute=False).ok  # the chain holds (see the mark above)
