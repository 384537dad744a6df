"""Entries indexed by type, to find the last of a type (the rule settings in force).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

No entry is written here: a ledger begun before its settings were recorded gets a
``ledger.settings`` entry before the first entry a deployment decides after the upgrade
(``ledger.service``).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_type_seq", "entries", ["type", "seq"])


def downgrade() -> None:
    op.drop_index("ix_entries_type_seq", table_name="entries")
