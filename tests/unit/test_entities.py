"""Entity declarations without a database: each round-trips object → wire → row → object,
and publishes exactly the wire shape the journal has always hashed.

The expected wire shapes are literals written out here, independent of the
declarations: renaming, adding or dropping a field fails these tests, since it would
change the hash of every entry that carries it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledger import models
from ledger.canonical import canonical_bytes
from ledger.certificates import Certificate, CertificateState
from ledger.credit import IssuanceLimit
from ledger.entities import (
    CERTIFICATES,
    CREDIT_LINES,
    ENTITIES,
    FINANCINGS,
    INVOICES,
    KEYS,
    LIMITS,
    LOG_KEYS,
    MEMBERS,
    NOTICES,
    OBLIGATIONS,
    PAYMENTS,
    WEBHOOKS,
    Entity,
)
from ledger.financing import CreditLine, Financing, FinancingState
from ledger.invoices import LEGACY, Invoice, InvoiceKey, InvoiceUse
from ledger.log_keys import LogKey
from ledger.members import Key, Member, MemberStatus
from ledger.obligations import Obligation, ObligationState
from ledger.pricing import InterestPayer
from ledger.projections import PARTIES, PROJECTIONS
from ledger.settlement import Notice, Payment
from ledger.webhooks import Endpoint, EndpointState

CORE, SUPPLIER = "91110000MA0000000H", "91310000MA1FL0000B"
BANK = "91110000100000000A"
ID, ROOT = "a" * 32, "b" * 32

MEMBER = Member(
    CORE, "Core Co", ("core", "supplier"), MemberStatus.ACTIVE, "k" * 32, "p" * 43, 2, True
)
MEMBER_WIRE = {
    "id": CORE,
    "name": "Core Co",
    "roles": ["core", "supplier"],
    "status": "active",
    "key_id": "k" * 32,
    "public_key": "p" * 43,
    "admitted_seq": 2,
    "netting_consent": True,
}

KEY = Key("k" * 32, CORE, "p" * 43, 2, 9)
KEY_WIRE = {
    "key_id": "k" * 32,
    "member": CORE,
    "public_key": "p" * 43,
    "added_seq": 2,
    "retired_seq": 9,
}

TRADE = {"contract_no": "HT-1", "invoices": [{"no": "INV1", "amount": "100.00"}]}
CERTIFICATE = Certificate(
    id=ID,
    root_id=ROOT,
    parent_ids=(ROOT,),
    issuer=CORE,
    holder=SUPPLIER,
    sender=CORE,
    amount_fen=100_00,
    maturity=date(2027, 3, 31),
    state=CertificateState.PENDING,
    level=2,
    trade=TRADE,
    invoice_uses=(InvoiceUse("INV1", 60_00, CORE, SUPPLIER), InvoiceUse("OLD7", 40_00)),
    expires_at="2026-01-02T03:04:05Z",
    flags=("long-tenor",),
    memo="first batch",
    created_seq=12,
)
CERTIFICATE_WIRE = {
    "id": ID,
    "root_id": ROOT,
    "parent_ids": [ROOT],
    "issuer": CORE,
    "holder": SUPPLIER,
    "amount": "100.00",
    "maturity": "2027-03-31",
    "state": "pending",
    "level": 2,
    "trade": TRADE,
    "sender": CORE,
    "expires_at": "2026-01-02T03:04:05Z",
    "invoice_uses": [
        {"no": "INV1", "amount": "60.00", "buyer": CORE, "seller": SUPPLIER},
        {"no": "OLD7", "amount": "40.00"},  # a slice of a legacy invoice names no parties
    ],
    "flags": ["long-tenor"],
    "memo": "first batch",
    "created_seq": 12,
}

INVOICE = Invoice(InvoiceKey(CORE, SUPPLIER, "INV1"), 100_00, 60_00)
INVOICE_WIRE = {
    "no": "INV1",
    "amount": "100.00",
    "used": "60.00",
    "buyer": CORE,
    "seller": SUPPLIER,
}

LIMIT = IssuanceLimit(CORE, 1_000_00, 100_00)
LIMIT_WIRE = {"member": CORE, "kind": "issuance", "limit": "1000.00", "outstanding": "100.00"}

OBLIGATION = Obligation(
    ID, CORE, SUPPLIER, 500_00, 300_00, date(2027, 1, 1), ObligationState.SETTLEMENT_CLAIMED,
    "PO-1", "TX-8", 7, claimed_fen=300_00, claim_ref="TX-9",
)  # fmt: skip
OBLIGATION_WIRE = {
    "id": ID,
    "debtor": CORE,
    "creditor": SUPPLIER,
    "amount": "500.00",
    "outstanding": "300.00",
    "due_date": "2027-01-01",
    "state": "settlement-claimed",
    "reference": "PO-1",
    "payment_ref": "TX-8",
    "created_seq": 7,
    "claimed": "300.00",
    "claim_ref": "TX-9",
}

RATED = replace(MEMBER, tier="B")
RATED_WIRE = MEMBER_WIRE | {"tier": "B"}

# Buyer-pays paper, locked under a financing: both fields appear only when not default.
FINANCED = replace(CERTIFICATE, interest_payer="issuer", financing="f" * 32)
FINANCED_WIRE = CERTIFICATE_WIRE | {"interest_payer": "issuer", "financing": "f" * 32}

LINE = CreditLine(BANK, CORE, 1_000_000_00, Decimal("0.0385"), date(2027, 6, 30), 300_00)
LINE_WIRE = {
    "bank": BANK,
    "core": CORE,
    "amount": "1000000.00",
    "annual_rate": "0.0385",
    "expires_on": "2027-06-30",
    "used": "300.00",
}

QUOTE = {"face": "100.00", "rate": "0.0539", "days": 91}
FINANCING = Financing(
    id="f" * 32,
    certificate=ID,
    applicant=SUPPLIER,
    bank=BANK,
    core=CORE,
    face_fen=100_00,
    state=FinancingState.APPROVED,
    interest_payer=InterestPayer.HOLDER,
    quote=QUOTE,
    expires_at="2026-01-02T03:04:05Z",
    created_seq=20,
    decided_seq=21,
    decided_on=date(2026, 1, 2),
    terms=QUOTE,
    registration_ref="REG-1",
    disbursement_ref=None,
    reason=None,
    obligation=None,
)
FINANCING_WIRE = {
    "id": "f" * 32,
    "certificate": ID,
    "applicant": SUPPLIER,
    "bank": BANK,
    "core": CORE,
    "face": "100.00",
    "state": "approved",
    "interest_payer": "holder",
    "quote": QUOTE,
    "expires_at": "2026-01-02T03:04:05Z",
    "created_seq": 20,
    "decided_seq": 21,
    "decided_on": "2026-01-02",
    "terms": QUOTE,
    "registration_ref": "REG-1",
    "disbursement_ref": None,
    "reason": None,
    "obligation": None,
}

ENDPOINT = Endpoint(
    ID, SUPPLIER, "https://s.example/hooks", ("certificate.received",), EndpointState.ACTIVE, 5, 8
)
ENDPOINT_WIRE = {
    "id": ID,
    "member": SUPPLIER,
    "url": "https://s.example/hooks",
    "events": ["certificate.received"],
    "state": "active",
    "created_seq": 5,
    "secret_seq": 8,
}

PAYMENT = Payment(
    ID, ROOT, ROOT, CORE, SUPPLIER, 300_00, date(2027, 1, 8), 3, 45, "TX-1", "o" * 32, 12
)
PAYMENT_WIRE = {
    "id": ID,
    "certificate": ROOT,
    "root_id": ROOT,
    "issuer": CORE,
    "holder": SUPPLIER,
    "amount": "300.00",
    "paid_on": "2027-01-08",
    "days_late": 3,
    "late_interest": "0.45",
    "payment_ref": "TX-1",
    "obligation": "o" * 32,
    "created_seq": 12,
}
LISTED = [{"id": ROOT, "holder": SUPPLIER, "amount": "300.00"}]
NOTICE = Notice(ID, CORE, date(2027, 1, 2), date(2027, 1, 4), 300_00, 1, LISTED, 9)
NOTICE_WIRE = {
    "id": ID,
    "issuer": CORE,
    "maturity": "2027-01-02",
    "payment_date": "2027-01-04",
    "amount": "300.00",
    "pieces": 1,
    "listed": LISTED,
    "created_seq": 9,
}
# Settlement's fields, left out at their old values: a piece paid in part at an agreed
# late rate, an issuer whose block the operator lifted, a supplier's payout account, an
# application that names its piece's maturity.
PAID = replace(CERTIFICATE, paid_fen=40_00, late_daily_rate=Decimal("0.0003"))
PAID_WIRE = CERTIFICATE_WIRE | {"paid": "40.00", "late_daily_rate": "0.0003"}
LIFTED = replace(LIMIT, block_lifted_until=date(2027, 2, 1), block_lift_reason="court order 7")
LIFTED_WIRE = LIMIT_WIRE | {
    "block_lifted_until": "2027-02-01",
    "block_lift_reason": "court order 7",
}
ACCOUNT = {"bank_name": "ICBC Shenzhen", "account_no": "4000023409200123456"}
PAYEE = replace(MEMBER, payout_account=ACCOUNT)
PAYEE_WIRE = MEMBER_WIRE | {"payout_account": ACCOUNT}

LOG_KEY = LogKey("ab" * 16, "dcc/" + "c" * 64, "A" * 43, 5, 9)
LOG_KEY_WIRE = {
    "key_id": "ab" * 16,
    "name": "dcc/" + "c" * 64,
    "public_key": "A" * 43,
    "published_seq": 5,
    "retired_seq": 9,
}

CASES: list[tuple[Entity[Any], Any, dict[str, Any]]] = [
    (MEMBERS, MEMBER, MEMBER_WIRE),
    (KEYS, KEY, KEY_WIRE),
    (CERTIFICATES, CERTIFICATE, CERTIFICATE_WIRE),
    (INVOICES, INVOICE, INVOICE_WIRE),
    (LIMITS, LIMIT, LIMIT_WIRE),
    (OBLIGATIONS, OBLIGATION, OBLIGATION_WIRE),
    (CREDIT_LINES, LINE, LINE_WIRE),
    (FINANCINGS, FINANCING, FINANCING_WIRE),
    (WEBHOOKS, ENDPOINT, ENDPOINT_WIRE),
    (PAYMENTS, PAYMENT, PAYMENT_WIRE),
    (NOTICES, NOTICE, NOTICE_WIRE),
    (LOG_KEYS, LOG_KEY, LOG_KEY_WIRE),
]
# Fields added later, left out of the wire shape at their old value (checked above).
LATER_CASES = [
    (MEMBERS, RATED, RATED_WIRE),
    (CERTIFICATES, FINANCED, FINANCED_WIRE),
    (CERTIFICATES, PAID, PAID_WIRE),
    (LIMITS, LIFTED, LIFTED_WIRE),
    (MEMBERS, PAYEE, PAYEE_WIRE),
]
ALL_CASES, ALL_IDS = (
    CASES + LATER_CASES,
    [e.collection for e, _, _ in CASES] + ["rated", "financed", "paid", "lifted", "payee"],
)
IDS = [entity.collection for entity, _, _ in CASES]


def test_every_entity_is_declared_and_tested() -> None:
    assert set(ENTITIES) == set(IDS) == {
        "members", "keys", "certificates", "invoices", "limits", "obligations",
        "credit_lines", "financings", "webhooks", "payments", "notices", "log_keys",
    }  # fmt: skip


@pytest.mark.parametrize(("entity", "obj", "wire"), ALL_CASES, ids=ALL_IDS)
def test_the_wire_shape_is_the_published_one(
    entity: Entity[Any], obj: Any, wire: dict[str, Any]
) -> None:
    produced = obj.wire()
    assert produced == entity.to_wire(obj)
    # Key order too: the HTTP answers carry these dicts as they are.
    assert list(produced) == list(wire)
    assert canonical_bytes(produced) == canonical_bytes(wire)
    for value in produced.values():  # plain JSON values, never an enum or a tuple
        assert type(value) in (str, int, bool, list, dict, type(None)), value


@pytest.mark.parametrize(("entity", "obj", "wire"), ALL_CASES, ids=ALL_IDS)
def test_object_wire_row_object_round_trips(
    entity: Entity[Any], obj: Any, wire: dict[str, Any]
) -> None:
    row = entity.to_row(obj.wire())
    assert set(row) | {"updated_seq"} == {column.name for column in entity.table.columns}
    assert entity.from_row(row) == obj
    assert entity.to_wire(entity.from_row(row)) == wire
    assert entity.key_of(row) == tuple(row[column] for column in entity.key_columns)


@pytest.mark.parametrize(("entity", "obj", "wire"), ALL_CASES, ids=ALL_IDS)
def test_columns_hold_plain_values(entity: Entity[Any], obj: Any, wire: dict[str, Any]) -> None:
    for value in entity.to_row(wire).values():  # what the drivers bind: no enums, no lists
        assert type(value) in (str, int, bool, type(None)), value


def test_the_certificate_row_keeps_json_as_canonical_text() -> None:
    row = CERTIFICATES.to_row(CERTIFICATE_WIRE)
    assert row["parent_ids"] == f'["{ROOT}"]'
    assert row["flags"] == '["long-tenor"]'
    assert row["trade"] == '{"contract_no":"HT-1","invoices":[{"amount":"100.00","no":"INV1"}]}'
    assert row["amount_fen"] == 100_00 and row["state"] == "pending"


def test_legacy_wire_shapes_still_project() -> None:
    # A member admitted before netting consent existed.
    member = {k: v for k, v in MEMBER_WIRE.items() if k != "netting_consent"}
    assert MEMBERS.to_row(member)["netting_consent"] is False
    # An invoice registered before invoices had parties: stored under LEGACY, and its
    # wire shape names no parties again.
    legacy = {"no": "OLD7", "amount": "40.00", "used": "40.00"}
    row = INVOICES.to_row(legacy)
    assert (row["buyer"], row["seller"]) == (LEGACY, LEGACY)
    assert INVOICES.from_row(row) == Invoice(InvoiceKey(LEGACY, LEGACY, "OLD7"), 40_00, 40_00)
    assert INVOICES.from_row(row).wire() == legacy
    # An obligation from before settlement claims.
    obligation = {k: v for k, v in OBLIGATION_WIRE.items() if k not in ("claimed", "claim_ref")}
    row = OBLIGATIONS.to_row(obligation)
    assert (row["claimed_fen"], row["claim_ref"]) == (None, None)


def test_an_unknown_state_is_not_projected() -> None:
    with pytest.raises(ValueError):
        CERTIFICATES.to_row(CERTIFICATE_WIRE | {"state": "lost"})


def test_the_tables_are_the_models_and_the_projections() -> None:
    assert models.members is MEMBERS.table and models.member_keys is KEYS.table
    assert models.certificates is CERTIFICATES.table and models.invoices is INVOICES.table
    assert models.issuance_limits is LIMITS.table
    assert models.obligations is OBLIGATIONS.table
    assert models.webhook_endpoints is WEBHOOKS.table
    assert set(PROJECTIONS) == set(ENTITIES) | {PARTIES}
    for collection, entity in ENTITIES.items():
        projection = PROJECTIONS[collection]
        assert projection.table is entity.table
        assert projection.key_columns == entity.key_columns
        primary_key = [column.name for column in entity.table.primary_key.columns]
        assert primary_key == list(entity.key_columns)
