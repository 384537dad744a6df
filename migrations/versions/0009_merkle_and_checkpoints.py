"""The Merkle tree over the entries, the log keys and the signed checkpoints.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

``merkle_nodes`` is derived from the entries like an index, so an existing ledger gets
it filled here: every entry's leaf is recomputed from its stored columns (the command
and effects are kept in their canonical form, so the bytes whose SHA-256 is the entry's
hash are rebuilt exactly) and every perfect subtree stored as it completes. One pass in
seq order, a thousand entries at a time; on a large journal this migration takes as
long as reading it once (about 10 s per million entries). No log key is published and
no checkpoint is signed here: ``dcc log-key init`` does that (docs/operations.md).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from ledger.chain import entry_bytes
from ledger.merkle import Node, append_leaf, leaf_hash

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    nodes = op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "log_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("published_seq", sa.BigInteger(), nullable=False),
        sa.Column("retired_seq", sa.BigInteger(), nullable=True),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    assert nodes is not None
    _backfill(op.get_bind(), nodes)


def _backfill(conn: sa.Connection, nodes: sa.Table) -> None:
    entries = sa.table(
        "entries",
        *(
            sa.column(name)
            for name in ("seq", "prev_hash", "recorded_at", "command", "signature", "effects")
        ),
    )
    # A statement option: on the migration's connection it would outlive this query.
    query = sa.select(entries).order_by(entries.c.seq).execution_options(yield_per=_BATCH)
    frontier: dict[Node, bytes] = {}
    rows: list[dict[str, Any]] = []
    for entry in conn.execute(query):
        data = entry_bytes(
            entry.seq,
            entry.prev_hash,
            entry.recorded_at,
            entry.command.encode(),
            entry.signature,
            entry.effects.encode(),
        )
        for (level, index), digest in append_leaf(frontier, entry.seq - 1, leaf_hash(data)):
            rows.append({"level": level, "idx": index, "hash": digest})
        if len(rows) >= _BATCH:
            conn.execute(sa.insert(nodes), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(nodes), rows)


def downgrade() -> None:
    op.drop_table("log_keys")
    op.drop_table("checkpoints")
    op.drop_table("merkle_nodes")
