"""The tables: the journal (source of truth) and the projections derived from it.

The schema only ever changes through Alembic migrations (``migrations/``); these
definitions are what the migrations build, and a test checks the two agree.

JSON in the journal is stored as text in its RFC 8785 form, so the bytes that were
hashed are exactly the bytes that are kept (``jsonb`` would reformat them).
Every projection row carries ``updated_seq``: the journal entry that last wrote it,
so a row edited behind the service's back can be traced to a seq by ``dcc verify``.

The projections' tables are derived from their entity declarations in
``ledger.entities`` (one per entity: its fields, columns and wire shape); the journal's
own tables are declared here, on the same :data:`metadata`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.entities import (
    CERTIFICATES,
    CREDIT_LINES,
    FINANCINGS,
    INVOICES,
    KEYS,
    LIMITS,
    MEMBERS,
    OBLIGATIONS,
    metadata,
)

__all__ = [
    "certificates",
    "credit_lines",
    "entries",
    "entry_parties",
    "financings",
    "invoices",
    "issuance_limits",
    "ledger_head",
    "member_keys",
    "members",
    "metadata",
    "obligations",
]

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

# Which entries touched which member: the index behind a wallet's history.
entry_parties = Table(
    "entry_parties",
    metadata,
    Column("member_id", String(18), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)

members = MEMBERS.table
member_keys = KEYS.table
certificates = CERTIFICATES.table
invoices = INVOICES.table
issuance_limits = LIMITS.table
obligations = OBLIGATIONS.table
credit_lines = CREDIT_LINES.table
financings = FINANCINGS.table
