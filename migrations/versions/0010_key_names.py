"""Named keys: a member may hold several active keys, each with a name.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Every key already registered gets the name ``"primary"``, the name a key's wire shape
leaves out (``ledger.entities.KEYS``): the journal's entries do not change, and
``dcc verify`` rebuilds the same rows from them. One ``ALTER TABLE`` with a default, so
the upgrade works on a populated database and takes as long as the database needs to
add a column with a constant default (instant on PostgreSQL 11 and later).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member_keys") as batch:
        batch.add_column(sa.Column("name", sa.String(64), nullable=False, server_default="primary"))


def downgrade() -> None:
    with op.batch_alter_table("member_keys") as batch:
        batch.drop_column("name")
