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

from tests.conftest import Actor, Chain, business_date, new_member_id
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


def apply(
    chain: Chain, who: Actor, piece: str, amount: str | None = None, bank: Actor | None = None
) -> Any:
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
    # The bank's line is the bank's business: the applicant's receipt does not show it.
    assert "credit_lines" not in applied["effects"]
    assert (line_of(chain)["pending"], line_of(chain)["available"]) == ("400.00", "499600.00")

    waiting = ok(
        chain.client(chain.bank).get(f"/v1/financings?member={chain.bank.id}&state=requested")
    )
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
    # The applicant's and the issuer's histories show the approval with the piece.
    for who in (chain.s1, chain.core):
        history = ok(chain.client(who).get(f"/v1/wallets/{who.id}/history"))
        newest = history["entries"][0]
        assert newest["seq"] == decided["seq"] and newest["type"] == "financing.decide"
        assert [c["id"] for c in newest["certificates"]] == [locked["id"]]
    # The issuer's tree shows the bank as the holder (notice of assignment).
    tree = ok(chain.client(chain.core).get(f"/v1/certificates/{root}/tree"))
    holders = {p["id"]: p["holder"] for p in tree["pieces"]}
    assert holders[locked["id"]] == chain.bank.id and holders[rest["id"]] == chain.s1.id
    # The bank's piece is its discounted paper now: not financed again, not by itself.
    refused(chain, apply(chain, chain.bank, locked["id"]), 409, "already-financed")
    paid = chain.transfer(chain.s1, [rest["id"]], [(chain.bank, "100.00")])
    to_bank = next(p for p in certs(paid) if p["holder"] == chain.bank.id)
    ok(chain.client(chain.bank).submit("certificate.accept", {"id": to_bank["id"]}))
    refused(chain, apply(chain, chain.bank, to_bank["id"]), 422, "validation")
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


def test_credit_line_rules(chain: Chain) -> None:
    refused(chain, chain.client(chain.s1).submit("credit_line.set", {
        "core": chain.core.id, "amount": "1.00", "annual_rate": RATE,
        "expires_on": business_date(chain.clock, 30),
    }), 403, "forbidden")  # fmt: skip
    refused(chain, set_line(chain, core=chain.s1.id), 422, "role-mismatch")
    refused(chain, set_line(chain, core=new_member_id()), 404, "member-not-found")
    for bad in (0.0385, "0.37", "0", "-0.01", "0.0000001", "1e-2", " 0.03", "abc"):
        refused(chain, set_line(chain, rate=bad), 422, "validation")  # type: ignore[arg-type]
    late = set_line(chain, expires_on=business_date(chain.clock, -1))
    detail = refused(chain, late, 422, "validation")["detail"]
    assert f"today is {business_date(chain.clock)} in UTC+08:00" in detail, detail
    ok(set_line(chain, amount="1000.00"))
    ok(chain.client(chain.operator).submit("member.set_tier", {"id": chain.s1.id, "tier": "A"}))
    refused(
        chain,
        chain.client(chain.operator).submit("member.set_tier", {"id": chain.core.id, "tier": "A"}),
        422,
        "role-mismatch",
    )
    refused(
        chain,
        chain.client(chain.operator).submit("member.set_tier", {"id": chain.s1.id, "tier": "D"}),
        422,
        "validation",
    )
    ok(apply(chain, chain.s1, chain.issued("600.00")))
    # 600.00 is reserved by the pending application: the line cannot go below it.
    refused(chain, set_line(chain, amount="599.99"), 409, "credit-line-below-use")
    replaced = ok(set_line(chain, amount="600.00", rate="0.04"))["effects"]["credit_lines"][0]
    assert (replaced["amount"], replaced["used"], replaced["annual_rate"]) == (
        "600.00",
        "0.00",
        "0.04",
    )
    assert (line_of(chain)["pending"], line_of(chain)["available"]) == ("600.00", "0.00")
    assert chain.ledger.verify().ok


def test_every_refusal_of_an_application(financed: Chain) -> None:
    chain = financed
    root = chain.issued("1000.00")
    other_bank = chain.admit("bank", name="Other Bank")
    refused(chain, apply(chain, chain.s1, root, bank=chain.s2), 422, "not-a-bank")
    refused(chain, apply(chain, chain.s1, root, bank=other_bank), 422, "no-credit-line")
    refused(chain, apply(chain, chain.s1, root, "1000.01"), 422, "insufficient-amount")
    refused(chain, apply(chain, chain.s1, root, "0.00"), 422, "invalid-amount")
    refused(chain, apply(chain, chain.core, root), 403, "not-holder")
    refused(chain, apply(chain, chain.s2, root), 404, "certificate-not-found")
    # Over what is left of the line, counting a pending application.
    ok(set_line(chain, amount="1500.00"))
    ok(apply(chain, chain.s1, root, "900.00"))
    second = chain.issued("1000.00")
    refused(chain, apply(chain, chain.s1, second, "600.01"), 422, "credit-line-exceeded")
    # A locked piece is neither financeable again nor spendable.
    locked = [
        p["id"]
        for p in ok(chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}"))["certificates"]
        if p["state"] == "locked"
    ]
    refused(chain, apply(chain, chain.s1, locked[0]), 409, "not-spendable")
    refused(chain, chain.transfer(chain.s1, locked, [(chain.s2, "1.00")]), 409, "not-spendable")
    # Maturity tomorrow is one day away: financeable today, not tomorrow.
    soon = chain.issued("10.00", days=1)
    quote = ok(
        chain.client(chain.s1).get(f"/v1/financing/quote?certificate={soon}&bank={chain.bank.id}")
    )
    assert quote["days"] >= 1
    chain.clock.advance(days=1)
    refused(chain, apply(chain, chain.s1, soon), 409, "certificate-matured")
    # An expired line finances nothing.
    ok(set_line(chain, amount="1500.00", expires_on=business_date(chain.clock, 0)))
    chain.clock.advance(days=1)
    refused(chain, apply(chain, chain.s1, second, "10.00"), 422, "credit-line-expired")
    assert chain.ledger.verify().ok


def test_cancel_and_expiry_give_the_piece_back(financed: Chain) -> None:
    chain = financed
    first, second = chain.issued("100.00"), chain.issued("200.00")
    one = ok(apply(chain, chain.s1, first))["effects"]["financings"][0]
    two = ok(apply(chain, chain.s1, second))["effects"]["financings"][0]
    # Only the applicant cancels; to anyone else the application does not exist.
    bank_cancel = chain.client(chain.bank).submit("financing.cancel", {"id": one["id"]})
    refused(chain, bank_cancel, 404, "financing-not-found")
    refused(chain, decide_as(chain, chain.s2, one["id"]), 403, "forbidden")
    cancelled = ok(chain.client(chain.s1).submit("financing.cancel", {"id": one["id"]}))
    assert cancelled["effects"]["financings"][0]["state"] == "cancelled"
    assert cancelled["effects"]["certificates"][0]["state"] == "active"
    refused(chain, decide(chain, one["id"]), 409, "already-decided")
    # The second is left undecided past its 24 h window: the first touch records its expiry.
    chain.clock.advance(hours=24)
    before = chain.ledger.head()
    assert before is not None
    refused(chain, decide(chain, two["id"]), 409, "financing-expired")
    after = chain.ledger.head()
    assert after is not None and after.seq == before.seq + 1  # the system entry, not the decision
    shown = ok(chain.client(chain.s1).get(f"/v1/financings/{two['id']}"))
    assert shown["state"] == "expired"
    piece = ok(chain.client(chain.s1).get(f"/v1/certificates/{second}"))
    assert (piece["state"], piece["holder"]) == ("active", chain.s1.id) and "financing" not in piece
    assert line_of(chain)["pending"] == "0.00"
    refused(
        chain,
        chain.client(chain.s1).submit("financing.cancel", {"id": two["id"]}),
        409,
        "financing-expired",
    )
    assert chain.ledger.verify().ok


def test_the_sweep_expires_applications(financed: Chain) -> None:
    chain = financed
    ids = [
        ok(apply(chain, chain.s1, chain.issued("10.00")))["effects"]["financings"][0]["id"]
        for _ in range(3)
    ]
    chain.clock.advance(hours=23, minutes=59)
    assert chain.ledger.sweep() is None  # not yet due
    chain.clock.advance(minutes=1)
    receipt = chain.ledger.sweep()
    assert receipt is not None
    assert sorted(f["id"] for f in receipt.effects["financings"]) == sorted(ids)
    assert {f["state"] for f in receipt.effects["financings"]} == {"expired"}
    assert line_of(chain)["pending"] == "0.00"
    assert chain.ledger.verify().ok


def decide_as(chain: Chain, who: Actor, financing: str) -> Any:
    body = {"id": financing, "approve": True, "registration_ref": "R-1"}
    return chain.client(who).submit("financing.decide", body)


def test_decision_rules_rate_registration_and_other_banks(financed: Chain) -> None:
    chain = financed
    root = chain.issued("1000.00")
    financing = ok(apply(chain, chain.s1, root))["effects"]["financings"][0]
    other_bank = chain.admit("bank", name="Other Bank")
    refused(chain, decide_as(chain, other_bank, financing["id"]), 404, "financing-not-found")
    refused(chain, decide(chain, financing["id"], annual_rate="0.0540"), 422, "rate-above-quote")
    no_registration = chain.client(chain.bank).submit(
        "financing.decide", {"id": financing["id"], "approve": True}
    )
    refused(chain, no_registration, 422, "registration-required")
    # The next day, at a lower rate: days count from the decision, so interest only falls.
    chain.clock.advance(hours=23)
    approved = ok(decide(chain, financing["id"], annual_rate="0.05"))
    terms = approved["effects"]["financings"][0]["terms"]
    assert (terms["rate"], terms["days"], terms["value_date"]) == ("0.05", DAYS - 1, "2026-03-03")
    assert fen(terms["interest"]) == interest(100_000, "0.05", DAYS - 1)
    assert fen(terms["spread"]) == interest(100_000, "0.05", DAYS - 1) - interest(
        100_000, RATE, DAYS - 1
    )
    assert fen(terms["interest"]) < fen(financing["quote"]["interest"])
    assert chain.ledger.verify().ok


def test_buyer_pays_paper(financed: Chain) -> None:
    chain = financed
    issued = chain.issue("1000.00", interest_payer="issuer")
    root = ok(issued)["effects"]["certificates"][0]
    assert root["interest_payer"] == "issuer"
    ok(chain.client(chain.s1).submit("certificate.accept", {"id": root["id"]}))
    applied = ok(apply(chain, chain.s1, root["id"], "300.00"))
    # Every piece of the root carries the payer.
    assert {p["interest_payer"] for p in applied["effects"]["certificates"]} == {"issuer"}
    quote = applied["effects"]["financings"][0]["quote"]
    owed = interest(30_000, RATE, DAYS)  # the agreed rate: no tier multiplier
    assert (quote["rate"], fen(quote["interest"]), quote["spread"]) == (RATE, owed, "0.00")
    assert quote["disbursement"] == "300.00" and quote["interest_payer"] == "issuer"
    decided = ok(decide(chain, applied["effects"]["financings"][0]["id"]))
    (obligation,) = decided["effects"]["obligations"]
    assert (obligation["debtor"], obligation["creditor"], obligation["state"]) == (
        chain.core.id,
        chain.bank.id,
        "confirmed",
    )
    assert fen(obligation["amount"]) == owed and obligation["due_date"] == root["maturity"]
    assert decided["effects"]["financings"][0]["obligation"] == obligation["id"]
    assert chain.ledger.verify().ok


def test_quote_read_matches_the_application(financed: Chain) -> None:
    chain = financed
    root = chain.issued("1000.00")
    path = f"/v1/financing/quote?certificate={root}&bank={chain.bank.id}&amount=250.00"
    quoted = ok(chain.client(chain.s1).get(path))
    assert quoted["certificate"] == root and quoted["provisional"] is False
    applied = ok(apply(chain, chain.s1, root, "250.00"))["effects"]["financings"][0]["quote"]
    assert {k: v for k, v in quoted.items() if k in applied} == applied
    from tests.helpers import assert_problem

    assert_problem(chain.client(chain.s2).get(path), 404, "not-found")
    assert_problem(chain.client(chain.s1).get(path.replace("250.00", "2.5.0")), 422, "validation")
    assert_problem(chain.client(chain.s1).get(path), 409, "not-spendable")  # now split: spent


def test_who_sees_financings_exposure_and_reports(financed: Chain) -> None:
    chain = financed
    from tests.helpers import assert_problem

    root = chain.issued("1000.00")
    financing = ok(apply(chain, chain.s1, root, "400.00"))["effects"]["financings"][0]
    ok(decide(chain, financing["id"]))
    other_bank = chain.admit("bank", name="Other Bank")
    for who in (chain.s1, chain.bank, chain.operator):
        assert (
            ok(chain.client(who).get(f"/v1/financings/{financing['id']}"))["id"] == financing["id"]
        )
    for who in (chain.s2, other_bank, chain.core):
        assert_problem(chain.client(who).get(f"/v1/financings/{financing['id']}"), 404, "not-found")
        assert_problem(
            chain.client(who).get(f"/v1/financings?member={chain.s1.id}"), 404, "not-found"
        )
        assert_problem(
            chain.client(who).get(f"/v1/banks/{chain.bank.id}/exposure"), 404, "not-found"
        )
    assert_problem(
        chain.client(chain.bank).get(f"/v1/financings?member={chain.bank.id}&state=bogus"),
        422,
        "validation",
    )
    mine = ok(chain.client(chain.s1).get(f"/v1/financings?member={chain.s1.id}&state=approved"))
    assert [f["id"] for f in mine["financings"]] == [financing["id"]]
    report_path = f"/v1/reports/financing?core={chain.core.id}&month=2026-03"
    report = ok(chain.client(chain.core).get(report_path))
    (row,) = report["banks"]
    assert row["bank"] == chain.bank.id and row["count"] == 1 and row["face"] == "400.00"
    assert fen(row["interest"]) == fen(financing["quote"]["interest"])
    assert fen(row["disbursement"]) == 40_000 - fen(row["interest"]) and row["fee"] == "0.00"
    assert ok(chain.client(chain.core).get(report_path.replace("03", "04")))["banks"] == []
    assert_problem(chain.client(chain.s1).get(report_path), 404, "not-found")
    assert_problem(
        chain.client(chain.core).get(report_path.replace("2026-03", "2026-13")), 422, "validation"
    )


def test_due_diligence_reads_the_ancestry_not_the_siblings(financed: Chain) -> None:
    chain = financed
    from tests.helpers import assert_problem

    root = chain.issued("1000.00")
    paid = certs(chain.transfer(chain.s1, [root], [(chain.s2, "300.00")]))
    to_s2 = next(p for p in paid if p["holder"] == chain.s2.id)
    change = next(p for p in paid if p["holder"] == chain.s1.id and p["state"] == "active")
    ok(chain.client(chain.s2).submit("certificate.accept", {"id": to_s2["id"]}))
    financing = ok(apply(chain, chain.s2, to_s2["id"], "100.00"))["effects"]["financings"][0]
    path = f"/v1/financings/{financing['id']}/ancestry"
    pieces = ok(chain.client(chain.bank).get(path))["pieces"]
    ids = [p["id"] for p in pieces]
    assert ids[0] == root and to_s2["id"] in ids and financing["certificate"] in ids
    assert change["id"] not in ids  # s1's change is a sibling branch
    assert all(p["trade"]["contract_no"] for p in pieces)
    assert next(p for p in pieces if p["id"] == to_s2["id"])["invoice_uses"]
    assert_problem(chain.client(chain.s2).get(path), 404, "not-found")
    assert_problem(chain.client(chain.core).get(path), 404, "not-found")


@pytest.mark.parametrize(("basis", "fee_bps"), [(360, 0), (365, 25)])
def test_the_day_count_basis_and_the_fee_are_settings(world: Any, basis: int, fee_bps: int) -> None:
    from tests.integration.test_limits_http import limited

    with limited(world, day_count_basis=basis, financing_fee_bps=fee_bps) as chain:
        ok(set_line(chain))
        root = chain.issued("1000.00")
        quote = ok(apply(chain, chain.s1, root))["effects"]["financings"][0]["quote"]
        expected = interest(100_000, "0.0616", DAYS, basis)  # unrated: tier C, × 1.6
        fee = half_up(Fraction(100_000 * fee_bps, 10_000))
        assert (quote["basis_days"], fen(quote["interest"]), fen(quote["fee"])) == (
            basis,
            expected,
            fee,
        )
        assert fen(quote["disbursement"]) == 100_000 - expected - fee


def test_stale_applications_expire_when_a_command_meets_them(financed: Chain) -> None:
    """Past its window, an application stops reserving the line and locking its piece
    the moment a command runs into it, not only at the next sweep."""
    chain = financed
    ok(set_line(chain, amount="1000.00"))
    first, second = chain.issued("800.00"), chain.issued("500.00")
    stale = ok(apply(chain, chain.s1, first))["effects"]["financings"][0]
    chain.clock.advance(hours=24)
    # The line is full only because of the stale application: refused, and it expires.
    met = refused(chain, apply(chain, chain.s1, second), 422, "credit-line-exceeded")
    assert met["expired_financings"] == [stale["id"]]
    assert ok(chain.client(chain.s1).get(f"/v1/financings/{stale['id']}"))["state"] == "expired"
    ok(apply(chain, chain.s1, second))  # sent again: it fits
    # A transfer of a piece locked under a lapsed application: refused, and it expires.
    third = ok(apply(chain, chain.s1, first, "100.00"))["effects"]["financings"][0]
    chain.clock.advance(hours=24)
    locked = third["certificate"]
    met = refused(
        chain, chain.transfer(chain.s1, [locked], [(chain.s2, "1.00")]), 409, "not-spendable"
    )
    assert met["expired_financings"] == [third["id"]]
    assert ok(chain.client(chain.s1).get(f"/v1/certificates/{locked}"))["state"] == "active"
    # Lowering the line below a lapsed reserve expires it too.
    fourth = ok(apply(chain, chain.s1, locked))["effects"]["financings"][0]
    chain.clock.advance(hours=24)
    met = refused(chain, set_line(chain, amount="1.00"), 409, "credit-line-below-use")
    assert fourth["id"] in met["expired_financings"]
    ok(set_line(chain, amount="1.00"))


def test_a_financed_piece_is_not_financed_again_and_a_suspended_applicant_is_not_paid(
    financed: Chain,
) -> None:
    chain = financed
    other_bank = chain.admit("bank", name="Other Bank")
    other_line = {
        "core": chain.core.id,
        "amount": "1000.00",
        "annual_rate": RATE,
        "expires_on": business_date(chain.clock, 30),
    }
    ok(chain.client(other_bank).submit("credit_line.set", other_line))
    financing = ok(apply(chain, chain.s1, chain.issued("100.00")))["effects"]["financings"][0]
    ok(decide(chain, financing["id"]))
    # The bank's discounted paper names its financing, which restores the line at
    # settlement: it is not financed again elsewhere.
    refused(
        chain,
        apply(chain, chain.bank, financing["certificate"], bank=other_bank),
        409,
        "already-financed",
    )
    # Passed on, the paper keeps naming its financing (change and outputs alike).
    passed = certs(chain.transfer(chain.bank, [financing["certificate"]], [(chain.s2, "40.00")]))
    assert {p["financing"] for p in passed} == {financing["id"]}
    second = ok(apply(chain, chain.s1, chain.issued("100.00")))["effects"]["financings"][0]
    ok(chain.client(chain.operator).submit("member.suspend", {"id": chain.s1.id}))
    refused(chain, decide(chain, second["id"]), 422, "recipient-suspended")
    ok(decide(chain, second["id"], approve=False, reason="applicant suspended"))


def test_a_tier_is_seen_by_its_supplier_and_the_operator_only(financed: Chain) -> None:
    chain = financed
    for who, sees in (
        (chain.s1, True),
        (chain.operator, True),
        (chain.s2, False),
        (chain.bank, False),
    ):
        record = ok(chain.client(who).get(f"/v1/members/{chain.s1.id}"))
        assert ("tier" in record) is sees, (who, record)
        assert record.get("tier", "B") == "B"


def test_a_bank_that_declined_learns_nothing_more_of_the_piece(financed: Chain) -> None:
    from tests.helpers import assert_problem

    chain = financed
    root = chain.issued("100.00")
    financing = ok(apply(chain, chain.s1, root))["effects"]["financings"][0]
    path = f"/v1/financings/{financing['id']}/ancestry"
    assert ok(chain.client(chain.bank).get(path))["pieces"][-1]["state"] == "locked"
    ok(decide(chain, financing["id"], approve=False))
    assert_problem(chain.client(chain.bank).get(path), 404, "not-found")
    assert ok(chain.client(chain.operator).get(path))["financing"] == financing["id"]


def test_the_report_sums_a_negative_spread(financed: Chain) -> None:
    chain = financed
    ok(chain.client(chain.operator).submit("member.set_tier", {"id": chain.s1.id, "tier": "A"}))
    one = ok(apply(chain, chain.s1, chain.issued("1000.00")))["effects"]["financings"][0]
    two = ok(apply(chain, chain.s1, chain.issued("500.00")))["effects"]["financings"][0]
    # Approved below the agreed 3.85 %: the tier adds less than nothing.
    low = ok(decide(chain, one["id"], annual_rate="0.03"))["effects"]["financings"][0]["terms"]
    high = ok(decide(chain, two["id"]))["effects"]["financings"][0]["terms"]
    assert (
        fen_signed(low["spread"])
        == interest(100_000, "0.03", DAYS) - interest(100_000, RATE, DAYS)
        < 0
    )
    report = ok(
        chain.client(chain.core).get(f"/v1/reports/financing?core={chain.core.id}&month=2026-03")
    )
    (row,) = report["banks"]
    assert (row["count"], row["face"]) == (2, "1500.00")
    for key in ("interest", "spread", "fee", "disbursement"):
        assert fen_signed(row[key]) == fen_signed(low[key]) + fen_signed(high[key]), key


def fen_signed(amount: str) -> int:
    return -fen(amount[1:]) if amount.startswith("-") else fen(amount)


def test_the_expiry_entry_verifies_in_any_business_time_zone(world: Any) -> None:
    from tests.integration.test_limits_http import limited

    with limited(world, business_utc_offset_h=-5) as chain:
        ok(set_line(chain))
        ok(apply(chain, chain.s1, chain.issued("100.00")))
        chain.clock.advance(hours=24)
        receipt = chain.ledger.sweep()
        assert receipt is not None and receipt.effects["financings"][0]["state"] == "expired"
        assert receipt.effects["financings"][0]["decided_on"] == "2026-03-02"  # UTC−5
        assert chain.ledger.verify().ok


def test_a_command_does_not_expire_a_strangers_lapsed_application(financed: Chain) -> None:
    """A transfer refused for one of its own inputs is not the place where a stranger's
    application, under a piece it merely names, expires: a member that is no party to a
    piece hears of it what it would hear of an id that does not exist."""
    chain = financed
    mine = chain.issued("300.00", to=chain.s2)
    ok(chain.transfer(chain.s2, [mine], [(chain.s1, "300.00")]))  # mine: spent
    theirs = ok(apply(chain, chain.s1, chain.issued("800.00")))["effects"]["financings"][0]
    chain.clock.advance(hours=24)
    inputs = [mine, theirs["certificate"]]  # refused for the first: it is spent
    met = refused(
        chain, chain.transfer(chain.s2, inputs, [(chain.s3, "1.00")]), 409, "not-spendable"
    )
    assert "expired_financings" not in met, met  # s2 learns nothing of s1's application
