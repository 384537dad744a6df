"""Indexes for the listings: members by admission, obligations by creditor and by
creation, certificates (roots) by issue, of one issuer or of all.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Only indexes: nothing in the journal or the projections changes. On a large ledger
each is built in one pass over its table (PostgreSQL holds a write lock on the table
meanwhile: run it in a maintenance window, docs/operations.md).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = (
    ("members", ("admitted_seq",)),
    ("obligations", ("creditor", "created_seq")),
    ("obligations", ("created_seq",)),
    ("certificates", ("issuer", "created_seq")),
    ("certificates", ("created_seq",)),
)


def _name(table: str, columns: tuple[str, ...]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(_name(table, columns), table, list(columns))


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(_name(table, columns), table_name=table)
