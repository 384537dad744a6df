"""Invoices belong to their trade: keyed by buyer, number and seller.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Until now an invoice number was one platform-wide namespace. Existing rows move to the
*legacy* namespace (empty buyer and seller) unchanged: that is exactly what replaying
their entries rebuilds (``dcc verify``), since those entries name no parties, and the
pieces that cite them give their slices back there. New citations are keyed to their
parties; see ``ledger/invoices.py`` for how they start from a legacy invoice's room.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    # A primary key cannot be changed in place on SQLite: build the new table, copy, swap.
    op.create_table(
        "invoices_by_party",
        sa.Column("buyer", sa.String(18), nullable=False),
        sa.Column("no", sa.String(40), nullable=False),
        sa.Column("seller", sa.String(18), nullable=False),
        *_columns(),
        sa.PrimaryKeyConstraint("buyer", "no", "seller"),
    )
    op.execute(
        "INSERT INTO invoices_by_party (buyer, no, seller, amount_fen, used_fen, updated_seq) "
        "SELECT '', no, '', amount_fen, used_fen, updated_seq FROM invoices"
    )
    op.drop_table("invoices")
    op.rename_table("invoices_by_party", "invoices")


def downgrade() -> None:
    # Only the legacy namespace fits the old table; party-keyed rows cannot be kept.
    op.create_table(
        "invoices_global",
        sa.Column("no", sa.String(40), primary_key=True),
        *_columns(),
    )
    op.execute(
        "INSERT INTO invoices_global (no, amount_fen, used_fen, updated_seq) "
        "SELECT no, amount_fen, used_fen, updated_seq FROM invoices WHERE buyer = ''"
    )
    op.drop_table("invoices")
    op.rename_table("invoices_global", "invoices")
