"""The tables: the journal (source of truth) and the projections derived from it.

The schema only ever changes through Alembic migrations (``migrations/``); these
definitions are what the migrations build, and a test checks the two agree.

JSON in the journal is stored as text in its RFC 8785 form, so the bytes that were
hashed are exactly the bytes that are kept (``jsonb`` would reformat them).
Every projection row carries ``updated_seq``: the journal entry that last wrote it,
so a row edited behind the service's back can be traced to a seq by ``dcc verify``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

entries = Table(
    "entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False, unique=True),
    Column("recorded_at", String(40), nullable=False),
    # type, signer and nonce repeat fields of ``command`` so that they can be indexed;
    # ``dcc verify`` checks that they agree with the hashed command.
    Column("type", String(64), nullable=False),
    Column("signer", String(18), nullable=True),
    Column("nonce", String(64), nullable=True),
    Column("command", Text, nullable=False),
    Column("signature", Text, nullable=True),
    Column("effects", Text, nullable=False),
    UniqueConstraint("signer", "nonce", name="uq_entries_signer_nonce"),
)

# One row (id = 1): the seq and hash of the newest entry. Writers lock this row, which
# serialises appends to the chain on PostgreSQL; SQLite serialises with BEGIN IMMEDIATE.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("roles", String(64), nullable=False),  # sorted, comma-separated
    Column("status", String(16), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("admitted_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Column("netting_consent", Boolean, nullable=False, server_default=false()),
)

member_keys = Table(
    "member_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("member_id", String(18), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("added_seq", BigInteger, nullable=False),
    Column("retired_seq", BigInteger, nullable=True),
    Column("updated_seq", BigInteger, nullable=False),
    Index("ix_member_keys_member_id", "member_id"),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("root_id", String(32), nullable=False),
    Column("parent_ids", Text, nullable=False),  # JSON list
    Column("issuer", String(18), nullable=False),
    Column("holder", String(18), nullable=False),
    Column("sender", String(18), nullable=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("maturity", String(10), nullable=False),  # ISO date
    Column("state", String(16), nullable=False),
    Column("level", Integer, nullable=False),
    Column("trade", Text, nullable=False),  # canonical JSON
    Column("invoice_uses", Text, nullable=False),  # canonical JSON
    Column("expires_at", String(40), nullable=True),
    Column("flags", Text, nullable=False),  # canonical JSON
    Column("memo", Text, nullable=True),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Index("ix_certificates_holder_state", "holder", "state"),
    Index("ix_certificates_sender_state", "sender", "state"),
    Index("ix_certificates_root_id", "root_id"),
    Index("ix_certificates_state_expires_at", "state", "expires_at"),
)

# An invoice is its trade's: keyed by buyer (the payer, who cites it), number (normal
# form) and seller (the payee), in that order so a payment's look-up is a key prefix.
# Rows from before invoices had parties have an empty buyer and seller.
invoices = Table(
    "invoices",
    metadata,
    Column("buyer", String(18), primary_key=True),
    Column("no", String(40), primary_key=True),
    Column("seller", String(18), primary_key=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("used_fen", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)

issuance_limits = Table(
    "issuance_limits",
    metadata,
    Column("member", String(18), primary_key=True),
    Column("limit_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)

# Which entries touched which member: the index behind a wallet's history.
entry_parties = Table(
    "entry_parties",
    metadata,
    Column("member_id", String(18), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)

obligations = Table(
    "obligations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("debtor", String(18), nullable=False),
    Column("creditor", String(18), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("due_date", String(10), nullable=False),
    Column("state", String(24), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("payment_ref", String(100), nullable=True),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    # A payment the debtor claims and the creditor has not yet confirmed or disputed.
    Column("claimed_fen", BigInteger, nullable=True),
    Column("claim_ref", String(100), nullable=True),
    Index("ix_obligations_state", "state"),
    Index("ix_obligations_debtor", "debtor"),
)
