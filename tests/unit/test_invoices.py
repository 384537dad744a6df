"""Invoice rules without a database: normal form, attribution per trade, legacy rows."""

from __future__ import annotations

import doctest

import pytest

import ledger.invoices
from ledger.errors import Refusal
from ledger.invoices import (
    Invoice,
    InvoiceKey,
    InvoiceUse,
    attribute,
    legacy_key,
    normalise_no,
    release,
)
from ledger.projections import rows_of


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(ledger.invoices)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("cited", "normal"),
    [
        ("12345678", "12345678"),
        ("inv-0001", "INV0001"),
        ("ＩＮＶ－０００１", "INV0001"),  # full-width letters, digits and hyphen
        ("044031900111 12345678", "04403190011112345678"),
        ("0440-3190/0111.1234_5678", "04403190011112345678"),
        ("\u3000 12 34 \u3000", "1234"),  # ideographic spaces
        ("a\u2013b\u2014c", "ABC"),  # en and em dashes
    ],
)
def test_invoice_numbers_have_one_normal_form(cited: str, normal: str) -> None:
    assert normalise_no(cited) == normal
    assert normalise_no(normal) == normal  # idempotent


@pytest.mark.parametrize("cited", ["", " - ", "INV#1", "发票1", "1" * 41, "A\u200b1"])
def test_text_that_is_no_invoice_number_is_refused(cited: str) -> None:
    with pytest.raises(ValueError, match="invoice number"):
        normalise_no(cited)


def test_an_invoice_has_one_seller() -> None:
    # One invoice cited for two sellers backs only the first: the second is not backed.
    with pytest.raises(Refusal) as refused:
        attribute({}, "B", [("N1", 100)], [("S1", 100), ("S2", 100)])
    assert refused.value.type == "invoice-overused"
    # One invoice for each: each payment is backed by its own seller's invoice.
    cited = [("N1", 100), ("N2", 100)]
    invoices, uses = attribute({}, "B", cited, [("S1", 100), ("S2", 100)])
    assert set(invoices) == {InvoiceKey("B", "S1", "N1"), InvoiceKey("B", "S2", "N2")}
    assert uses == [(InvoiceUse("N1", 100, "B", "S1"),), (InvoiceUse("N2", 100, "B", "S2"),)]
    registered = dict(invoices)
    with pytest.raises(Refusal) as overused:
        attribute(registered, "B", [("N1", 100)], [("S1", 1)])
    assert overused.value.type == "invoice-overused"
    # The same number cited later for another seller of the same buyer: a conflict.
    with pytest.raises(Refusal) as conflict:
        attribute(registered, "B", [("N1", 100)], [("S3", 1)])
    assert conflict.value.type == "invoice-conflict"
    # Another buyer citing the same number to the same seller: another invoice.
    _, other = attribute(registered, "X", [("N1", 100)], [("S1", 100)])
    assert other == [(InvoiceUse("N1", 100, "X", "S1"),)]
    back = release(registered, uses[0])
    assert back == {InvoiceKey("B", "S1", "N1"): Invoice(InvoiceKey("B", "S1", "N1"), 100, 0)}


def test_refusals_name_no_registered_amount_or_room() -> None:
    registered = {InvoiceKey("B", "S", "N1"): Invoice(InvoiceKey("B", "S", "N1"), 12345, 10000)}
    with pytest.raises(Refusal) as conflict:
        attribute(registered, "B", [("N1", 99999)], [("S", 1)])
    assert conflict.value.type == "invoice-conflict"
    assert "123.45" not in conflict.value.detail and "999.99" not in conflict.value.detail
    with pytest.raises(Refusal) as overused:
        attribute(registered, "B", [("N1", 12345)], [("S", 5000)])
    assert overused.value.type == "invoice-overused"
    assert "23.45" not in overused.value.detail and "100.00" not in overused.value.detail


def test_a_legacy_invoice_lends_its_amount_and_use_to_a_partys_first_citation() -> None:
    legacy = Invoice(legacy_key("N1"), 100, 60)
    invoices, uses = attribute({legacy.key: legacy}, "B", [("N1", 100)], [("S", 40)])
    assert invoices == {InvoiceKey("B", "S", "N1"): Invoice(InvoiceKey("B", "S", "N1"), 100, 100)}
    assert uses == [(InvoiceUse("N1", 40, "B", "S"),)]
    with pytest.raises(Refusal) as overused:
        attribute({legacy.key: legacy}, "B", [("N1", 100)], [("S", 41)])
    assert overused.value.type == "invoice-overused"
    with pytest.raises(Refusal) as conflict:
        attribute({legacy.key: legacy}, "B", [("N1", 50)], [("S", 1)])
    assert conflict.value.type == "invoice-conflict"
    # A pre-upgrade payment gives back to the legacy row it came from.
    assert release({legacy.key: legacy}, [InvoiceUse("N1", 60)]) == {
        legacy.key: Invoice(legacy.key, 100, 0)
    }


def test_an_entry_from_before_invoices_had_parties_replays_into_the_legacy_rows() -> None:
    effects = {"invoices": [{"no": "inv-1", "amount": "1.00", "used": "0.50"}]}
    [row] = rows_of({"type": "certificate.issue"}, effects, 7)["invoices"]
    assert row == {
        "buyer": "",
        "seller": "",
        "no": "inv-1",
        "amount_fen": 100,
        "used_fen": 50,
        "updated_seq": 7,
    }
