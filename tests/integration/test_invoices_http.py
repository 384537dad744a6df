"""Trade background over HTTP: an invoice never backs more than its own amount."""

from __future__ import annotations

from tests.conftest import Chain
from tests.helpers import certs, head, refused


def trade(*invoices: dict[str, str]) -> dict[str, object]:
    return {"contract_no": "HT-1", "invoices": list(invoices)}


def test_one_invoice_cannot_finance_two_issuances_beyond_its_amount(chain: Chain) -> None:
    invoice = chain.new_invoice("1000.00")
    assert chain.issue("600.00", trade=trade(invoice)).status_code == 201
    before = head(chain)
    refused(chain, chain.issue("400.01", trade=trade(invoice)), 422, "invoice-overused")
    assert head(chain) == before
    assert chain.issue("400.00", trade=trade(invoice)).status_code == 201
    refused(chain, chain.issue("0.01", trade=trade(invoice)), 422, "invoice-overused")


def test_citations_are_used_in_order_and_a_registered_amount_is_fixed(chain: Chain) -> None:
    a, b = chain.new_invoice("100.00"), chain.new_invoice("50.00")
    root = certs(chain.issue("120.00", trade=trade(a, b)))[0]
    parties = {"buyer": chain.core.id, "seller": chain.s1.id}
    assert root["invoice_uses"] == [
        {"no": a["no"], "amount": "100.00", **parties},
        {"no": b["no"], "amount": "20.00", **parties},
    ]
    conflicting = {"no": b["no"], "amount": "60.00"}
    refused(chain, chain.issue("1.00", trade=trade(conflicting)), 409, "invoice-conflict")
    assert chain.issue("30.00", trade=trade(b)).status_code == 201
    refused(chain, chain.issue("0.01", trade=trade(a, b)), 422, "invoice-overused")


def test_the_same_invoice_twice_in_one_command_is_malformed(chain: Chain) -> None:
    a = chain.new_invoice("100.00")
    refused(chain, chain.issue("10.00", trade=trade(a, a)), 422, "validation")


def test_each_trade_has_its_own_invoices_and_a_reject_gives_back(chain: Chain) -> None:
    invoice = chain.new_invoice("500.00")
    assert chain.issue("300.00", trade=trade(invoice)).status_code == 201  # core → s1
    root = chain.issued("1000.00")
    # s1 → s2 is another trade: the same number there is another invoice, all 500 free.
    refused(
        chain,
        chain.transfer(chain.s1, [root], [(chain.s2, "500.01")], [invoice]),
        422,
        "invoice-overused",
    )
    step = certs(
        chain.transfer(chain.s1, [root], [(chain.s2, "350.00"), (chain.s1, "100.00")], [invoice])
    )
    piece = next(c for c in step if c["holder"] == chain.s2.id)
    parties = {"buyer": chain.s1.id, "seller": chain.s2.id}
    assert piece["invoice_uses"] == [{"no": invoice["no"], "amount": "350.00", **parties}]
    change = next(c["id"] for c in step if c["amount"] == "550.00")
    refused(
        chain,
        chain.transfer(chain.s1, [change], [(chain.s2, "150.01")], [invoice]),
        422,
        "invoice-overused",
    )
    # The rejected payment gives back its 350.
    rejected = chain.client(chain.s2).submit("certificate.reject", {"id": piece["id"]})
    assert rejected.json()["effects"]["invoices"] == [
        {"no": invoice["no"], "amount": "500.00", "used": "0.00", **parties}
    ]
    # The core's own invoice from s1 has 200 left, whatever s1 and s2 did.
    refused(chain, chain.issue("200.01", trade=trade(invoice)), 422, "invoice-overused")
    assert chain.issue("200.00", trade=trade(invoice)).status_code == 201
    assert chain.ledger.verify().ok


def test_outputs_to_self_need_no_invoice(chain: Chain) -> None:
    root = chain.issued("100.00")
    split = chain.transfer(chain.s1, [root], [(chain.s1, "60.00"), (chain.s1, "40.00")], [])
    assert sorted(c["amount"] for c in certs(split) if c["state"] == "active") == ["40.00", "60.00"]
    refused(
        chain,
        chain.transfer(chain.s1, [certs(split)[1]["id"]], [(chain.s2, "1.00")], []),
        422,
        "invoice-overused",
    )


# -- invoices belong to their trade (issue 8) ------------------------------------------------


def test_a_member_cannot_squat_another_firms_invoice_number(chain: Chain) -> None:
    """s2 cites the number the core's invoice from s1 will carry, with another amount, in
    its own trade with s3: the core's real citation is not affected."""
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "10.00")]))
    piece = next(c["id"] for c in step if c["holder"] == chain.s2.id)
    certs(chain.client(chain.s2).submit("certificate.accept", {"id": piece}))
    real = chain.new_invoice("1000.00")
    squat = {"no": real["no"], "amount": "1.00"}
    certs(chain.transfer(chain.s2, [piece], [(chain.s3, "1.00")], [squat]))
    issued = certs(chain.issue("1000.00", trade=trade(real)))[0]
    assert issued["invoice_uses"] == [
        {"no": real["no"], "amount": "1000.00", "buyer": chain.core.id, "seller": chain.s1.id}
    ]
    assert chain.ledger.verify().ok


def test_invoice_refusals_name_no_amount_the_caller_did_not_send(chain: Chain) -> None:
    invoice = chain.new_invoice("100.00")
    certs(chain.issue("60.00", trade=trade(invoice)))
    overused = refused(chain, chain.issue("50.00", trade=trade(invoice)), 422, "invoice-overused")
    assert "40.00" not in overused["detail"] and "60.00" not in overused["detail"], overused
    conflicting = {"no": invoice["no"], "amount": "200.00"}
    conflict = refused(
        chain, chain.issue("1.00", trade=trade(conflicting)), 409, "invoice-conflict"
    )
    assert "100.00" not in conflict["detail"], conflict
    assert chain.ledger.verify().ok


def test_case_width_and_separator_variants_are_one_invoice(chain: Chain) -> None:
    certs(chain.issue("60.00", trade=trade({"no": "inv20260001a", "amount": "100.00"})))
    for variant in ("INV20260001A", "ＩＮＶ２０２６０００１Ａ", "inv-2026 0001-a"):
        refused(
            chain,
            chain.issue("40.01", trade=trade({"no": variant, "amount": "100.00"})),
            422,
            "invoice-overused",
        )
    issued = certs(chain.issue("40.00", trade=trade({"no": " Inv 2026-0001A", "amount": "100.00"})))
    assert issued[0]["trade"]["invoices"] == [{"no": "INV20260001A", "amount": "100.00"}]
    assert issued[0]["invoice_uses"][0]["no"] == "INV20260001A"
    # Two spellings of one number in one command are one invoice cited twice.
    twice = trade({"no": "abc1", "amount": "1.00"}, {"no": "ABC-1", "amount": "1.00"})
    refused(chain, chain.issue("1.00", trade=twice), 422, "validation")
    # A number with nothing left once separators go is malformed.
    refused(
        chain, chain.issue("1.00", trade=trade({"no": "- -", "amount": "1.00"})), 422, "validation"
    )
    assert chain.ledger.verify().ok


def test_an_invoice_backs_payments_to_one_seller_only(chain: Chain) -> None:
    """One invoice of 100.00 paying 100.00 to each of two sellers would back 200.00."""
    root = chain.issued("500.00")
    invoice = chain.new_invoice("100.00")
    both = [(chain.s2, "100.00"), (chain.s3, "100.00")]
    refused(chain, chain.transfer(chain.s1, [root], both, [invoice]), 422, "invoice-overused")
    # Cited for one seller, the number is that seller's: another seller cannot use it later.
    paid = chain.transfer(chain.s1, [root], [(chain.s2, "100.00")], [invoice])
    change = next(
        c["id"] for c in certs(paid) if c["holder"] == chain.s1.id and c["state"] == "active"
    )
    again = chain.transfer(chain.s1, [change], [(chain.s3, "1.00")], [invoice])
    refused(chain, again, 409, "invoice-conflict")
    assert chain.ledger.verify().ok
