"""All SQL of the journal and the member registry (reads and the append)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ledger import models
from ledger.canonical import canonical_text, parse_json
from ledger.chain import Entry
from ledger.members import Key, Member

HEAD_ROW_ID = 1


@dataclass(frozen=True)
class Head:
    seq: int
    entry_hash: str


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored, with the columns that repeat fields of its command."""

    entry: Entry
    type: str
    signer: str | None
    nonce: str | None
    command_text: str


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- the chain -------------------------------------------------------------------

    def head(self, *, lock: bool = False) -> Head | None:
        query = select(models.ledger_head.c.seq, models.ledger_head.c.entry_hash).where(
            models.ledger_head.c.id == HEAD_ROW_ID
        )
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return Head(row.seq, row.entry_hash) if row else None

    def append(self, entry: Entry, signer: str | None, nonce: str | None, type_: str) -> None:
        self.conn.execute(
            insert(models.entries).values(
                seq=entry.seq,
                prev_hash=entry.prev_hash,
                entry_hash=entry.entry_hash,
                recorded_at=entry.recorded_at,
                type=type_,
                signer=signer,
                nonce=nonce,
                command=canonical_text(entry.command),
                signature=entry.signature,
                effects=canonical_text(entry.effects),
            )
        )
        head = models.ledger_head
        if entry.seq == 1:
            self.conn.execute(
                insert(head).values(id=HEAD_ROW_ID, seq=1, entry_hash=entry.entry_hash)
            )
        else:
            self.conn.execute(
                update(head)
                .where(head.c.id == HEAD_ROW_ID)
                .values(seq=entry.seq, entry_hash=entry.entry_hash)
            )

    def entry_by_nonce(self, signer: str, nonce: str) -> StoredEntry | None:
        e = models.entries
        row = self.conn.execute(select(e).where(e.c.signer == signer, e.c.nonce == nonce)).first()
        return _stored_entry(row) if row else None

    def entry(self, seq: int) -> StoredEntry | None:
        row = self.conn.execute(select(models.entries).where(models.entries.c.seq == seq)).first()
        return _stored_entry(row) if row else None

    def entries(self, batch_size: int = 1000) -> Iterator[StoredEntry]:
        """Every entry in storage order of seq, streamed in batches."""
        result = self.conn.execution_options(yield_per=batch_size).execute(
            select(models.entries).order_by(models.entries.c.seq)
        )
        for row in result:
            yield _stored_entry(row)

    def entry_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(models.entries)).scalar_one())

    # -- members and keys -----------------------------------------------------------

    def member(self, member_id: str) -> Member | None:
        row = self.conn.execute(
            select(models.members).where(models.members.c.id == member_id)
        ).first()
        return _member(row._mapping) if row else None

    def key(self, key_id: str) -> Key | None:
        k = models.member_keys
        row = self.conn.execute(select(k).where(k.c.key_id == key_id)).first()
        return _key(row._mapping) if row else None

    def key_with_member(self, key_id: str) -> tuple[Key, Member] | None:
        """A key and the member it belongs to, in one query (authentication)."""
        k, m = models.member_keys, models.members
        row = self.conn.execute(
            select(
                k.c.key_id,
                k.c.member_id,
                k.c.public_key,
                k.c.added_seq,
                k.c.retired_seq,
                m.c.name,
                m.c.roles,
                m.c.status,
                m.c.key_id.label("current_key_id"),
                m.c.public_key.label("current_public_key"),
                m.c.admitted_seq,
            )
            .join(m, m.c.id == k.c.member_id)
            .where(k.c.key_id == key_id)
        ).first()
        if row is None:
            return None
        member = Member(
            id=row.member_id,
            name=row.name,
            roles=tuple(row.roles.split(",")),
            status=row.status,
            key_id=row.current_key_id,
            public_key=row.current_public_key,
            admitted_seq=row.admitted_seq,
        )
        return _key(row._mapping), member

    def table_rows(self, table: Any) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in self.conn.execute(select(table))]


def _stored_entry(row: Any) -> StoredEntry:
    entry = Entry(
        seq=row.seq,
        prev_hash=row.prev_hash,
        recorded_at=row.recorded_at,
        command=parse_json(row.command),
        signature=row.signature,
        effects=parse_json(row.effects),
        entry_hash=row.entry_hash,
    )
    return StoredEntry(entry, row.type, row.signer, row.nonce, row.command)


def _member(row: Any) -> Member:
    return Member(
        id=row["id"],
        name=row["name"],
        roles=tuple(row["roles"].split(",")),
        status=row["status"],
        key_id=row["key_id"],
        public_key=row["public_key"],
        admitted_seq=row["admitted_seq"],
    )


def _key(row: Any) -> Key:
    return Key(
        key_id=row["key_id"],
        member=row["member_id"],
        public_key=row["public_key"],
        added_seq=row["added_seq"],
        retired_seq=row["retired_seq"],
    )
