"""Settlement over HTTP on a real database: paying at maturity, in full and in part,
paper in flight coming home, overdue marks, late interest and the issuer's block.

Calendar facts written out (independent of ``ledger.calendar``): the frozen today is
Monday 2026-03-02 (China Standard Time). A 90-day piece matures on Sunday 2026-05-31 and
is paid on Monday 2026-06-01. Late interest is figured here with ``Fraction``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ledger.errors import Refusal
from tests.conftest import Chain, business_date
from tests.helpers import at_business_date, certs, fen, limit_outstanding_fen, ok, refused

MATURITY, PAYMENT_DATE = "2026-05-31", "2026-06-01"


def pay(chain: Chain, body: dict[str, Any]) -> Any:
    return chain.client(chain.core).submit("settlement.pay", body)


def half_up(exact: Fraction) -> int:
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def test_paying_pieces_in_full_at_maturity(chain: Chain) -> None:
    root = chain.issued("1000.00")
    moved = certs(chain.transfer(chain.s1, [root], [(chain.s2, "300.00")]))
    to_s2 = next(p for p in moved if p["holder"] == chain.s2.id)
    change = next(p for p in moved if p["holder"] == chain.s1.id and p["state"] == "active")
    ok(chain.client(chain.s2).submit("certificate.accept", {"id": to_s2["id"]}))
    assert limit_outstanding_fen(chain) == 100_000

    refused(chain, pay(chain, {"pieces": [change["id"]], "payment_ref": "P1"}), 409, "not-matured")
    at_business_date(chain, MATURITY)
    paid = ok(pay(chain, {"pieces": [change["id"], to_s2["id"]], "payment_ref": "P1"}))
    pieces = {p["id"]: p for p in paid["effects"]["certificates"]}
    assert {p["state"] for p in pieces.values()} == {"settled"}
    assert pieces[change["id"]]["paid"] == "700.00" and pieces[to_s2["id"]]["paid"] == "300.00"
    payments = paid["effects"]["payments"]
    assert sorted((p["holder"], p["amount"], p["days_late"]) for p in payments) == sorted(
        [(chain.s1.id, "700.00", 0), (chain.s2.id, "300.00", 0)]
    )
    assert "obligations" not in paid["effects"]  # on time: no late interest
    assert paid["effects"]["limits"][0]["outstanding"] == "0.00"
    refused(
        chain, pay(chain, {"pieces": [to_s2["id"]], "payment_ref": "P2"}), 409, "already-settled"
    )
    refused(chain, pay(chain, {"pieces": [root], "payment_ref": "P2"}), 409, "not-payable")
    other = chain.admit("core", name="Other Core")
    refused(
        chain,
        chain.client(other).submit(
            "settlement.pay", {"pieces": [change["id"]], "payment_ref": "X"}
        ),
        404,
        "certificate-not-found",
    )


def test_a_partial_payment_is_shared_pro_rata_and_the_rest_paid_late(chain: Chain) -> None:
    root = chain.issued("1000.00")
    moved = certs(chain.transfer(chain.s1, [root], [(chain.s2, "333.33"), (chain.s3, "333.33")]))
    for who in (chain.s2, chain.s3):
        piece = next(p for p in moved if p["holder"] == who.id and p["state"] == "pending")
        ok(chain.client(who).submit("certificate.accept", {"id": piece["id"]}))
    at_business_date(chain, PAYMENT_DATE)
    refused(chain, pay(chain, {"root": root, "amount": "1000.01", "payment_ref": "P"}), 422,
            "amount-exceeds-outstanding")  # fmt: skip
    paid = ok(pay(chain, {"root": root, "amount": "100.00", "payment_ref": "P-part"}))
    shares = {p["holder"]: fen(p["amount"]) for p in paid["effects"]["payments"]}
    # 10 000 fen over 33 334 / 33 333 / 33 333 of 100 000: 3 333.4 and 3 333.3 twice.
    assert shares == {chain.s1.id: 3334, chain.s2.id: 3333, chain.s3.id: 3333}
    assert {p["state"] for p in paid["effects"]["certificates"]} == {"active"}
    # Three days past the payment date, the rest is overdue: the sweep marks it.
    at_business_date(chain, "2026-06-04")
    chain.ledger.sweep_all()
    tree = ok(chain.client(chain.core).get(f"/v1/certificates/{root}/tree"))
    live = [p for p in tree["pieces"] if p["state"] not in ("spent",)]
    assert {p["state"] for p in live} == {"overdue"}
    refused(chain, chain.issue("10.00"), 409, "issuer-overdue")
    settled = ok(pay(chain, {"root": root, "amount": "900.00", "payment_ref": "P-rest"}))
    assert {p["state"] for p in settled["effects"]["certificates"]} == {"settled"}
    interest = {o["creditor"]: fen(o["amount"]) for o in settled["effects"]["obligations"]}
    rate = Fraction("0.0005")
    for payment in settled["effects"]["payments"]:
        assert payment["days_late"] == 3
        assert interest[payment["holder"]] == half_up(fen(payment["amount"]) * rate * 3)
        assert fen(payment["late_interest"]) == interest[payment["holder"]]
    assert sum(fen(p["amount"]) for p in settled["effects"]["payments"]) == 90_000
    for obligation in settled["effects"]["obligations"]:
        assert obligation["state"] == "confirmed" and obligation["debtor"] == chain.core.id
        assert obligation["due_date"] == "2026-06-04"
    ok(chain.issue("10.00"))  # nothing overdue any more
    assert chain.ledger.verify().ok


def test_paper_in_flight_comes_home_at_maturity(chain: Chain) -> None:
    root = chain.issued("1000.00")
    sent = certs(chain.transfer(chain.s1, [root], [(chain.s2, "400.00")]))
    pending = next(p for p in sent if p["state"] == "pending")
    at_business_date(chain, MATURITY, hour=0)
    # The sweep has not run: paying the pending piece records its return, and is refused.
    problem = refused(chain, pay(chain, {"pieces": [pending["id"]], "payment_ref": "P"}), 409,
                      "certificate-expired")  # fmt: skip
    tree = ok(chain.client(chain.core).get(f"/v1/certificates/{root}/tree"))
    states = {p["id"]: p for p in tree["pieces"]}
    assert states[pending["id"]]["state"] == "expired"
    back = [p for p in tree["pieces"] if pending["id"] in p["parent_ids"]]
    assert [(p["holder"], p["amount"], p["state"]) for p in back] == [
        (chain.s1.id, "400.00", "active")
    ]
    assert problem["returned"] == {pending["id"]: back[0]["id"]}  # what to pay instead
    ok(pay(chain, {"root": root, "amount": "1000.00", "payment_ref": "P-all"}))
    assert limit_outstanding_fen(chain) == 0


def test_the_operator_lifts_the_block_with_a_reason(chain: Chain) -> None:
    chain.issued("100.00", days=1)
    at_business_date(chain, business_date(chain.clock, 4))
    refused(chain, chain.issue("10.00"), 409, "issuer-overdue")  # recorded as overdue too
    lift = {
        "member": chain.core.id,
        "reason": "restructuring agreed",
        "until": business_date(chain.clock, 2),
    }
    refused(
        chain, chain.client(chain.s1).submit("limit.lift_overdue_block", lift), 403, "forbidden"
    )
    lifted = ok(chain.client(chain.operator).submit("limit.lift_overdue_block", lift))
    assert lifted["effects"]["limits"][0]["block_lift_reason"] == "restructuring agreed"
    ok(chain.issue("10.00"))
    at_business_date(chain, business_date(chain.clock, 3))
    refused(chain, chain.issue("10.00"), 409, "issuer-overdue")


def test_a_payout_account_is_registered(chain: Chain) -> None:
    account = {"bank_name": "ICBC Shenzhen Branch", "account_no": "4000023409200123456"}
    done = ok(chain.client(chain.s1).submit("member.set_payout_account", account))
    assert done["effects"]["members"][0]["payout_account"] == account
    bad = account | {"account_no": "12 34"}
    refused(
        chain, chain.client(chain.s1).submit("member.set_payout_account", bad), 422, "validation"
    )


def test_a_payment_in_the_same_batch_does_not_hide_other_overdue_paper(chain: Chain) -> None:
    """Two roots past their payment dates, nothing marked yet: paying the first in the
    same sequencer batch as an issuance must not let the issuance through."""
    first = chain.issued("100.00", days=90)
    chain.issued("100.00", days=95)
    at_business_date(chain, "2026-07-20")  # both past their payment dates
    core = chain.client(chain.core)
    issue = core.envelope("certificate.issue", {
        "to": chain.s1.id, "amount": "10.00", "maturity": "2026-09-01",
        "trade": {"contract_no": "C-9", "invoices": [chain.new_invoice("10.00")]},
    })  # fmt: skip
    pay_first = core.envelope("settlement.pay", {"pieces": [first], "payment_ref": "P-1"})
    paid, issued = chain.ledger.execute_together([pay_first, issue])
    assert not isinstance(paid, Exception), paid
    assert isinstance(issued, Refusal) and issued.type == "issuer-overdue", issued


def test_an_agreed_late_rate_is_written_as_a_plain_decimal(chain: Chain) -> None:
    issued = ok(chain.issue("100.00", late_daily_rate="0.00000001"))
    assert issued["effects"]["certificates"][0]["late_daily_rate"] == "0.00000001"
    for bad in ("0", "0.011", "1e-4", 0.0005, "0.000000001"):
        refused(chain, chain.issue("100.00", late_daily_rate=bad), 422, "validation")
