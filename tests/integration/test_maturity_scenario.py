"""A maturity from issuance to the last late payment, over HTTP on a real database.

Two roots of the core are split, transferred, financed and left in flight; maturity
comes; the sweep brings home what was in flight; some pieces are paid on the payment
date, one root in part, the rest late. At the end every root is closed exactly, the
late interest is owed as confirmed obligations, the issuance limit and the bank's line
are back where they started, and ``dcc verify`` passes.

Calendar facts, written out (independent of ``ledger.calendar``; cross-checked with
``chinesecalendar`` 1.11.0: ``is_workday`` is False from 2026-05-01 to 2026-05-05, True
on 2026-05-06):

- The frozen today is Monday 2026-03-02 (China Standard Time). A 60-day piece matures
  on Friday 2026-05-01, Labour Day.
- The State Council's 2026 Labour Day holiday runs Friday 1 May to Tuesday 5 May (with
  Saturday 9 May a make-up working day), so the payment date rolls to Wednesday
  2026-05-06.
- Days late are calendar days after the payment date (grace 0): paid on Monday
  2026-05-11 is 5 days late, on Thursday 2026-05-14 is 8 days late.
- Late interest is amount × 0.0005 × days late, half-up to the fen (figures below).
"""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.conftest import Actor, Chain, business_date
from tests.helpers import at_business_date, certs, fen, limit_outstanding_fen, ok, refused

MATURITY, PAYMENT_DATE = "2026-05-01", "2026-05-06"
DAYS_TO_MATURITY = 60  # from Monday 2026-03-02


def pay(chain: Chain, body: dict[str, Any]) -> dict[str, Any]:
    return ok(chain.client(chain.core).submit("settlement.pay", body))


def line_of(chain: Chain) -> dict[str, Any]:
    exposure = ok(chain.client(chain.bank).get(f"/v1/banks/{chain.bank.id}/exposure"))
    lines: list[dict[str, Any]] = exposure["lines"]
    (line,) = [line for line in lines if line["core"] == chain.core.id]
    return line


def tree(chain: Chain, root: str) -> dict[str, dict[str, Any]]:
    """Every piece of ``root`` by id (one page holds them all here)."""
    page = ok(chain.client(chain.core).get(f"/v1/certificates/{root}/tree"))
    assert page["next_cursor"] is None
    return {p["id"]: p for p in page["pieces"]}


def sent(chain: Chain, sender: Actor, piece: str, to: Actor, amount: str) -> tuple[str, str]:
    """Transfer ``amount`` of ``piece`` to ``to`` (not yet accepted): (sent, change)."""
    moved = certs(chain.transfer(sender, [piece], [(to, amount)]))
    (out,) = [p["id"] for p in moved if p["holder"] == to.id and p["state"] == "pending"]
    (change,) = [p["id"] for p in moved if p["holder"] == sender.id and p["state"] == "active"]
    return out, change


def accepted(chain: Chain, who: Actor, piece: str) -> str:
    ok(chain.client(who).submit("certificate.accept", {"id": piece}))
    return piece


def paid_fen(piece: dict[str, Any]) -> int:
    """What was paid of a piece (the wire leaves out a paid of 0)."""
    return fen(piece.get("paid", "0.00"))


def by_piece(receipt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["certificate"]: p for p in receipt["effects"]["payments"]}


def test_two_roots_from_issuance_through_maturity_to_the_last_late_payment(
    chain: Chain, database_url: str
) -> None:
    bank, core, s1, s2, s3 = chain.bank, chain.core, chain.s1, chain.s2, chain.s3
    terms = {
        "core": core.id,
        "amount": "500000.00",
        "annual_rate": "0.0385",
        "expires_on": business_date(chain.clock, 365),
    }
    ok(chain.client(bank).submit("credit_line.set", terms))
    for supplier in (s1, s2):
        ok(chain.client(chain.operator).submit("member.set_tier", {"id": supplier.id, "tier": "B"}))
    assert limit_outstanding_fen(chain) == 0 and line_of(chain)["used"] == "0.00"

    # -- Monday 2026-03-02: issue, split over three levels, finance a part ------------------
    root_a = chain.issued("1000.00", days=DAYS_TO_MATURITY)
    root_b = chain.issued("800.00", days=DAYS_TO_MATURITY)
    assert tree(chain, root_a)[root_a]["maturity"] == MATURITY
    to_s2, s1_a = sent(chain, s1, root_a, s2, "600.00")  # s1 keeps 400.00 of root A
    accepted(chain, s2, to_s2)
    to_s3, s2_change = sent(chain, s2, to_s2, s3, "250.00")  # s2 keeps 350.00
    accepted(chain, s3, to_s3)
    b_s3, s1_b = sent(chain, s1, root_b, s3, "300.00")  # s1 keeps 500.00 of root B
    accepted(chain, s3, b_s3)
    assert {p["level"] for p in tree(chain, root_a).values()} == {1, 2, 3}

    applied = ok(chain.client(s2).submit(
        "financing.apply", {"certificate": s2_change, "bank": bank.id, "amount": "200.00"}
    ))  # fmt: skip
    (financed,) = applied["effects"]["financings"]
    (s2_a,) = [p["id"] for p in applied["effects"]["certificates"] if p["state"] == "active"]
    decided = ok(chain.client(bank).submit(
        "financing.decide",
        {"id": financed["id"], "approve": True, "registration_ref": "ZDW-2026-0001"},
    ))  # fmt: skip
    (bank_a,) = decided["effects"]["certificates"]
    assert (bank_a["holder"], bank_a["amount"], bank_a["state"]) == (bank.id, "200.00", "active")
    bank_a_id = bank_a["id"]
    assert line_of(chain)["used"] == "200.00"

    # -- Thursday 2026-04-30, the day before maturity: one piece sent, one application ------
    at_business_date(chain, "2026-04-30")
    pending, s3_a = sent(chain, s3, to_s3, s2, "100.00")  # s3 keeps 150.00; s2 never accepts
    undecided = ok(chain.client(s1).submit(
        "financing.apply", {"certificate": s1_a, "bank": bank.id}
    ))["effects"]["financings"][0]  # fmt: skip
    assert undecided["certificate"] == s1_a  # the whole piece, locked: no split
    assert tree(chain, root_a)[s1_a]["state"] == "locked"
    assert line_of(chain)["pending"] == "400.00"

    # -- Friday 2026-05-01 08:00, maturity: what was in flight comes home --------------------
    # Neither the 7-day acceptance deadline nor the 24-hour window has passed: it is
    # maturity that sends them home.
    at_business_date(chain, MATURITY, hour=8)
    assert chain.ledger.sweep_all() >= 2
    pieces = tree(chain, root_a)
    assert pieces[pending]["state"] == "expired"
    (s3_back,) = [p for p in pieces.values() if pending in p["parent_ids"]]
    assert (s3_back["holder"], s3_back["amount"], s3_back["state"]) == (s3.id, "100.00", "active")
    s3_back_id = s3_back["id"]
    expired = ok(chain.client(s1).get(f"/v1/financings/{undecided['id']}"))
    assert expired["state"] == "expired"
    unlocked = pieces[s1_a]
    assert (unlocked["holder"], unlocked["state"]) == (s1.id, "active")
    assert unlocked.get("financing") is None
    assert (line_of(chain)["pending"], line_of(chain)["used"]) == ("0.00", "200.00")

    # -- Wednesday 2026-05-06, the payment date: three pieces in full, root B in part -------
    at_business_date(chain, PAYMENT_DATE)
    on_time = pay(chain, {"pieces": [bank_a_id, s3_a, s3_back_id], "payment_ref": "P-A-1"})
    paid = by_piece(on_time)
    assert {k: (v["holder"], fen(v["amount"]), v["days_late"]) for k, v in paid.items()} == {
        bank_a_id: (bank.id, 20_000, 0),
        s3_a: (s3.id, 15_000, 0),
        s3_back_id: (s3.id, 10_000, 0),
    }
    assert "obligations" not in on_time["effects"]  # on time: no late interest
    assert {p["state"] for p in on_time["effects"]["certificates"]} == {"settled"}
    assert line_of(chain)["used"] == "0.00"  # the bank's paper is paid: its line restored

    # 333.33 over root B's 500.00 (s1) and 300.00 (s3) of 800.00: exact shares
    # 33 333 × 5/8 = 20 833.125 and 33 333 × 3/8 = 12 499.875 fen; the floors 20 833 and
    # 12 499 leave 1 fen, which goes to the larger remainder (0.875): s3's piece.
    part = by_piece(pay(chain, {"root": root_b, "amount": "333.33", "payment_ref": "P-B-1"}))
    assert {k: (fen(v["amount"]), v["days_late"]) for k, v in part.items()} == {
        s1_b: (20_833, 0),
        b_s3: (12_500, 0),
    }
    shown = tree(chain, root_b)
    assert (shown[s1_b]["state"], shown[s1_b]["paid"]) == ("active", "208.33")
    assert (shown[b_s3]["state"], shown[b_s3]["paid"]) == ("active", "125.00")

    # -- Monday 2026-05-11, five days late: the rest is overdue, the issuer blocked ---------
    at_business_date(chain, "2026-05-11")
    assert chain.ledger.sweep_all() >= 1
    overdue = {s1_a, s2_a, s1_b, b_s3}
    states = {i: p["state"] for r in (root_a, root_b) for i, p in tree(chain, r).items()}
    assert {i for i, state in states.items() if state == "overdue"} == overdue
    refused(chain, chain.issue("10.00"), 409, "issuer-overdue")

    # 40 000 × 0.0005 × 5 = 100 fen; 15 000 × 0.0005 × 5 = 37.5 → 38 fen (half-up).
    late_a = pay(chain, {"pieces": [s1_a, s2_a], "payment_ref": "P-A-2"})
    expected_a = {s1_a: (s1.id, 40_000, 5, 100), s2_a: (s2.id, 15_000, 5, 38)}
    assert_late(chain, late_a, expected_a)
    refused(chain, chain.issue("10.00"), 409, "issuer-overdue")  # root B still overdue

    # -- Thursday 2026-05-14, eight days late: root B's rest, named by its root --------------
    # Outstanding 50 000 − 20 833 = 29 167 and 30 000 − 12 500 = 17 500 fen, 46 667 in all:
    # the whole of it pays each piece in full. 29 167 × 0.0005 × 8 = 116.668 → 117 fen;
    # 17 500 × 0.0005 × 8 = 70 fen.
    at_business_date(chain, "2026-05-14")
    late_b = pay(chain, {"root": root_b, "amount": "466.67", "payment_ref": "P-B-2"})
    expected_b = {s1_b: (s1.id, 29_167, 8, 117), b_s3: (s3.id, 17_500, 8, 70)}
    assert_late(chain, late_b, expected_b)
    assert late_b["effects"]["limits"][0]["outstanding"] == "0.00"

    # -- Every root closed exactly; the limit and the line where they started ---------------
    for root, face_fen in ((root_a, 100_000), (root_b, 80_000)):
        pieces = tree(chain, root)
        assert sum(paid_fen(p) for p in pieces.values()) == face_fen
        assert {p["state"] for p in pieces.values()} <= {"spent", "expired", "settled"}
        for piece in pieces.values():
            assert paid_fen(piece) == (fen(piece["amount"]) if piece["state"] == "settled" else 0)
    receipts = (on_time, late_a, late_b)
    payments = [p for r in receipts for p in r["effects"]["payments"]]
    assert sum(fen(p["amount"]) for p in payments if p["root_id"] == root_a) == 100_000
    assert sum(fen(p["amount"]) for p in payments if p["root_id"] == root_b) == 80_000 - 33_333
    assert limit_outstanding_fen(chain) == 0
    assert (line_of(chain)["used"], line_of(chain)["pending"]) == ("0.00", "0.00")

    # Each paid holder's history shows the payment (what its webhooks are derived from).
    for holder in (bank, s1, s2, s3):
        history = ok(chain.client(holder).get(f"/v1/wallets/{holder.id}/history"))
        assert "settlement.pay" in {e["type"] for e in history["entries"]}, holder

    ok(chain.issue("10.00"))  # nothing overdue: the block is gone
    assert chain.ledger.verify().ok
    result = CliRunner().invoke(cli_app, ["verify", "--db", database_url])
    assert result.exit_code == 0, result.output


def assert_late(
    chain: Chain, receipt: dict[str, Any], expected: dict[str, tuple[str, int, int, int]]
) -> None:
    """Each piece paid (holder, amount, days late, late interest in fen), the interest
    owed as a confirmed obligation of the issuer to the holder, due on the payment day."""
    paid = by_piece(receipt)
    assert {
        k: (v["holder"], fen(v["amount"]), v["days_late"], fen(v["late_interest"]))
        for k, v in paid.items()
    } == expected
    assert {p["state"] for p in receipt["effects"]["certificates"]} == {"settled"}
    owed = {o["id"]: o for o in receipt["effects"]["obligations"]}
    assert len(owed) == len(expected)
    today = business_date(chain.clock)
    for piece, (holder, _, _, interest_fen) in expected.items():
        obligation_id = paid[piece]["obligation"]
        for viewer in (chain.core, _actor(chain, holder)):  # both parties read the debt
            shown = ok(chain.client(viewer).get(f"/v1/obligations/{obligation_id}"))
            assert shown == owed[obligation_id]
        shown = owed[obligation_id]
        assert (shown["debtor"], shown["creditor"], shown["state"]) == (
            chain.core.id,
            holder,
            "confirmed",
        )
        assert fen(shown["amount"]) == fen(shown["outstanding"]) == interest_fen
        assert shown["due_date"] == today


def _actor(chain: Chain, member_id: str) -> Actor:
    (actor,) = [a for a in (chain.s1, chain.s2, chain.s3, chain.bank) if a.id == member_id]
    return actor
