"""Discounting over HTTP on a real database: lines, tiers, apply, decide, cancel, expiry.

Prices are worked out here independently of ``ledger.pricing``, with ``Fraction`` and
the calendar facts written out: the frozen clock's today is Monday 2026-03-02 (China
Standard Time); a 90-day certificate matures on Sunday 2026-05-31, so it is paid on
Monday 2026-06-01, 91 days later.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from tests.conftest import Actor, Chain, business_date
from tests.helpers import certs, fen, ok, refused

RATE = "0.0385"
PAYMENT_DATE, DAYS = "2026-06-01", 91  # of a 90-day piece issued on the frozen today


def half_up(exact: Fraction) -> int:
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def interest(face_fen: int, rate: str, days: int, basis: int = 360) -> int:
    return half_up(face_fen * Fraction(rate) * days / basis)


def set_line(chain: Chain, amount: str = "500000.00", rate: str = RATE, **extra: Any) -> Any:
    body = {
        "core": chain.core.id,
        "amount": amount,
        "annual_rate": rate,
        "expires_on": business_date(chain.clock, 365),
    } | extra
    return chain.client(chain.bank).submit("credit_line.set", body)


def apply(chain: Chain, who: Actor, piece: str, amount: str | None = None, bank: Actor | None = None) -> Any:
    body: dict[str, Any] = {"certificate": piece, "bank": (bank or chain.bank).id}
    if amount is not None:
        body["amount"] = amount
    return chain.client(who).submit("financing.apply", body)


def decide(chain: Chain, financing: str, approve: bool = True, **extra: Any) -> Any:
    body: dict[str, Any] = {"id": financing, "approve": approve}
    if approve:
        body.setdefault("registration_ref", "ZDW-2026-0001")
    return chain.client(chain.bank).submit("financing.decide", body | extra)


def line_of(chain: Chain) -> dict[str, Any]:
    exposure = ok(chain.client(chain.bank).get(f"/v1/banks/{chain.bank.id}/exposure"))
    (line,) = [line for line in exposure["lines"] if line["core"] == chain.core.id]
    return line


@pytest.fixture
def financed(chain: Chain) -> Chain:
    """A line of 500 000.00 at 3.85 % for the core's paper, and s1 rated B."""
    ok(set_line(chain))
    ok(chain.client(chain.operator).submit("member.set_tier", {"id": chain.s1.id, "tier": "B"}))
    return chain


def test_apply_for_part_of_a_piece_then_the_bank_approves(financed: Chain) -> None:
    chain = financed
    root = chain.issued("1000.00")
    applied = ok(apply(chain, chain.s1, root, "400.00"))
    pieces = applied["effects"]["certificates"]
    by_state = {p["state"]: p for p in pieces}
    assert set(by_state) == {"spent", "locked", "active"}
    locked, rest = by_state["locked"], by_state["active"]
    assert (locked["amount"], rest["amount"]) == ("400.00", "600.00")
    assert locked["holder"] == rest["holder"] == chain.s1.id
    assert locked["level"] == rest["level"] == 1 and locked["parent_ids"] == [root]
    (financing,) = applied["effects"]["financings"]
    assert locked["financing"] == financing["id"] and financing["certificate"] == locked["id"]
    assert (financing["state"], financing["bank"], financing["core"]) == (
        "requested",
        chain.bank.id,
        chain.core.id,
    )
    # Tier B: 3.85 % × 1.4 = 5.39 %; 40 000 fen for 91 days on basis 360.
    quote = financing["quote"]
    expected = interest(40_000, "0.0539", DAYS)
    agreed = interest(40_000, RATE, DAYS)
    assert (quote["rate"], quote["days"], quote["payment_date"]) == ("0.0539", DAYS, PAYMENT_DATE)
    assert fen(quote["interest"]) == expected and fen(quote["spread"]) == expected - agreed
    assert fen(quote["disbursement"]) == 40_000 - expected and quote["fee"] == "0.00"
    assert applied["effects"]["credit_lines"][0]["pending"] == "400.00"

    waiting = ok(chain.client(chain.bank).get(f"/v1/financings?member={chain.bank.id}&state=requested"))
    assert [f["id"] for f in waiting["financings"]] == [financing["id"]]

    decided = ok(decide(chain, financing["id"], disbursement_ref="TX-1"))
    (assigned,) = decided["effects"]["certificates"]
    assert (assigned["id"], assigned["holder"], assigned["state"]) == (
        locked["id"],
        chain.bank.id,
        "active",
    )
    (record,) = decided["effects"]["financings"]
    assert record["state"] == "approved" and record["registration_ref"] == "ZDW-2026-0001"
    assert fen(record["terms"]["interest"]) == expected and record["terms"]["days"] == DAYS
    line = line_of(chain)
    assert (line["used"], line["pending"], line["available"]) == ("400.00", "0.00", "499600.00")
    # The issuer's tree shows the bank as the holder (notice of assignment).
    tree = ok(chain.client(chain.core).get(f"/v1/certificates/{root}/tree"))
    holders = {p["id"]: p["holder"] for p in tree["pieces"]}
    assert holders[locked["id"]] == chain.bank.id and holders[rest["id"]] == chain.s1.id
    assert chain.ledger.verify().ok


def test_a_rejection_gives_the_piece_back_and_frees_the_line(financed: Chain) -> None:
    chain = financed
    root = chain.issued("1000.00")
    financing = ok(apply(chain, chain.s1, root))["effects"]["financings"][0]
    assert financing["certificate"] == root  # the whole piece: no split
    rejected = ok(decide(chain, financing["id"], approve=False, reason="outside appetite"))
    (piece,) = rejected["effects"]["certificates"]
    assert (piece["id"], piece["state"], piece["holder"]) == (root, "active", chain.s1.id)
    assert "financing" not in piece
    assert rejected["effects"]["financings"][0]["state"] == "rejected"
    assert line_of(chain)["pending"] == "0.00"
    refused(chain, decide(chain, financing["id"]), 409, "already-decided")
    assert chain.ledger.verify().ok
