"""Trade background: every payment cites invoices, and no invoice backs more than itself.

An invoice is registered, with its amount, the first time a command cites it. What a
command pays is attributed to the invoices it cites in the order listed, each up to
what is left of it. Payments are attributed one after another, so each payment knows
exactly which invoice slices back it, and a rejected, cancelled or expired payment
gives back exactly those slices::

    >>> registered = {}
    >>> cited = [("INV-1", 100_00), ("INV-2", 50_00)]
    >>> invoices, uses = attribute(registered, cited, [120_00])
    >>> uses
    [(InvoiceUse(no='INV-1', amount_fen=10000), InvoiceUse(no='INV-2', amount_fen=2000))]
    >>> invoices["INV-2"].used_fen
    2000

Citing a registered invoice with a different amount is ``invoice-conflict``; citations
that cannot cover what is paid are ``invoice-overused`` — the duplicate-financing fraud.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ledger.errors import Refusal
from ledger.money import format_fen


@dataclass(frozen=True)
class Invoice:
    no: str
    amount_fen: int
    used_fen: int

    def wire(self) -> dict[str, Any]:
        return {
            "no": self.no,
            "amount": format_fen(self.amount_fen),
            "used": format_fen(self.used_fen),
        }


@dataclass(frozen=True)
class InvoiceUse:
    no: str
    amount_fen: int

    def wire(self) -> dict[str, Any]:
        return {"no": self.no, "amount": format_fen(self.amount_fen)}


def attribute(
    registered: Mapping[str, Invoice],
    cited: Sequence[tuple[str, int]],
    payments_fen: Sequence[int],
) -> tuple[dict[str, Invoice], list[tuple[InvoiceUse, ...]]]:
    """Attribute each payment to the cited invoices; return the changed invoices and,
    per payment, the slices that back it."""
    invoices: dict[str, Invoice] = {}
    for no, amount_fen in cited:
        known = registered.get(no)
        if known is not None and known.amount_fen != amount_fen:
            raise Refusal(
                "invoice-conflict",
                f"invoice {no} is registered for {format_fen(known.amount_fen)}, "
                f"cited for {format_fen(amount_fen)}",
            )
        invoices[no] = known or Invoice(no, amount_fen, 0)
    order = [no for no, _ in cited]
    uses: list[tuple[InvoiceUse, ...]] = []
    cursor = 0
    for payment_fen in payments_fen:
        slices: list[InvoiceUse] = []
        remaining = payment_fen
        while remaining > 0 and cursor < len(order):
            invoice = invoices[order[cursor]]
            take = min(remaining, invoice.amount_fen - invoice.used_fen)
            if take > 0:
                invoices[invoice.no] = replace(invoice, used_fen=invoice.used_fen + take)
                slices.append(InvoiceUse(invoice.no, take))
                remaining -= take
            if invoice.amount_fen - invoices[invoice.no].used_fen == 0:
                cursor += 1
        if remaining > 0:
            raise Refusal(
                "invoice-overused",
                f"the cited invoices leave {format_fen(payment_fen - remaining)} to back a "
                f"payment of {format_fen(payment_fen)}: "
                "an invoice cannot back more than its own amount",
            )
        uses.append(tuple(slices))
    return invoices, uses


def release(registered: Mapping[str, Invoice], uses: Iterable[InvoiceUse]) -> dict[str, Invoice]:
    """Give back the slices of a payment that did not happen."""
    invoices: dict[str, Invoice] = {}
    for use in uses:
        invoice = invoices.get(use.no) or registered[use.no]
        assert invoice.used_fen >= use.amount_fen, (invoice, use)
        invoices[use.no] = replace(invoice, used_fen=invoice.used_fen - use.amount_fen)
    return invoices
