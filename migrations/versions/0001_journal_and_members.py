"""The journal (append-only, enforced by triggers) and the member registry.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
       BEGIN SELECT RAISE(ABORT, 'entries are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
       BEGIN SELECT RAISE(ABORT, 'entries are append-only: DELETE refused'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION dcc_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'entries are append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER entries_no_update_delete BEFORE UPDATE OR DELETE ON entries
       FOR EACH ROW EXECUTE FUNCTION dcc_entries_append_only()""",
    """CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
       FOR EACH STATEMENT EXECUTE FUNCTION dcc_entries_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("signer", sa.String(18), nullable=True),
        sa.Column("nonce", sa.String(64), nullable=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.UniqueConstraint("signer", "nonce", name="uq_entries_signer_nonce"),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("admitted_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "member_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("member_id", sa.String(18), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("added_seq", sa.BigInteger(), nullable=False),
        sa.Column("retired_seq", sa.BigInteger(), nullable=True),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_member_keys_member_id", "member_keys", ["member_id"])
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS entries_no_truncate ON entries")
        op.execute("DROP TRIGGER IF EXISTS entries_no_update_delete ON entries")
        op.execute("DROP FUNCTION IF EXISTS dcc_entries_append_only()")
    op.drop_index("ix_member_keys_member_id", table_name="member_keys")
    for table in ("member_keys", "members", "ledger_head", "entries"):
        op.drop_table(table)
