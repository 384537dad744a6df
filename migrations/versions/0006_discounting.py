"""Discounting: credit lines, financings, suppliers' tiers, buyer-pays paper.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Existing pieces were issued holder-pays and are under no financing, which is what
replaying their entries rebuilds: those entries name neither. Existing members are
unrated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("tier", sa.String(1), nullable=True))
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(
            sa.Column("interest_payer", sa.String(8), nullable=False, server_default="holder")
        )
        batch.add_column(sa.Column("financing", sa.String(32), nullable=True))
    op.create_table(
        "credit_lines",
        sa.Column("bank", sa.String(18), nullable=False),
        sa.Column("core", sa.String(18), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(12), nullable=False),
        sa.Column("expires_on", sa.String(10), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bank", "core"),
    )
    op.create_table(
        "financings",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("certificate", sa.String(32), nullable=False),
        sa.Column("applicant", sa.String(18), nullable=False),
        sa.Column("bank", sa.String(18), nullable=False),
        sa.Column("core", sa.String(18), nullable=False),
        sa.Column("face_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("interest_payer", sa.String(8), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("decided_seq", sa.BigInteger(), nullable=True),
        sa.Column("decided_on", sa.String(10), nullable=True),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("registration_ref", sa.String(100), nullable=True),
        sa.Column("disbursement_ref", sa.String(100), nullable=True),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("obligation", sa.String(32), nullable=True),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for columns in (("bank", "state"), ("applicant", "state"), ("state", "expires_at"), ("core",)):
        op.create_index(f"ix_financings_{'_'.join(columns)}", "financings", list(columns))


def downgrade() -> None:
    op.drop_table("financings")
    op.drop_table("credit_lines")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("financing")
        batch.drop_column("interest_payer")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("tier")
