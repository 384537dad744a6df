"""All SQL of the journal and the member registry (reads and the append)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, desc, func, insert, or_, select, tuple_, update

from ledger import models
from ledger.canonical import canonical_text, parse_json
from ledger.certificates import HOLDING, PENDING, Certificate
from ledger.chain import Entry
from ledger.credit import IssuanceLimit
from ledger.invoices import Invoice, InvoiceUse
from ledger.members import Key, Member
from ledger.money import parse_amount

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

    def members(self, member_ids: Iterable[str]) -> dict[str, Member]:
        ids = sorted(set(member_ids))
        if not ids:
            return {}
        rows = self.conn.execute(select(models.members).where(models.members.c.id.in_(ids)))
        return {row.id: _member(row._mapping) for row in rows}

    # -- certificates, invoices, limits ------------------------------------------------

    def certificate(self, certificate_id: str) -> Certificate | None:
        return self.certificates([certificate_id]).get(certificate_id)

    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        c = models.certificates
        rows = self.conn.execute(select(c).where(c.c.id.in_(wanted)))
        return {row.id: _certificate(row) for row in rows}

    def invoices(self, numbers: Iterable[str]) -> dict[str, Invoice]:
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        i = models.invoices
        rows = self.conn.execute(select(i).where(i.c.no.in_(wanted)))
        return {row.no: Invoice(row.no, row.amount_fen, row.used_fen) for row in rows}

    def issuance_limits(self, members: Iterable[str]) -> dict[str, IssuanceLimit]:
        wanted = sorted(set(members))
        if not wanted:
            return {}
        t = models.issuance_limits
        rows = self.conn.execute(select(t).where(t.c.member.in_(wanted)))
        return {r.member: IssuanceLimit(r.member, r.limit_fen, r.outstanding_fen) for r in rows}

    def due_pending(self, now_text: str, limit: int, ids: Sequence[str] = ()) -> list[Certificate]:
        """Pending pieces whose deadline has passed, oldest deadline first."""
        c = models.certificates
        query = select(c).where(c.c.state == PENDING, c.c.expires_at <= now_text)
        if ids:
            query = query.where(c.c.id.in_(sorted(set(ids))))
        rows = self.conn.execute(query.order_by(c.c.expires_at, c.c.id).limit(limit))
        return [_certificate(row) for row in rows]

    def tree(self, root_id: str) -> list[Certificate]:
        c = models.certificates
        rows = self.conn.execute(
            select(c).where(c.c.root_id == root_id).order_by(c.c.created_seq, c.c.id)
        )
        return [_certificate(row) for row in rows]

    def wallet_page(
        self, member: str, after: tuple[int, str] | None, limit: int
    ) -> list[Certificate]:
        """Held (active, pending, locked, overdue) and outgoing pending pieces, by creation."""
        c = models.certificates
        visible = or_(
            and_(c.c.holder == member, c.c.state.in_(sorted(HOLDING))),
            and_(c.c.sender == member, c.c.state == PENDING),
        )
        query = select(c).where(visible)
        if after is not None:
            query = query.where(tuple_(c.c.created_seq, c.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(c.c.created_seq, c.c.id).limit(limit))
        return [_certificate(row) for row in rows]

    def wallet_totals(self, member: str) -> list[tuple[str, str, str, int]]:
        """(issuer, maturity, state, amount_fen) over what the member holds."""
        c = models.certificates
        rows = self.conn.execute(
            select(c.c.issuer, c.c.maturity, c.c.state, func.sum(c.c.amount_fen))
            .where(c.c.holder == member, c.c.state.in_(sorted(HOLDING)))
            .group_by(c.c.issuer, c.c.maturity, c.c.state)
            .order_by(c.c.issuer, c.c.maturity, c.c.state)
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]

    def history(self, member: str, before_seq: int | None, limit: int) -> list[StoredEntry]:
        """Entries that touched ``member``, newest first (one query, joined)."""
        p, e = models.entry_parties, models.entries
        query = select(e).join(p, p.c.seq == e.c.seq).where(p.c.member_id == member)
        if before_seq is not None:
            query = query.where(p.c.seq < before_seq)
        rows = self.conn.execute(query.order_by(desc(p.c.seq)).limit(limit))
        return [_stored_entry(row) for row in rows]

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


def _certificate(row: Any) -> Certificate:
    return Certificate(
        id=row.id,
        root_id=row.root_id,
        parent_ids=tuple(parse_json(row.parent_ids)),
        issuer=row.issuer,
        holder=row.holder,
        sender=row.sender,
        amount_fen=row.amount_fen,
        maturity=date.fromisoformat(row.maturity),
        state=row.state,
        level=row.level,
        trade=parse_json(row.trade),
        invoice_uses=tuple(
            InvoiceUse(use["no"], parse_amount(use["amount"]))
            for use in parse_json(row.invoice_uses)
        ),
        expires_at=row.expires_at,
        flags=tuple(parse_json(row.flags)),
        memo=row.memo,
        created_seq=row.created_seq,
    )
