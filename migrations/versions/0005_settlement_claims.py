"""Settlement is a claim the creditor confirms: a claimed amount and reference.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

The state column widens for ``settlement-claimed``. Existing obligations have no claim
(the new columns are NULL), which is what replaying their entries rebuilds: those
entries name no claim. Obligations an older version settled on the debtor's word stay
``settled``: the journal says so, and it is not rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("obligations") as batch:
        batch.alter_column(
            "state", existing_type=sa.String(16), type_=sa.String(24), existing_nullable=False
        )
        batch.add_column(sa.Column("claimed_fen", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("claim_ref", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("obligations") as batch:
        batch.drop_column("claim_ref")
        batch.drop_column("claimed_fen")
        batch.alter_column(
            "state", existing_type=sa.String(24), type_=sa.String(16), existing_nullable=False
        )
