"""Sixteen applications at once against one credit line, on a real server process.

Each applicant signs its own ``financing.apply`` and all are released together over
real HTTP. Whatever the order the sequencer takes them in, the line is never
overdrawn: the faces of the applications that succeeded add up to at most the line, and
every application refused with ``credit-line-exceeded`` would not fit in what is left.
"""

from __future__ import annotations

from collections import Counter

from api.client import DccClient
from tests.conftest import Chain, business_date
from tests.e2e.test_concurrency import race
from tests.helpers import fen, ok

APPLICATIONS = 16
LINE = "1000.00"


def test_16_concurrent_applications_never_take_more_than_the_line(
    chain: Chain, live_server: str
) -> None:
    line = {
        "core": chain.core.id,
        "amount": LINE,
        "annual_rate": "0.0385",
        "expires_on": business_date(chain.clock, 365),
    }
    ok(chain.client(chain.bank).submit("credit_line.set", line))
    holders = [chain.s1, chain.s2, chain.s3]
    faces = [f"{60 + 7 * i}.00" for i in range(APPLICATIONS)]  # 60.00 … 165.00: 1,800.00
    envelopes = []
    for i, face in enumerate(faces):
        holder = holders[i % len(holders)]
        piece = chain.issued(face, to=holder)
        client = DccClient(chain.http, holder.id, holder.key, ledger=chain.ledger.ledger_id())
        body = {"certificate": piece, "bank": chain.bank.id}
        envelopes.append((face, client.envelope("financing.apply", body)))
    responses = race(
        live_server,
        [(lambda http, e=e: http.post("/v1/commands", json=e)) for _, e in envelopes],
    )
    outcomes = Counter(
        r.status_code if r.status_code == 201 else r.json()["type"] for r in responses
    )
    assert set(outcomes) <= {201, "credit-line-exceeded"}, outcomes
    taken = sum(
        fen(face) for (face, _), r in zip(envelopes, responses, strict=True) if r.status_code == 201
    )
    left = fen(LINE) - taken
    assert left >= 0, taken
    refused = [
        fen(face) for (face, _), r in zip(envelopes, responses, strict=True) if r.status_code != 201
    ]
    assert refused and all(face > left for face in refused), (left, refused)
    exposure = ok(chain.client(chain.bank).get(f"/v1/banks/{chain.bank.id}/exposure"))
    (shown,) = exposure["lines"]
    assert (fen(shown["pending"]), fen(shown["used"]), fen(shown["available"])) == (taken, 0, left)
    requested = ok(
        chain.client(chain.bank).get(f"/v1/financings?member={chain.bank.id}&state=requested")
    )
    assert len(requested["financings"]) == outcomes[201]
    assert chain.ledger.verify().ok
