"""Settlement: payments at maturity, overdue paper, notices, payout accounts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Existing pieces were not paid and carry no late rate of their own (the deployment's
default applies); existing applications name no maturity (their payment date stands in
for it); no issuer's block was lifted; no member registered a payout account. That is
what replaying their entries rebuilds: those entries name none of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("payout_account", sa.Text(), nullable=True))
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("paid_fen", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("late_daily_rate", sa.String(12), nullable=True))
    op.create_index(
        "ix_certificates_issuer_state_maturity", "certificates", ["issuer", "state", "maturity"]
    )
    op.create_index("ix_certificates_state_maturity", "certificates", ["state", "maturity"])
    with op.batch_alter_table("issuance_limits") as batch:
        batch.add_column(sa.Column("block_lifted_until", sa.String(10), nullable=True))
        batch.add_column(sa.Column("block_lift_reason", sa.String(100), nullable=True))
    with op.batch_alter_table("financings") as batch:
        batch.add_column(sa.Column("maturity", sa.String(10), nullable=True))
    op.create_table(
        "payments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("certificate", sa.String(32), nullable=False),
        sa.Column("root_id", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(18), nullable=False),
        sa.Column("holder", sa.String(18), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.String(10), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("late_interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("payment_ref", sa.String(100), nullable=False),
        sa.Column("obligation", sa.String(32), nullable=True),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for columns in (("issuer", "paid_on"), ("root_id",), ("holder",)):
        op.create_index(f"ix_payments_{'_'.join(columns)}", "payments", list(columns))
    op.create_table(
        "settlement_notices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(18), nullable=False),
        sa.Column("maturity", sa.String(10), nullable=False),
        sa.Column("payment_date", sa.String(10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("pieces", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Text(), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_settlement_notices_issuer_maturity", "settlement_notices", ["issuer", "maturity"]
    )


def downgrade() -> None:
    op.drop_table("settlement_notices")
    op.drop_table("payments")
    with op.batch_alter_table("financings") as batch:
        batch.drop_column("maturity")
    with op.batch_alter_table("issuance_limits") as batch:
        batch.drop_column("block_lift_reason")
        batch.drop_column("block_lifted_until")
    op.drop_index("ix_certificates_state_maturity", "certificates")
    op.drop_index("ix_certificates_issuer_state_maturity", "certificates")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("late_daily_rate")
        batch.drop_column("paid_fen")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("payout_account")
