"""All SQL of the journal and the member registry (reads and the append)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    desc,
    distinct,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)

from ledger import models
from ledger.canonical import canonical_text, parse_canonical, parse_json
from ledger.certificates import (
    ACTIVE,
    HOLDING,
    OVERDUE,
    PENDING,
    SETTLED,
    Certificate,
    RootState,
)
from ledger.chain import GENESIS_TYPE, SETTINGS_TYPE, Entry
from ledger.credit import IssuanceLimit
from ledger.entities import (
    CERTIFICATES,
    CREDIT_LINES,
    FINANCINGS,
    INVOICES,
    KEYS,
    LIMITS,
    LOG_KEYS,
    MEMBERS,
    OBLIGATIONS,
    WEBHOOKS,
)
from ledger.financing import CreditLine, Financing, FinancingState
from ledger.invoices import LEGACY, Invoice, InvoiceKey
from ledger.log_keys import LogKey
from ledger.members import Key, Member, MemberStatus
from ledger.merkle import Node, range_nodes
from ledger.obligations import OPEN_OBLIGATION_STATES, Obligation, ObligationState
from ledger.webhooks import Endpoint, EndpointState

HEAD_ROW_ID = 1
_mn, _cp, _lk = models.merkle_nodes, models.checkpoints, models.log_keys
_INSERT_NODES = insert(_mn)
_ACTIVE_LOG_KEY = select(_lk).where(_lk.c.retired_seq.is_(None))
_LATEST_CHECKPOINT = select(_cp).order_by(desc(_cp.c.size)).limit(1)
_CHECKPOINT = select(_cp).where(_cp.c.size == bindparam("size"))
_IS_PARTY = select(models.entry_parties.c.seq).where(
    models.entry_parties.c.member_id == bindparam("member"),
    models.entry_parties.c.seq == bindparam("seq"),
)


def line_key(bank: str, core: str) -> str:
    """A credit line's key as one string (member ids hold no space), for counts by line."""
    return f"{bank} {core}"


HISTORY_BATCH = 4  # entries fetched at a time by a history read (each up to an entry's max)

# The hot statements are built once: SQLAlchemy then reuses their compiled form, and
# the write path spends its time in the database rather than in building queries.
_e, _k, _m = models.entries, models.member_keys, models.members
_c, _i, _l = models.certificates, models.invoices, models.issuance_limits
# The head row, with the recorded_at of the entry it names (by primary key: no query of
# its own on the write path). Only the head row is locked; an outer join so that a head
# naming a missing entry (a tampered database) still reads, for ``dcc verify`` to report.
_HEAD = (
    select(models.ledger_head.c.seq, models.ledger_head.c.entry_hash, _e.c.recorded_at)
    .select_from(models.ledger_head.outerjoin(_e, _e.c.seq == models.ledger_head.c.seq))
    .where(models.ledger_head.c.id == HEAD_ROW_ID)
)
_HEAD_LOCKED = _HEAD.with_for_update(of=models.ledger_head)
_ENTRY_BY_NONCE = select(_e).where(
    _e.c.signer == bindparam("signer"), _e.c.nonce == bindparam("nonce")
)
_INSERT_ENTRY = insert(_e)
_INSERT_HEAD = insert(models.ledger_head)
_UPDATE_HEAD = update(models.ledger_head).where(models.ledger_head.c.id == HEAD_ROW_ID)
_MEMBER = select(_m).where(_m.c.id == bindparam("id"))
_MEMBERS = select(_m).where(_m.c.id.in_(bindparam("ids", expanding=True)))
_KEY = select(_k).where(_k.c.key_id == bindparam("key_id"))
_KEY_WITH_MEMBER = select(
    *_k.c,
    # The member's own columns, but for those a key's row has too (under other names).
    *(
        column
        for column in _m.c
        if column.name not in ("id", "name", "key_id", "public_key", "updated_seq")
    ),
    _m.c.name.label("member_name"),
    _m.c.key_id.label("current_key_id"),
    _m.c.public_key.label("current_public_key"),
).join(_m, _m.c.id == _k.c.member_id)
# A member's active keys, oldest first (bounded by KEYS_PER_MEMBER_MAX).
_ACTIVE_KEYS = (
    select(_k)
    .where(_k.c.member_id == bindparam("member"), _k.c.retired_seq.is_(None))
    .order_by(_k.c.added_seq, _k.c.key_id)
)
_KEYS_WITH_MEMBERS = _KEY_WITH_MEMBER.where(_k.c.key_id.in_(bindparam("key_ids", expanding=True)))
_KEY_WITH_MEMBER = _KEY_WITH_MEMBER.where(_k.c.key_id == bindparam("key_id"))
# Two IN lists, not a row-value IN: SQLite scans the whole journal for the latter.
_ENTRIES_BY_NONCE = select(_e).where(
    _e.c.signer.in_(bindparam("signers", expanding=True)),
    _e.c.nonce.in_(bindparam("nonces", expanding=True)),
)
_CERTIFICATES = select(_c).where(_c.c.id.in_(bindparam("ids", expanding=True)))
_INVOICES = select(_i).where(
    _i.c.buyer.in_(bindparam("buyers", expanding=True)),
    _i.c.no.in_(bindparam("numbers", expanding=True)),
)
_OBLIGATIONS = select(models.obligations).where(
    models.obligations.c.id.in_(bindparam("ids", expanding=True))
)
_LIMITS = select(_l).where(_l.c.member.in_(bindparam("ids", expanding=True)))
_w = models.webhook_endpoints
_WEBHOOKS = select(_w).where(_w.c.id.in_(bindparam("ids", expanding=True)))
_LIVE_WEBHOOKS = (
    select(_w.c.member, func.count())
    .where(_w.c.member.in_(bindparam("ids", expanding=True)), _w.c.state == EndpointState.ACTIVE)
    .group_by(_w.c.member)
)
# Active paper maturing before a date, earliest first (asked on every issuance).
_MATURING = (
    select(_c)
    .where(_c.c.state == ACTIVE, _c.c.maturity < bindparam("before"))
    .order_by(_c.c.maturity, _c.c.id)
    .limit(bindparam("limit"))
)
_MATURING_OF_ISSUER = _MATURING.where(_c.c.issuer == bindparam("issuer"))
_MEMBER_WEBHOOKS = (
    select(_w)
    .where(_w.c.member == bindparam("member"), _w.c.state == EndpointState.ACTIVE)
    .order_by(_w.c.created_seq, _w.c.id)
)


_HELD = select(_c.c.holder.label("member"), func.count().label("n")).where(
    _c.c.holder.in_(bindparam("ids", expanding=True)),
    _c.c.state.in_(sorted(HOLDING - {PENDING})),
)
_SENT = select(_c.c.sender.label("member"), func.count().label("n")).where(
    _c.c.sender.in_(bindparam("ids", expanding=True)), _c.c.state == PENDING
)
_BOTH = union_all(_HELD.group_by(_c.c.holder), _SENT.group_by(_c.c.sender)).subquery()
_LIVE_PIECES = select(_BOTH.c.member, func.sum(_BOTH.c.n)).group_by(_BOTH.c.member)


@dataclass(frozen=True)
class Head:
    seq: int
    entry_hash: str
    # The head entry's time: no entry after it may be recorded earlier (None only when
    # the head row names a missing entry, which ``dcc verify`` reports).
    recorded_at: str | None


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored, with the columns that repeat fields of its command."""

    entry: Entry
    type: str
    signer: str | None
    nonce: str | None
    command_text: str
    effects_text: str


# The columns of an entry row the auditor reads, in the order it reads them.
ENTRY_TEXTS = (
    "seq",
    "prev_hash",
    "recorded_at",
    "command",
    "signature",
    "effects",
    "entry_hash",
    "type",
    "signer",
    "nonce",
)


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- the chain -------------------------------------------------------------------

    def head(self, *, lock: bool = False) -> Head | None:
        row = self.conn.execute(_HEAD_LOCKED if lock else _HEAD).first()
        return Head(row.seq, row.entry_hash, row.recorded_at) if row else None

    def head_seq(self) -> int:
        head = self.head()
        return head.seq if head else 0

    def append(
        self,
        entry: Entry,
        stored: tuple[bytes, bytes],
        signer: str | None,
        nonce: str | None,
        type_: str,
    ) -> None:
        """Insert one entry (``stored``: its command and effects as canonical bytes) and
        move the head to it."""
        command_bytes, effects_bytes = stored
        row = entry_row(entry, command_bytes.decode(), effects_bytes.decode(), signer, nonce, type_)
        self.append_rows([row])

    def append_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert entry rows (:func:`entry_row`, in seq order, the first extending the
        head) in one statement, and move the head to the last."""
        self.conn.execute(_INSERT_ENTRY, rows)
        first, last = rows[0], rows[-1]
        head = {"seq": last["seq"], "entry_hash": last["entry_hash"]}
        if first["seq"] == 1:
            self.conn.execute(_INSERT_HEAD, {"id": HEAD_ROW_ID, **head})
        else:
            self.conn.execute(_UPDATE_HEAD, head)

    def entry_by_nonce(self, signer: str, nonce: str) -> StoredEntry | None:
        row = self.conn.execute(_ENTRY_BY_NONCE, {"signer": signer, "nonce": nonce}).first()
        return stored_entry(row) if row else None

    def entries_by_nonce(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredEntry]:
        """The entries of the (signer, nonce) ``pairs`` that are recorded (one query)."""
        wanted = sorted(set(pairs))
        if not wanted:
            return {}
        signers, nonces = sorted({s for s, _ in wanted}), sorted({n for _, n in wanted})
        rows = self.conn.execute(_ENTRIES_BY_NONCE, {"signers": signers, "nonces": nonces})
        found = {(row.signer, row.nonce): row for row in rows}
        return {pair: stored_entry(found[pair]) for pair in wanted if pair in found}

    def ledger_id(self) -> str | None:
        """The id of this ledger: the hash of its genesis entry (None before ``dcc init``)."""
        return self.conn.execute(
            select(models.entries.c.entry_hash).where(models.entries.c.seq == 1)
        ).scalar_one_or_none()

    def entry(self, seq: int) -> StoredEntry | None:
        row = self.conn.execute(select(models.entries).where(models.entries.c.seq == seq)).first()
        return stored_entry(row) if row else None

    def entries(self, batch_size: int = 1000) -> Iterator[StoredEntry]:
        """Every entry in storage order of seq, streamed in batches."""
        for row in self.entry_rows(batch_size):
            yield stored_entry(row)

    def recorded_settings(self) -> dict[str, Any] | None:
        """The rule settings the journal last recorded (a ``ledger.settings`` entry, else
        the genesis entry's; None before genesis or if it recorded none)."""
        e = models.entries.c
        last = select(e.command).where(e.type == SETTINGS_TYPE).order_by(e.seq.desc()).limit(1)
        row = (
            self.conn.execute(last).first()
            or self.conn.execute(
                select(e.command).where(e.seq == 1, e.type == GENESIS_TYPE)
            ).first()
        )
        if row is None:
            return None
        values = parse_json(row.command).get("body", {}).get("settings")
        return values if isinstance(values, dict) else None

    def netting_plan_seqs(self) -> Counter[int]:
        """The seqs netting runs were planned on, where that is not the entry before the
        run's own (re-execution plans them there: ``ledger.reexecute``)."""
        e = models.entries.c
        seqs: Counter[int] = Counter()  # how many runs were planned on each
        for row in self.conn.execute(select(e.seq, e.effects).where(e.type == "netting.run")):
            try:
                on = parse_json(row.effects)["netting"]["planned_on"]
            except (ValueError, KeyError, TypeError):  # a legacy run, or a row re-execution
                continue  # will report as it reaches it
            if isinstance(on, int) and 0 <= on < row.seq - 1:
                seqs[on] += 1
        return seqs

    def entry_rows(self, batch_size: int = 1000) -> Iterator[Any]:
        """Every entry row as stored (JSON still text), in seq order."""
        result = self.conn.execution_options(yield_per=batch_size).execute(
            select(models.entries).order_by(models.entries.c.seq)
        )
        yield from result

    def entry_texts(self, batch_size: int = 1000) -> Iterator[tuple[Any, ...]]:
        """Every entry row as stored, as a plain tuple of :data:`ENTRY_TEXTS`, in seq
        order: for the auditor, which must report a row it cannot parse rather than fail
        on it (a tuple, not a result row: it reads millions, and sends them to workers)."""
        e = models.entries.c
        result = self.conn.execution_options(yield_per=batch_size).execute(
            select(*(e[name] for name in ENTRY_TEXTS)).order_by(e.seq)
        )
        yield from map(tuple, result)

    # -- the Merkle tree, the log keys and the checkpoints (ledger.transparency) ------------

    def append_nodes(self, rows: list[dict[str, Any]]) -> None:
        """Insert completed Merkle nodes ``{level, idx, hash}`` (one statement)."""
        if rows:
            self.conn.execute(_INSERT_NODES, rows)

    def merkle_nodes(self, nodes: Iterable[Node]) -> dict[Node, bytes]:
        """The stored hashes of ``nodes``: one query by primary key (a proof needs some
        forty nodes of a tree of 10^7 leaves)."""
        wanted = sorted(set(nodes))
        if not wanted:
            return {}
        params = {f"l{i}": level for i, (level, _) in enumerate(wanted)}
        params |= {f"i{i}": index for i, (_, index) in enumerate(wanted)}
        rows = self.conn.execute(_nodes_statement(len(wanted)), params)
        return {(row.level, row.idx): bytes(row.hash) for row in rows}

    def merkle_frontier(self, size: int) -> dict[Node, bytes]:
        """The perfect subtrees of the tree of ``size`` leaves (what appending needs)."""
        if size == 0:
            return {}
        wanted = range_nodes(0, size)
        found = self.merkle_nodes(wanted)
        assert len(found) == len(wanted), ("merkle_nodes lacks nodes", size, wanted)
        return found

    def active_log_key(self) -> LogKey | None:
        row = self.conn.execute(_ACTIVE_LOG_KEY).first()
        return LOG_KEYS.from_row(row._mapping) if row else None

    def log_keys(self, key_ids: Iterable[str]) -> dict[str, LogKey]:
        wanted = sorted(set(key_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(select(_lk).where(_lk.c.key_id.in_(wanted)))
        return {row.key_id: LOG_KEYS.from_row(row._mapping) for row in rows}

    def log_key(self, key_id: str) -> LogKey | None:
        return self.log_keys([key_id]).get(key_id)

    def log_key_history(self) -> list[LogKey]:
        rows = self.conn.execute(select(_lk).order_by(_lk.c.published_seq))
        return [LOG_KEYS.from_row(row._mapping) for row in rows]

    def latest_checkpoint(self) -> Any:
        return self.conn.execute(_LATEST_CHECKPOINT).first()

    def checkpoint(self, size: int) -> Any:
        return self.conn.execute(_CHECKPOINT, {"size": size}).first()

    def is_party(self, member: str, seq: int) -> bool:
        """Whether the entry ``seq`` touched ``member`` (``entry_parties``)."""
        return self.conn.execute(_IS_PARTY, {"member": member, "seq": seq}).first() is not None

    def entry_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(models.entries)).scalar_one())

    # -- members and keys -----------------------------------------------------------

    def member(self, member_id: str) -> Member | None:
        row = self.conn.execute(_MEMBER, {"id": member_id}).first()
        return MEMBERS.from_row(row._mapping) if row else None

    def key(self, key_id: str) -> Key | None:
        row = self.conn.execute(_KEY, {"key_id": key_id}).first()
        return KEYS.from_row(row._mapping) if row else None

    def key_with_member(self, key_id: str) -> tuple[Key, Member] | None:
        """A key and the member it belongs to, in one query (authentication)."""
        row = self.conn.execute(_KEY_WITH_MEMBER, {"key_id": key_id}).first()
        return None if row is None else _key_and_member(row)

    def active_keys(self, member_id: str) -> list[Key]:
        """A member's active keys, oldest first."""
        rows = self.conn.execute(_ACTIVE_KEYS, {"member": member_id})
        return [KEYS.from_row(row._mapping) for row in rows]

    def keys_with_members(self, key_ids: Iterable[str]) -> dict[str, tuple[Key, Member]]:
        """:meth:`key_with_member` of each of ``key_ids`` that exists, in one query."""
        wanted = sorted(set(key_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(_KEYS_WITH_MEMBERS, {"key_ids": wanted})
        return {row.key_id: _key_and_member(row) for row in rows}

    def members(self, member_ids: Iterable[str]) -> dict[str, Member]:
        ids = sorted(set(member_ids))
        if not ids:
            return {}
        rows = self.conn.execute(_MEMBERS, {"ids": ids})
        return {row.id: MEMBERS.from_row(row._mapping) for row in rows}

    # -- certificates, invoices, limits ------------------------------------------------

    def certificate(self, certificate_id: str) -> Certificate | None:
        return self.certificates([certificate_id]).get(certificate_id)

    def certificate_updated_seq(self, certificate_id: str) -> int | None:
        """The seq of the entry that last wrote the piece."""
        c = models.certificates
        query = select(c.c.updated_seq).where(c.c.id == certificate_id)
        seq = self.conn.execute(query).scalar_one_or_none()
        return None if seq is None else int(seq)

    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.conn.execute(_CERTIFICATES, {"ids": wanted})
        return {row.id: CERTIFICATES.from_row(row._mapping) for row in rows}

    def buyer_invoices(self, buyer: str, numbers: Iterable[str]) -> dict[InvoiceKey, Invoice]:
        """Every invoice of ``buyer`` with one of ``numbers``, whatever its seller, and the
        legacy invoices of those numbers (one query)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        rows = self.conn.execute(_INVOICES, {"buyers": [buyer, LEGACY], "numbers": wanted})
        found = (INVOICES.from_row(row._mapping) for row in rows)
        return {
            invoice.key: invoice
            for invoice in found
            if invoice.key.buyer == buyer or invoice.key.seller == LEGACY
        }

    def invoices_cited(self, buyers: Iterable[str], numbers: Iterable[str]) -> list[Invoice]:
        """Every invoice of one of ``buyers`` (and every legacy invoice) with one of
        ``numbers``, whatever its seller (one query)."""
        wanted_buyers, wanted_numbers = sorted(set(buyers) | {LEGACY}), sorted(set(numbers))
        if not wanted_numbers:
            return []
        rows = self.conn.execute(_INVOICES, {"buyers": wanted_buyers, "numbers": wanted_numbers})
        return [INVOICES.from_row(row._mapping) for row in rows]

    def invoices(self, keys: Iterable[InvoiceKey]) -> dict[InvoiceKey, Invoice]:
        """The registered invoices among ``keys`` (one query, on the primary key's prefix)."""
        wanted = set(keys)
        if not wanted:
            return {}
        buyers = sorted({key.buyer for key in wanted})
        numbers = sorted({key.no for key in wanted})
        rows = self.conn.execute(_INVOICES, {"buyers": buyers, "numbers": numbers})
        found = (INVOICES.from_row(row._mapping) for row in rows)
        return {invoice.key: invoice for invoice in found if invoice.key in wanted}

    def issuance_limits(self, members: Iterable[str]) -> dict[str, IssuanceLimit]:
        wanted = sorted(set(members))
        if not wanted:
            return {}
        rows = self.conn.execute(_LIMITS, {"ids": wanted})
        return {row.member: LIMITS.from_row(row._mapping) for row in rows}

    def root_faces(self, root_ids: Iterable[str]) -> dict[str, int]:
        """The face (``amount_fen``) of each root, by id (one query on the primary key)."""
        c = models.certificates
        wanted = sorted(set(root_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(select(c.c.id, c.c.amount_fen).where(c.c.id.in_(wanted)))
        return {row.id: int(row.amount_fen) for row in rows}

    def live_pieces(self, member_ids: Iterable[str]) -> dict[str, int]:
        """Each member's live pieces: the pieces it holds that carry value and that it
        has accepted (active, locked, overdue), and the pending pieces it sent — not the
        pending pieces sent to it, which count once it accepts them (one query, two
        indexed halves)."""
        wanted = sorted(set(member_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(_LIVE_PIECES, {"ids": wanted})
        counts = dict.fromkeys(wanted, 0)
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def live_obligations(self, debtor: str) -> int:
        """Obligations ``debtor`` owes that are still open (pending, confirmed, or with a
        settlement claim awaiting the creditor)."""
        o = models.obligations
        open_states = [state.value for state in OPEN_OBLIGATION_STATES]
        query = select(func.count()).where(o.c.debtor == debtor, o.c.state.in_(open_states))
        return int(self.conn.execute(query).scalar_one())

    def piece_states(self, ids: Iterable[str]) -> dict[str, tuple[str, str, int]]:
        """(state, holder, outstanding fen) of pieces by id: what of a piece can change."""
        c = models.certificates
        rows = self.conn.execute(
            select(c.c.id, c.c.state, c.c.holder, c.c.amount_fen - c.c.paid_fen).where(
                c.c.id.in_(sorted(ids))
            )
        )
        return {row[0]: (row[1], row[2], int(row[3])) for row in rows}

    def obligation_states(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """(state, outstanding_fen) of obligations by id: what of one can change."""
        o = models.obligations
        rows = self.conn.execute(
            select(o.c.id, o.c.state, o.c.outstanding_fen).where(o.c.id.in_(sorted(ids)))
        )
        return {row.id: (row.state, row.outstanding_fen) for row in rows}

    def obligations(self, ids: Iterable[str]) -> dict[str, Obligation]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.conn.execute(_OBLIGATIONS, {"ids": wanted})
        return {row.id: OBLIGATIONS.from_row(row._mapping) for row in rows}

    def obligation(self, obligation_id: str) -> Obligation | None:
        row = self.conn.execute(_OBLIGATIONS, {"ids": [obligation_id]}).first()
        return OBLIGATIONS.from_row(row._mapping) if row else None

    # -- webhook endpoints ---------------------------------------------------------------

    def webhooks(self, ids: Iterable[str]) -> dict[str, Endpoint]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.conn.execute(_WEBHOOKS, {"ids": wanted})
        return {row.id: WEBHOOKS.from_row(row._mapping) for row in rows}

    def webhook(self, endpoint_id: str) -> Endpoint | None:
        return self.webhooks([endpoint_id]).get(endpoint_id)

    def live_webhook_counts(self, members: Iterable[str]) -> dict[str, int]:
        """Each member's endpoints that are not deleted (one query)."""
        wanted = sorted(set(members))
        if not wanted:
            return {}
        counts = dict.fromkeys(wanted, 0)
        rows = self.conn.execute(_LIVE_WEBHOOKS, {"ids": wanted})
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def live_webhooks(self, member: str) -> int:
        return self.live_webhook_counts([member])[member]

    def member_webhooks(self, member: str) -> list[Endpoint]:
        """A member's live endpoints, oldest first."""
        rows = self.conn.execute(_MEMBER_WEBHOOKS, {"member": member})
        return [WEBHOOKS.from_row(row._mapping) for row in rows]

    def netting_debts(self) -> tuple[list[Certificate], list[Obligation]]:
        """Live pieces and confirmed obligations between active members who consented
        to netting (two queries, whatever the size of the graph)."""
        c, o, m = models.certificates, models.obligations, models.members
        consenting = (
            select(m.c.id)
            .where(m.c.netting_consent.is_(True), m.c.status == MemberStatus.ACTIVE)
            .scalar_subquery()
        )
        pieces = self.conn.execute(
            select(c)
            .where(c.c.state.in_([ACTIVE, OVERDUE]))
            # Paper a bank financed is left to its issuer's payment, which restores the
            # bank's line (ledger.settlement).
            .where(c.c.financing.is_(None))
            .where(c.c.issuer.in_(consenting), c.c.holder.in_(consenting))
            .order_by(c.c.id)
        )
        owed = self.conn.execute(
            select(o)
            # A claimed settlement awaiting the creditor stays out (ledger.obligations).
            .where(o.c.state == ObligationState.CONFIRMED.value, o.c.outstanding_fen > 0)
            .where(o.c.debtor.in_(consenting), o.c.creditor.in_(consenting))
            .order_by(o.c.id)
        )
        return (
            [CERTIFICATES.from_row(row._mapping) for row in pieces],
            [OBLIGATIONS.from_row(row._mapping) for row in owed],
        )

    def due_pending(
        self, now_text: str, today_text: str, limit: int, ids: Sequence[str] = ()
    ) -> list[Certificate]:
        """Pending pieces past their deadline, or at their maturity on the business date
        ``today_text`` (``certificates.is_due_to_expire``), oldest deadline first."""
        c = models.certificates
        due = or_(c.c.expires_at <= now_text, c.c.maturity <= today_text)
        query = select(c).where(c.c.state == PENDING, due)
        if ids:
            query = query.where(c.c.id.in_(sorted(set(ids))))
        rows = self.conn.execute(query.order_by(c.c.expires_at, c.c.id).limit(limit))
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    # -- discounting ----------------------------------------------------------------

    def credit_lines(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CreditLine]:
        """Credit lines by (bank, core)."""
        wanted = sorted(set(pairs))
        if not wanted:
            return {}
        cl = models.credit_lines
        rows = self.conn.execute(select(cl).where(tuple_(cl.c.bank, cl.c.core).in_(wanted)))
        return {(row.bank, row.core): CREDIT_LINES.from_row(row._mapping) for row in rows}

    def bank_lines(self, banks: Iterable[str]) -> dict[str, int]:
        """How many credit lines each bank holds."""
        cl = models.credit_lines
        rows = self.conn.execute(
            select(cl.c.bank, func.count())
            .where(cl.c.bank.in_(sorted(set(banks))))
            .group_by(cl.c.bank)
        )
        return {row[0]: int(row[1]) for row in rows}

    def lines_held(self, bank: str) -> int:
        return self.bank_lines([bank]).get(bank, 0)

    def pending_on_lines(self, keys: Iterable[str]) -> dict[str, int]:
        """The face reserved by applications awaiting each line, by ``line_key``."""
        f = models.financings
        pairs = sorted({tuple(key.split(" ")) for key in keys})
        if not pairs:
            return {}
        rows = self.conn.execute(
            select(f.c.bank, f.c.core, func.sum(f.c.face_fen))
            .where(f.c.state == FinancingState.REQUESTED.value)
            .where(tuple_(f.c.bank, f.c.core).in_(pairs))
            .group_by(f.c.bank, f.c.core)
        )
        return {line_key(row[0], row[1]): int(row[2]) for row in rows}

    def line_pending(self, bank: str, core: str) -> int:
        return self.pending_on_lines([line_key(bank, core)]).get(line_key(bank, core), 0)

    def requested_on_line(self, bank: str, core: str) -> list[Financing]:
        f = models.financings
        rows = self.conn.execute(
            select(f)
            .where(f.c.bank == bank, f.c.state == FinancingState.REQUESTED.value)
            .where(f.c.core == core)
            .order_by(f.c.expires_at, f.c.id)
        )
        return [FINANCINGS.from_row(row._mapping) for row in rows]

    def lines_of(self, bank: str) -> list[CreditLine]:
        cl = models.credit_lines
        rows = self.conn.execute(select(cl).where(cl.c.bank == bank).order_by(cl.c.core))
        return [CREDIT_LINES.from_row(row._mapping) for row in rows]

    def financings(self, ids: Iterable[str]) -> dict[str, Financing]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        f = models.financings
        rows = self.conn.execute(select(f).where(f.c.id.in_(wanted)))
        return {row.id: FINANCINGS.from_row(row._mapping) for row in rows}

    def financing(self, financing_id: str) -> Financing | None:
        return self.financings([financing_id]).get(financing_id)

    def due_financings(
        self, now_text: str, today_text: str, limit: int, ids: Sequence[str] = ()
    ) -> list[Financing]:
        """Applications undecided past their window, or at their piece's maturity on the
        business date ``today_text`` (``financing.is_due``), oldest deadline first."""
        f = models.financings
        # An application written before it named its maturity (NULL) ends by its window.
        query = select(f).where(
            f.c.state == FinancingState.REQUESTED.value,
            or_(f.c.expires_at <= now_text, f.c.maturity <= today_text),
        )
        if ids:
            query = query.where(f.c.id.in_(sorted(set(ids))))
        rows = self.conn.execute(query.order_by(f.c.expires_at, f.c.id).limit(limit))
        return [FINANCINGS.from_row(row._mapping) for row in rows]

    # -- settlement -------------------------------------------------------------------

    def maturing_active(
        self, before_text: str, limit: int, ids: Sequence[str] = (), issuer: str | None = None
    ) -> list[Certificate]:
        """Active pieces maturing before ``before_text``, earliest maturity first: those
        that may be overdue (``settlement.overdue_cutoff``)."""
        query = _MATURING if issuer is None else _MATURING_OF_ISSUER
        if ids:
            query = query.where(_c.c.id.in_(sorted(set(ids))))
        given = {"before": before_text, "limit": limit, "issuer": issuer}
        return [CERTIFICATES.from_row(row._mapping) for row in self.conn.execute(query, given)]

    def overdue_count(self, issuer: str) -> int:
        """How many overdue pieces ``issuer`` has (one indexed query)."""
        c = models.certificates
        query = select(func.count()).where(c.c.issuer == issuer, c.c.state == OVERDUE)
        return int(self.conn.execute(query).scalar_one())

    def root_holding(self, root_id: str) -> dict[str, Certificate]:
        """The pieces of a root that still hold value, by id."""
        c = models.certificates
        query = select(c).where(c.c.root_id == root_id, c.c.state.in_(sorted(HOLDING)))
        return {row.id: CERTIFICATES.from_row(row._mapping) for row in self.conn.execute(query)}

    def maturing_unnoticed(
        self, first_text: str, last_text: str, limit: int
    ) -> list[tuple[str, str]]:
        """(issuer, maturity) of paper holding value that matures from ``first_text`` to
        ``last_text`` and of which its issuer has not been told (``settlement.due``)."""
        c, n = models.certificates, models.settlement_notices
        told = select(n.c.id).where(n.c.issuer == c.c.issuer, n.c.maturity == c.c.maturity).exists()
        query = (
            select(c.c.issuer, c.c.maturity)
            .where(c.c.state.in_(sorted(HOLDING)), c.c.maturity.between(first_text, last_text))
            .where(~told)
            .group_by(c.c.issuer, c.c.maturity)
            .order_by(c.c.maturity, c.c.issuer)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in self.conn.execute(query)]

    def maturing_pieces(
        self, issuer: str, maturity_text: str, limit: int
    ) -> tuple[list[Certificate], int, int]:
        """The first ``limit`` pieces of ``issuer`` holding value that mature on
        ``maturity_text`` (by holder, id), and how many there are and hold."""
        c = models.certificates
        where = (
            c.c.issuer == issuer,
            c.c.maturity == maturity_text,
            c.c.state.in_(sorted(HOLDING)),
        )
        rows = self.conn.execute(select(c).where(*where).order_by(c.c.holder, c.c.id).limit(limit))
        count, held = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(c.c.amount_fen - c.c.paid_fen), 0)).where(
                *where
            )
        ).one()
        return [CERTIFICATES.from_row(row._mapping) for row in rows], int(count), int(held)

    def financing_page(
        self, member: str, state: str | None, after: tuple[int, str] | None, limit: int
    ) -> list[Financing]:
        """A member's financings, as applicant or as bank, by creation."""
        f = models.financings
        query = select(f).where(or_(f.c.applicant == member, f.c.bank == member))
        if state is not None:
            query = query.where(f.c.state == state)
        if after is not None:
            query = query.where(tuple_(f.c.created_seq, f.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(f.c.created_seq, f.c.id).limit(limit))
        return [FINANCINGS.from_row(row._mapping) for row in rows]

    def approved_financings(self, core: str, first: str, last: str) -> Iterator[Financing]:
        """The approved financings of ``core``'s paper decided between two ISO dates."""
        f = models.financings
        rows = self.conn.execute(
            select(f)
            .where(f.c.core == core, f.c.state == FinancingState.APPROVED.value)
            .where(f.c.decided_on >= first, f.c.decided_on <= last)
            .order_by(f.c.bank, f.c.id)
            .execution_options(yield_per=500)
        )
        for row in rows:
            yield FINANCINGS.from_row(row._mapping)

    def tree(self, root_id: str) -> list[Certificate]:
        """Every piece of a root (for checks and tools; reads page with tree_page)."""
        c = models.certificates
        rows = self.conn.execute(
            select(c).where(c.c.root_id == root_id).order_by(c.c.created_seq, c.c.id)
        )
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def tree_page(
        self, root_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[Certificate]:
        """A page of the pieces of a root, by creation, after ``(created_seq, id)``."""
        c = models.certificates
        query = select(c).where(c.c.root_id == root_id)
        if after is not None:
            query = query.where(tuple_(c.c.created_seq, c.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(c.c.created_seq, c.c.id).limit(limit))
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def flagged_roots(self, flag: str, after_seq: int | None, limit: int) -> list[Certificate]:
        """Roots carrying ``flag`` of which some value is still held, oldest first."""
        c = models.certificates
        piece = c.alias("piece")
        still_held = (
            select(piece.c.id)
            .where(piece.c.root_id == c.c.id, piece.c.state.in_(sorted(HOLDING)))
            .exists()
        )
        query = select(c).where(
            c.c.id == c.c.root_id, c.c.flags.contains(canonical_text(flag)), still_held
        )
        if after_seq is not None:
            query = query.where(c.c.created_seq > after_seq)
        rows = self.conn.execute(query.order_by(c.c.created_seq).limit(limit))
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def outstanding_by_root(self, root_ids: Iterable[str]) -> dict[str, int]:
        """The value still held (not settled, not ended) of each root, in one query."""
        c = models.certificates
        wanted = sorted(set(root_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(
            select(c.c.root_id, func.sum(c.c.amount_fen - c.c.paid_fen))
            .where(c.c.root_id.in_(wanted), c.c.state.in_(sorted(HOLDING)))
            .group_by(c.c.root_id)
        )
        return {row[0]: int(row[1]) for row in rows}

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
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def wallet_totals(self, member: str) -> list[tuple[str, str, str, int]]:
        """(issuer, maturity, state, amount_fen) over what the member holds."""
        c = models.certificates
        rows = self.conn.execute(
            select(c.c.issuer, c.c.maturity, c.c.state, func.sum(c.c.amount_fen - c.c.paid_fen))
            .where(c.c.holder == member, c.c.state.in_(sorted(HOLDING)))
            .group_by(c.c.issuer, c.c.maturity, c.c.state)
            .order_by(c.c.issuer, c.c.maturity, c.c.state)
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]

    def history(
        self, member: str, before_seq: int | None, limit: int
    ) -> Generator[StoredEntry, None, None]:
        """Entries that touched ``member``, newest first (one query, joined), streamed a
        few at a time: the reader stops once its page is full, by count or by bytes."""
        p, e = models.entry_parties, models.entries
        query = select(e).join(p, p.c.seq == e.c.seq).where(p.c.member_id == member)
        if before_seq is not None:
            query = query.where(p.c.seq < before_seq)
        result = self.conn.execution_options(yield_per=HISTORY_BATCH).execute(
            query.order_by(desc(p.c.seq)).limit(limit)
        )
        try:
            for row in result:
                yield stored_entry(row)
        finally:
            result.close()

    # -- listings (ledger.reads): keyset pages by (seq, id), bounded by the caller ----

    def member_page(self, after: tuple[int, str] | None, limit: int) -> list[Member]:
        """Members by admission, after ``(admitted_seq, id)``."""
        m = models.members
        query = select(m)
        if after is not None:
            query = query.where(tuple_(m.c.admitted_seq, m.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(m.c.admitted_seq, m.c.id).limit(limit))
        return [MEMBERS.from_row(row._mapping) for row in rows]

    def obligation_page(
        self,
        member: str | None,
        role: str | None,
        state: str | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[tuple[Obligation, int]]:
        """Obligations (each with its ``updated_seq``) by creation, after ``(created_seq,
        id)``: of ``member`` as ``role`` (``debtor``, ``creditor``, or either when None),
        in ``state`` when given; every obligation when ``member`` is None."""
        o = models.obligations
        query = select(o)
        if member is not None:
            sides = {"debtor": o.c.debtor == member, "creditor": o.c.creditor == member}
            query = query.where(sides[role] if role is not None else or_(*sides.values()))
        if state is not None:
            query = query.where(o.c.state == state)
        if after is not None:
            query = query.where(tuple_(o.c.created_seq, o.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(o.c.created_seq, o.c.id).limit(limit))
        return [(OBLIGATIONS.from_row(row._mapping), int(row.updated_seq)) for row in rows]

    def root_page(
        self,
        issuer: str | None,
        state: RootState | None,
        maturity_from: str | None,
        maturity_to: str | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Certificate]:
        """Roots by issue, after ``(created_seq, id)``: of ``issuer`` (every issuer when
        None), maturing within ``[maturity_from, maturity_to]`` and in ``state``
        (:class:`RootState`, from the states of the root's pieces) when given."""
        c = models.certificates
        query = select(c).where(c.c.id == c.c.root_id)
        if issuer is not None:
            query = query.where(c.c.issuer == issuer)
        if maturity_from is not None:
            query = query.where(c.c.maturity >= maturity_from)
        if maturity_to is not None:
            query = query.where(c.c.maturity <= maturity_to)
        if state is not None:
            query = query.where(_root_state_is(c, state))
        if after is not None:
            query = query.where(tuple_(c.c.created_seq, c.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(c.c.created_seq, c.c.id).limit(limit))
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def root_sums(self, root_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per root: the sums of :func:`_tree_sums` over its pieces, in one query."""
        c = models.certificates
        wanted = sorted(set(root_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(
            select(c.c.root_id, *_tree_sums(c)).where(c.c.root_id.in_(wanted)).group_by(c.c.root_id)
        )
        return {
            row.root_id: {
                k: int(row._mapping[k] or 0)
                for k in ("face_fen", "paid_fen", "outstanding_fen", "overdue_fen", "pieces")
            }
            for row in rows
        }

    # -- reports (ledger.reports): aggregates in SQL, pages bounded by the caller ----

    def report_pieces(
        self,
        issuer: str | None,
        states: Iterable[str],
        maturity_max: str | None,
        after: tuple[str, str, str] | None,
        limit: int,
    ) -> list[Certificate]:
        """Pieces in ``states`` with something outstanding (of ``issuer``, maturing on or
        before ``maturity_max``, when given), by (maturity, holder, id), after ``after``."""
        c = models.certificates
        query = select(c).where(*_report_where(issuer, states, maturity_max))
        if after is not None:
            query = query.where(tuple_(c.c.maturity, c.c.holder, c.c.id) > tuple_(*after))
        rows = self.conn.execute(query.order_by(c.c.maturity, c.c.holder, c.c.id).limit(limit))
        return [CERTIFICATES.from_row(row._mapping) for row in rows]

    def report_piece_totals(
        self, issuer: str | None, states: Iterable[str], maturity_max: str | None
    ) -> tuple[int, int]:
        """How many pieces :meth:`report_pieces` would list in all, and their outstanding."""
        c = models.certificates
        count, outstanding = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(c.c.amount_fen - c.c.paid_fen), 0)).where(
                *_report_where(issuer, states, maturity_max)
            )
        ).one()
        return int(count), int(outstanding)

    def accrual_groups(
        self,
        issuer: str | None,
        states: Iterable[str],
        maturity_max: str,
        root_ids: Iterable[str] | None = None,
    ) -> Iterator[tuple[str, str, str | None, int, int]]:
        """(root_id, maturity, late_daily_rate, outstanding fen, count) of the pieces
        that may owe late interest: equal pieces are one group, since late interest is
        rounded piece by piece (``settlement.accrued_fen``). Streamed."""
        c = models.certificates
        outstanding = c.c.amount_fen - c.c.paid_fen
        query = select(c.c.root_id, c.c.maturity, c.c.late_daily_rate, outstanding, func.count())
        query = query.where(*_report_where(issuer, states, maturity_max, before=True))
        if root_ids is not None:
            query = query.where(c.c.root_id.in_(sorted(set(root_ids))))
        query = query.group_by(c.c.root_id, c.c.maturity, c.c.late_daily_rate, outstanding)
        result = self.conn.execution_options(yield_per=1000).execute(query)
        try:
            for row in result:
                yield row[0], row[1], row[2], int(row[3]), int(row[4])
        finally:
            result.close()

    def root_rows(
        self,
        issuer: str | None,
        after: tuple[int, str] | None,
        limit: int,
        held_only: bool = False,
        flags: tuple[int, int, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Per root (by creation): its face and issuer, and the sums over its pieces
        (:func:`_tree_sums`). ``held_only``: roots some value of which is still held;
        ``flags`` (level, pieces, smallest fen): only roots beyond one of them."""
        c, root = models.certificates, models.certificates.alias("root")
        sums = _tree_sums(c)
        query = (
            select(root.c.id, root.c.issuer, root.c.created_seq, root.c.maturity, *sums)
            .select_from(c.join(root, root.c.id == c.c.root_id))
            .group_by(root.c.id, root.c.issuer, root.c.created_seq, root.c.maturity)
        )
        if issuer is not None:
            query = query.where(root.c.issuer == issuer)
        if after is not None:
            query = query.where(tuple_(root.c.created_seq, root.c.id) > tuple_(*after))
        live, level, smallest = sums[4], sums[5], sums[7]  # their labelled sums
        if held_only:
            query = query.having(live > 0)
        if flags is not None:
            level_max, pieces_max, smallest_min = flags
            query = query.having(or_(level > level_max, live > pieces_max, smallest < smallest_min))
        rows = self.conn.execute(query.order_by(root.c.created_seq, root.c.id).limit(limit))
        return [dict(row._mapping) for row in rows]

    def issuer_sums(self, issuer: str) -> dict[str, Any]:
        """:func:`_tree_sums` over every piece of ``issuer``'s paper, and its roots."""
        c = models.certificates
        roots = func.sum(case((c.c.id == c.c.root_id, 1), else_=0)).label("roots")
        row = self.conn.execute(select(*_tree_sums(c), roots).where(c.c.issuer == issuer)).one()
        return dict(row._mapping)

    def payment_sums(
        self,
        issuer: str,
        root_ids: Iterable[str] | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> dict[str, tuple[int, int]]:
        """(paid fen, late interest fen) of ``issuer``'s payments, by root (of
        ``root_ids``, paid on from ``first`` to ``last``, when given)."""
        p = models.payments
        query = select(p.c.root_id, func.sum(p.c.amount_fen), func.sum(p.c.late_interest_fen))
        query = query.where(p.c.issuer == issuer)
        if root_ids is not None:
            query = query.where(p.c.root_id.in_(sorted(set(root_ids))))
        if first is not None and last is not None:
            query = query.where(p.c.paid_on.between(first, last))
        rows = self.conn.execute(query.group_by(p.c.root_id))
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    def issued_face(self, issuer: str, first_at: str, before_at: str) -> tuple[int, int]:
        """How many roots ``issuer`` issued, and their face, in entries recorded from
        ``first_at`` to before ``before_at`` (RFC 3339 UTC, as the journal writes it)."""
        c, e = models.certificates, models.entries
        count, face = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(c.c.amount_fen), 0))
            .select_from(c.join(e, e.c.seq == c.c.created_seq))
            .where(c.c.issuer == issuer, c.c.id == c.c.root_id)
            .where(e.c.recorded_at >= first_at, e.c.recorded_at < before_at)
        ).one()
        return int(count), int(face)

    def overdue_by_maturity(self, issuer: str, first: str, last: str) -> list[tuple[str, int]]:
        """(maturity, outstanding fen) of ``issuer``'s overdue pieces maturing from
        ``first`` to ``last``."""
        c = models.certificates
        rows = self.conn.execute(
            select(c.c.maturity, func.sum(c.c.amount_fen - c.c.paid_fen))
            .where(c.c.issuer == issuer, c.c.state == OVERDUE)
            .where(c.c.maturity.between(first, last))
            .group_by(c.c.maturity)
        )
        return [(row[0], int(row[1])) for row in rows]

    def public_keys(self) -> dict[str, str]:
        """Every member key's public key by key id, as the projection holds them."""
        k = models.member_keys.c
        return {
            row.key_id: row.public_key for row in self.conn.execute(select(k.key_id, k.public_key))
        }

    def table_rows(self, table: Any) -> list[dict[str, Any]]:
        result = self.conn.execute(select(table))
        columns = list(result.keys())
        return [dict(zip(columns, row, strict=True)) for row in result]


def _report_where(
    issuer: str | None, states: Iterable[str], maturity_max: str | None, before: bool = False
) -> list[Any]:
    c = models.certificates
    where = [c.c.state.in_(sorted(states)), c.c.amount_fen > c.c.paid_fen]
    if issuer is not None:
        where.append(c.c.issuer == issuer)
    if maturity_max is not None:
        where.append(c.c.maturity < maturity_max if before else c.c.maturity <= maturity_max)
    return where


def _root_state_is(c: Any, state: RootState) -> Any:
    """Whether the root row of ``c`` is in ``state``: from the states of its pieces, as
    :func:`ledger.certificates.root_state` tells it from their sums."""
    piece = c.alias("piece")

    def some(*where: Any) -> Any:
        return select(piece.c.id).where(piece.c.root_id == c.c.id, *where).exists()

    overdue = some(piece.c.state == OVERDUE)
    held = some(piece.c.state.in_(sorted(HOLDING)))
    paid = some(or_(piece.c.state == SETTLED, piece.c.paid_fen > 0))
    return {
        RootState.OVERDUE: overdue,
        RootState.OUTSTANDING: and_(held, ~overdue),
        RootState.SETTLED: and_(~held, paid),
        RootState.ENDED: and_(~held, ~paid),
    }[state]


def _tree_sums(c: Any) -> list[Any]:
    """Sums over pieces: what was paid (a settled piece's amount, another's ``paid``),
    what is outstanding and overdue, the live pieces, the deepest level, the holders of
    live pieces and the smallest live piece (a root's own row gives its face)."""
    holding = c.c.state.in_(sorted(HOLDING))
    outstanding = c.c.amount_fen - c.c.paid_fen
    return [
        func.sum(case((c.c.id == c.c.root_id, c.c.amount_fen), else_=0)).label("face_fen"),
        func.sum(case((c.c.state == SETTLED, c.c.amount_fen), else_=c.c.paid_fen)).label(
            "paid_fen"
        ),
        func.sum(case((holding, outstanding), else_=0)).label("outstanding_fen"),
        func.sum(case((c.c.state == OVERDUE, outstanding), else_=0)).label("overdue_fen"),
        func.sum(case((holding, 1), else_=0)).label("pieces"),
        func.max(c.c.level).label("level"),
        func.count(distinct(case((holding, c.c.holder)))).label("holders"),
        func.min(case((holding, outstanding))).label("smallest_fen"),
    ]


_NODE_STATEMENTS: dict[int, Any] = {}


def _nodes_statement(count: int) -> Any:
    """``SELECT … WHERE (level, idx) = … OR …`` for ``count`` nodes, as plain text built
    once per count: building it as an expression costs more than running it, and a
    row-value IN is a scan on SQLite (see ``_ENTRIES_BY_NONCE``)."""
    statement = _NODE_STATEMENTS.get(count)
    if statement is None:
        where = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(count))
        statement = _NODE_STATEMENTS[count] = text(
            f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}"
        )
    return statement


def entry_row(
    entry: Entry,
    command_text: str,
    effects_text: str,
    signer: str | None,
    nonce: str | None,
    type_: str,
) -> dict[str, Any]:
    """The ``entries`` row of an entry: its command and effects as their canonical text,
    and the columns that repeat fields of its command so they can be indexed."""
    return {
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "recorded_at": entry.recorded_at,
        "type": type_,
        "signer": signer,
        "nonce": nonce,
        "command": command_text,
        "signature": entry.signature,
        "effects": effects_text,
    }


def _key_and_member(row: Any) -> tuple[Key, Member]:
    """A row of a key joined to its member's row."""
    member = MEMBERS.from_row(
        dict(row._mapping)
        | {
            "id": row.member_id,
            "name": row.member_name,
            "key_id": row.current_key_id,
            "public_key": row.current_public_key,
        }
    )
    return KEYS.from_row(row._mapping), member


def stored_entry(row: Any) -> StoredEntry:
    """An entry row, parsed as :func:`~ledger.canonical.parse_json` parses (refusing
    floats and duplicate keys); its stored canonical texts take the fast parser."""
    entry = Entry(
        seq=row.seq,
        prev_hash=row.prev_hash,
        recorded_at=row.recorded_at,
        command=parse_canonical(row.command)[0],
        signature=row.signature,
        effects=parse_canonical(row.effects)[0],
        entry_hash=row.entry_hash,
    )
    return StoredEntry(entry, row.type, row.signer, row.nonce, row.command, row.effects)
