"""Trade background over HTTP: an invoice never backs more than its own amount."""

from __future__ import annotations

from tests.conftest import Chain
from tests.integration.test_certificates_http import certs, head, refused


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
    assert root["invoice_uses"] == [
        {"no": a["no"], "amount": "100.00"},
        {"no": b["no"], "amount": "20.00"},
    ]
    conflicting = {"no": b["no"], "amount": "60.00"}
    refused(chain, chain.issue("1.00", trade=trade(conflicting)), 409, "invoice-conflict")
    assert chain.issue("30.00", trade=trade(b)).status_code == 201
    refused(chain, chain.issue("0.01", trade=trade(a, b)), 422, "invoice-overused")


def test_the_same_invoice_twice_in_one_command_is_malformed(chain: Chain) -> None:
    a = chain.new_invoice("100.00")
    refused(chain, chain.issue("10.00", trade=trade(a, a)), 422, "validation")


def test_transfers_are_checked_across_issuances_and_give_back_on_reject(chain: Chain) -> None:
    invoice = chain.new_invoice("500.00")
    assert chain.issue("300.00", trade=trade(invoice)).status_code == 201
    root = chain.issued("1000.00")
    # 300 of the invoice already backs the issuance: a transfer may use only 200 of it.
    refused(
        chain,
        chain.transfer(chain.s1, [root], [(chain.s2, "200.01")], [invoice]),
        422,
        "invoice-overused",
    )
    step = certs(
        chain.transfer(chain.s1, [root], [(chain.s2, "150.00"), (chain.s1, "100.00")], [invoice])
    )
    piece = next(c for c in step if c["holder"] == chain.s2.id)
    assert piece["invoice_uses"] == [{"no": invoice["no"], "amount": "150.00"}]
    refused(chain, chain.issue("50.01", trade=trade(invoice)), 422, "invoice-overused")
    # The rejected payment gives back its 150.
    rejected = chain.client(chain.s2).submit("certificate.reject", {"id": piece["id"]})
    assert rejected.json()["effects"]["invoices"] == [
        {"no": invoice["no"], "amount": "500.00", "used": "300.00"}
    ]
    assert chain.issue("200.00", trade=trade(invoice)).status_code == 201


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
