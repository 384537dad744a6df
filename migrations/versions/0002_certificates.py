"""Certificates, invoices, issuance limits, and the entry-parties index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("root_id", sa.String(32), nullable=False),
        sa.Column("parent_ids", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(18), nullable=False),
        sa.Column("holder", sa.String(18), nullable=False),
        sa.Column("sender", sa.String(18), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("maturity", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("trade", sa.Text(), nullable=False),
        sa.Column("invoice_uses", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_certificates_holder_state", "certificates", ["holder", "state"])
    op.create_index("ix_certificates_sender_state", "certificates", ["sender", "state"])
    op.create_index("ix_certificates_root_id", "certificates", ["root_id"])
    op.create_index("ix_certificates_state_expires_at", "certificates", ["state", "expires_at"])
    op.create_table(
        "invoices",
        sa.Column("no", sa.String(40), primary_key=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "issuance_limits",
        sa.Column("member", sa.String(18), primary_key=True),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "entry_parties",
        sa.Column("member_id", sa.String(18), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    )


def downgrade() -> None:
    for index in (
        "ix_certificates_state_expires_at",
        "ix_certificates_root_id",
        "ix_certificates_sender_state",
        "ix_certificates_holder_state",
    ):
        op.drop_index(index, table_name="certificates")
    for table in ("entry_parties", "issuance_limits", "invoices", "certificates"):
        op.drop_table(table)
