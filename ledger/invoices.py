"""Trade background: every payment cites invoices, and no invoice backs more than itself.

An invoice belongs to its trade: it is issued by a *seller* (the member paid) to a
*buyer* (the member paying). So an invoice is known by ``(buyer, seller, number)``:
for an issuance the buyer is the issuer and the seller its recipient; for a transfer
the buyer is the sender and the seller the recipient of each output. The buyer is
always the signer, so nobody can register, use up or even probe an invoice in another
firm's trade: citing the same number between other parties is another invoice.

Numbers are compared in a normal form (:func:`normalise_no`): a Chinese VAT invoice
number is digits (8 with a 10- or 12-digit invoice code, or the 20 digits of a fully
digital invoice), sometimes with letters, and is written with spaces, hyphens or in
full-width characters. The normal form is NFKC (full-width → half-width), without
spaces and separators (``-``, ``_``, ``/``, ``.`` and any Unicode dash), in upper
case: 1–40 characters of ``[0-9A-Z]``. ``"ｉｎｖ-0042 7"`` and ``"INV00427"`` are one invoice.

An invoice has one seller: once a buyer has registered a number for one seller, it
backs nothing the buyer pays to another (``invoice-conflict`` when cited for a single
other seller; within a command paying several sellers, each invoice goes to the first
payment that draws on it). An invoice is registered, with its amount, the first time a
command cites it for a seller. What a command pays is attributed payment by payment,
each to the cited invoices of its seller in the order listed, each up to what is left
of it; a rejected, cancelled or expired payment gives back exactly its slices::

    >>> registered = {}
    >>> cited = [("INV1", 100_00), ("INV2", 50_00)]
    >>> invoices, uses = attribute(registered, "B", cited, [("S", 120_00)])
    >>> [(use.no, use.amount_fen) for use in uses[0]]
    [('INV1', 10000), ('INV2', 2000)]
    >>> invoices[InvoiceKey("B", "S", "INV2")].used_fen
    2000

Citing a registered invoice with a different amount is ``invoice-conflict``; citations
that cannot cover what is paid are ``invoice-overused`` — the duplicate-financing fraud.
Neither answer names an amount or a remaining room: the caller learns only that its own
citation does not fit.

Invoices registered before invoices had parties (schema revision 0004) keep an empty
buyer and seller: they go on backing the pieces that cite them. A party's first
citation of such a number (in normal form) starts from that invoice's amount and what
was used of it then, so the upgrade opens no window to finance it twice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from ledger.errors import Refusal
from ledger.money import format_fen, parse_amount

LEGACY = ""  # the buyer and seller of an invoice registered before invoices had parties
INVOICE_NO_LENGTH_MAX = 40
_SEPARATORS = frozenset(" _-/.")
_NORMAL = re.compile(rf"[0-9A-Z]{{1,{INVOICE_NO_LENGTH_MAX}}}")


def normalise_no(text: str) -> str:
    """An invoice number in normal form; ``ValueError`` if it has none.

    >>> normalise_no(" ０４４０３１９００１１１-1234 5678 ")
    '04403190011112345678'
    >>> normalise_no("inv—0427")
    'INV0427'
    """
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(
        char
        for char in folded
        if not (char.isspace() or char in _SEPARATORS or unicodedata.category(char) == "Pd")
    ).upper()
    if _NORMAL.fullmatch(kept) is None:
        raise ValueError(
            f"an invoice number is 1-{INVOICE_NO_LENGTH_MAX} letters and digits "
            "(spaces and hyphens are ignored)"
        )
    return kept


class InvoiceKey(NamedTuple):
    buyer: str
    seller: str
    no: str

    @property
    def is_legacy(self) -> bool:
        return self.buyer == LEGACY


def legacy_key(no: str) -> InvoiceKey:
    return InvoiceKey(LEGACY, LEGACY, no)


@dataclass(frozen=True)
class Invoice:
    key: InvoiceKey
    amount_fen: int
    used_fen: int

    def wire(self) -> dict[str, Any]:
        from ledger.entities import INVOICES  # which imports this module

        return INVOICES.to_wire(self)


@dataclass(frozen=True)
class InvoiceUse:
    no: str
    amount_fen: int
    buyer: str = LEGACY
    seller: str = LEGACY

    @property
    def key(self) -> InvoiceKey:
        return InvoiceKey(self.buyer, self.seller, self.no)

    def wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"no": self.no, "amount": format_fen(self.amount_fen)}
        if self.buyer != LEGACY:
            wire |= {"buyer": self.buyer, "seller": self.seller}
        return wire

    @staticmethod
    def from_wire(wire: Mapping[str, Any]) -> InvoiceUse:
        """The inverse of :meth:`wire` (a slice from before invoices had parties names
        neither buyer nor seller)."""
        return InvoiceUse(
            wire["no"],
            parse_amount(wire["amount"]),
            wire.get("buyer", LEGACY),
            wire.get("seller", LEGACY),
        )


def _registered(
    registered: Mapping[InvoiceKey, Invoice], key: InvoiceKey, amount_fen: int
) -> Invoice:
    known = registered.get(key)
    if known is None:
        inherited = registered.get(legacy_key(key.no))
        used_fen = inherited.used_fen if inherited is not None else 0
        amount = inherited.amount_fen if inherited is not None else amount_fen
        known = Invoice(key, amount, used_fen)
    if known.amount_fen != amount_fen:
        raise Refusal(
            "invoice-conflict",
            f"invoice {key.no} was registered with another amount than cited here",
        )
    return known


def attribute(
    registered: Mapping[InvoiceKey, Invoice],
    buyer: str,
    cited: Sequence[tuple[str, int]],
    payments: Sequence[tuple[str, int]],
) -> tuple[dict[InvoiceKey, Invoice], list[tuple[InvoiceUse, ...]]]:
    """Attribute each payment ``(seller, amount_fen)`` of ``buyer`` to the cited invoices;
    return the changed invoices and, per payment, the slices that back it.

    ``registered`` holds every invoice of ``buyer`` with a cited number, whatever its
    seller, and the legacy ones. An invoice has one seller: a number the buyer has
    registered for one seller backs nothing paid to another, in this command or later.
    """
    owners = {key.no: key.seller for key in registered if key.buyer == buyer}
    invoices: dict[InvoiceKey, Invoice] = {}

    def invoice_of(seller: str, no: str, amount_fen: int) -> Invoice | None:
        if owners.setdefault(no, seller) != seller:
            return None  # another trade's invoice
        key = InvoiceKey(buyer, seller, no)
        if key not in invoices:
            invoices[key] = _registered(registered, key, amount_fen)
        return invoices[key]

    sellers = list(dict.fromkeys(seller for seller, _ in payments))
    if len(sellers) == 1:  # one trade: every invoice it cites is registered for it
        for no, amount_fen in cited:
            if invoice_of(sellers[0], no, amount_fen) is None:
                raise Refusal(
                    "invoice-conflict",
                    f"invoice {no} is registered in your trade with another seller",
                )
    uses: list[tuple[InvoiceUse, ...]] = []
    for seller, payment_fen in payments:
        slices: list[InvoiceUse] = []
        remaining = payment_fen
        for no, amount_fen in cited:
            invoice = invoice_of(seller, no, amount_fen) if remaining else None
            take = min(remaining, invoice.amount_fen - invoice.used_fen) if invoice else 0
            if invoice is not None and take > 0:
                invoices[invoice.key] = replace(invoice, used_fen=invoice.used_fen + take)
                slices.append(InvoiceUse(no, take, buyer, seller))
                remaining -= take
        if remaining > 0:
            raise Refusal(
                "invoice-overused",
                f"the cited invoices cannot back a payment of {format_fen(payment_fen)}: "
                "an invoice cannot back more than its own amount, nor pay two sellers",
            )
        uses.append(tuple(slices))
    return invoices, uses


def release(
    registered: Mapping[InvoiceKey, Invoice], uses: Iterable[InvoiceUse]
) -> dict[InvoiceKey, Invoice]:
    """Give back the slices of a payment that did not happen."""
    invoices: dict[InvoiceKey, Invoice] = {}
    for use in uses:
        invoice = invoices.get(use.key) or registered[use.key]
        assert invoice.used_fen >= use.amount_fen, (invoice, use)
        invoices[use.key] = replace(invoice, used_fen=invoice.used_fen - use.amount_fen)
    return invoices
