"""Webhooks: members' endpoints (ledger state), their secrets and the outbox (operational).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02

``webhook_endpoints`` is a projection like any other: ``dcc verify`` rebuilds it from the
journal. ``webhook_secrets``, ``webhook_outbox`` and ``webhook_attempts`` are operational
state that no entry covers: written in the entries' transactions, never replayed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("member", sa.String(18), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("secret_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_endpoints_member", "webhook_endpoints", ["member"])
    op.create_table(
        "webhook_secrets",
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("member", sa.String(18), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("secret_seq", sa.BigInteger(), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        sa.Column("previous_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("disabled_ms", sa.BigInteger(), nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("endpoint_id"),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("member", sa.String(18), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("round_attempts", sa.Integer(), nullable=False),
        sa.Column("redeliveries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_outbox_state_next_attempt_ms", "webhook_outbox", ["state", "next_attempt_ms"]
    )
    op.create_index("ix_webhook_outbox_member_seq", "webhook_outbox", ["member", "seq"])
    op.create_index("ix_webhook_outbox_seq", "webhook_outbox", ["seq"])
    op.create_table(
        "webhook_attempts",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_id", "attempt"),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    for index in (
        "ix_webhook_outbox_seq",
        "ix_webhook_outbox_member_seq",
        "ix_webhook_outbox_state_next_attempt_ms",
    ):
        op.drop_index(index, table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_table("webhook_secrets")
    op.drop_index("ix_webhook_endpoints_member", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
