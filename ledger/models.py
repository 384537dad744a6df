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
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
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
    LOG_KEYS,
    MEMBERS,
    NOTICES,
    OBLIGATIONS,
    PAYMENTS,
    WEBHOOKS,
    metadata,
)

__all__ = [
    "certificates",
    "checkpoints",
    "credit_lines",
    "entries",
    "entry_parties",
    "financings",
    "invoices",
    "issuance_limits",
    "ledger_head",
    "log_keys",
    "member_keys",
    "members",
    "merkle_nodes",
    "metadata",
    "obligations",
    "webhook_attempts",
    "webhook_endpoints",
    "webhook_outbox",
    "webhook_secrets",
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
    # The last entry of a type (the settings in force: ``Repository.recorded_settings``).
    Index("ix_entries_type_seq", "type", "seq"),
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
webhook_endpoints = WEBHOOKS.table
payments = PAYMENTS.table
settlement_notices = NOTICES.table
log_keys = LOG_KEYS.table

# The Merkle tree over the entries (ledger.merkle): every perfect subtree, stored as it
# completes, written in the entries' transaction. Derived from the entries like an index
# (leaf ``idx`` at level 0 is entry ``seq = idx + 1``), so ``dcc verify`` does not compare
# it; a proof is a few reads of it by primary key.
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

# -- Operational tables: not ledger state ------------------------------------------------
#
# Written in the same transaction as the entries they follow from, but never replayed
# and never compared by `dcc verify`: they hold what the journal must not (an endpoint's
# secret) and what is about delivery rather than about the ledger (the outbox and its
# attempts). Times here are the server's wall clock in unix milliseconds.

# Each endpoint's signing secret, and the one it replaced while that still signs; and
# whether the relay disabled the endpoint (it answered 410 Gone).
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("endpoint_id", String(32), primary_key=True),
    Column("member", String(18), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("secret_seq", BigInteger, nullable=False),  # the endpoint's secret_seq it is for
    Column("previous_secret", String(100), nullable=True),
    Column("previous_until_ms", BigInteger, nullable=True),
    Column("disabled_ms", BigInteger, nullable=True),
    Column("disabled_reason", String(200), nullable=True),
)

# One message per event and endpoint: what the relay sends until it is delivered or fails.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", String(36), primary_key=True),  # the webhook-id header: msg_<32 hex>
    Column("endpoint_id", String(32), nullable=False),
    Column("member", String(18), nullable=False),
    Column("event", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the entry behind it
    Column("body", Text, nullable=False),  # the exact bytes sent on every attempt
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),  # made, in all rounds
    Column("round_attempts", Integer, nullable=False),  # made in this round: the schedule's place
    Column("redeliveries", Integer, nullable=False),  # rounds its member asked for again
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("done_ms", BigInteger, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_webhook_outbox_state_next_attempt_ms", "state", "next_attempt_ms"),
    Index("ix_webhook_outbox_member_seq", "member", "seq"),
    Index("ix_webhook_outbox_seq", "seq"),
)

# Every checkpoint the service signed (ledger.transparency): the tree size, its root and
# the signed note, kept so that a client can fetch any past one.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),  # RFC 3339 UTC, the server's clock
)

# Every attempt of every message: its outcome, how long it took and what came back.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("message_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("status", Integer, nullable=True),  # none: no answer (refused, timed out)
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(200), nullable=True),
    Column("response", Text, nullable=True),  # the answer's first bytes
    PrimaryKeyConstraint("message_id", "attempt"),
)
