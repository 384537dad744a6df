"""Obligations, and members' consent to netting.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("netting_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "obligations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("debtor", sa.String(18), nullable=False),
        sa.Column("creditor", sa.String(18), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("payment_ref", sa.String(100), nullable=True),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_obligations_state", "obligations", ["state"])
    op.create_index("ix_obligations_debtor", "obligations", ["debtor"])


def downgrade() -> None:
    op.drop_index("ix_obligations_debtor", table_name="obligations")
    op.drop_index("ix_obligations_state", table_name="obligations")
    op.drop_table("obligations")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("netting_consent")
