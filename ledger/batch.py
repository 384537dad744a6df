"""A batch: one transaction of the sequencer, holding the effects of its commands.

The sequencer applies many commands in one transaction and one commit. Each command's
rule must see the effects of the commands before it in the batch, yet nothing is
written until the batch ends: then every table gets one statement for the whole batch
(:meth:`Batch.flush`). So a batch answers a loader's questions (``ledger.handlers.Loads``)
from what it knows — rows its commands wrote, and rows it already read — and asks the
database only for the rest, which is still as the batch found it.

Counts (a member's live pieces, a debtor's open obligations) are the database's count
corrected by the rows the batch has written since: minus what each row counted for
before the batch touched it, plus what it counts for now. Questions a batch cannot
answer from rows by key (the whole debt graph for netting, the pieces due to expire)
flush first and then ask the database, which then holds the batch's rows.

Rows a command writes are kept as rows, and made objects only if a later command in
the batch reads them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import events, outbox
from ledger.certificates import ACTIVE, OVERDUE, Certificate, live_counters
from ledger.chain import GENESIS_PREV_HASH, entry_bytes, make_entry
from ledger.commands import Command, format_timestamp
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.entities import ENTITIES
from ledger.errors import Refusal
from ledger.financing import CreditLine, Financing, FinancingState
from ledger.handlers import Needs
from ledger.invoices import LEGACY, Invoice, InvoiceKey
from ledger.log_keys import LogKey
from ledger.members import Key, Member
from ledger.merkle import Node, append_leaf, leaf_hash
from ledger.obligations import OPEN_OBLIGATION_STATES, Obligation
from ledger.projections import PARTIES, PROJECTIONS, Row, rows_of, write_rows
from ledger.repository import Head, Repository, StoredEntry, entry_row, line_key
from ledger.settings import Settings
from ledger.webhooks import Endpoint, EndpointState

Key_ = tuple[Any, ...]
CREATED_AT = {
    "certificates": "created_seq",
    "obligations": "created_seq",
    "financings": "created_seq",
    "webhooks": "created_seq",
}


def _live_pieces(value: Any) -> tuple[str, ...]:
    """Whose live pieces a certificate (object or row) counts in, and, when it is
    overdue, its issuer's count of overdue pieces (:func:`overdue_key`)."""
    if isinstance(value, dict):
        state, holder, sender, issuer = (value[k] for k in ("state", "holder", "sender", "issuer"))
    else:
        state, holder, sender, issuer = value.state, value.holder, value.sender, value.issuer
    counted = live_counters(state, holder, sender)
    return (*counted, overdue_key(issuer)) if state == OVERDUE else counted


def overdue_key(issuer: str) -> str:
    """The key an issuer's overdue pieces are counted under, beside members' live pieces."""
    return f"overdue/{issuer}"


def _open_obligations(value: Any) -> tuple[str, ...]:
    """Whose open obligations an obligation (object or row) counts in: its debtor's."""
    state, debtor = (
        (value["state"], value["debtor"])
        if isinstance(value, dict)
        else (
            value.state,
            value.debtor,
        )
    )
    return (debtor,) if state in OPEN_OBLIGATION_STATES else ()


def _lines_held(value: Any) -> tuple[str, ...]:
    """Whose count of credit lines a line counts in: its bank's."""
    return (value["bank"] if isinstance(value, dict) else value.bank,)


def _pending_on_line(value: Any) -> dict[str, int]:
    """The face an application reserves on its line while it is ``requested``."""
    state, bank, core, face = (
        (value["state"], value["bank"], value["core"], value["face_fen"])
        if isinstance(value, dict)
        else (value.state, value.bank, value.core, value.face_fen)
    )
    return {line_key(bank, core): face} if state == FinancingState.REQUESTED else {}


def _live_endpoints(value: Any) -> tuple[str, ...]:
    """Whose webhook endpoints an endpoint (object or row) counts in: its member's."""
    if isinstance(value, dict):
        state, member = value["state"], value["member"]
    else:
        state, member = value.state, value.member
    return (member,) if state == EndpointState.ACTIVE else ()


# The collections whose rows counts depend on, and what each row counts for: the keys
# it adds one to, or a mapping of keys to what it adds (a sum).
COUNTERS: dict[str, Callable[[Any], Iterable[str] | dict[str, int]]] = {
    "certificates": _live_pieces,
    "obligations": _open_obligations,
    "credit_lines": _lines_held,
    "financings": _pending_on_line,
    "webhooks": _live_endpoints,
}


class _Row:
    """A row the batch wrote and no command has read yet (made an object on reading)."""

    __slots__ = ("row",)

    def __init__(self, row: Row) -> None:
        self.row = row


@dataclass(frozen=True)
class Receipt:
    seq: int
    entry_hash: str
    effects: Effects
    replayed: bool = False  # True when an identical envelope was already recorded

    def wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "entry_hash": self.entry_hash, "effects": self.effects}


class Batch:
    """The state a batch's commands see: the database as the batch found it, under the
    rows the batch has written (see the module)."""

    def __init__(
        self,
        repo: Repository,
        head: Head | None,
        frontier: dict[Node, bytes] | None = None,
        *,
        derived: bool = True,
    ) -> None:
        """``frontier``: the Merkle tree's perfect subtrees at ``head``, if the caller
        kept them from the batch before (else read at the first append); taken as is.
        ``derived``: also write what is derived from the entries for others than the
        rules — the events members are told, the Merkle tree — which a scratch replay
        (``ledger.reexecute``) does without."""
        self.repo = repo
        self._derived = derived
        self.head = head
        # The head entry's time, which the next entry's may equal but never precede.
        self._head_time = (
            datetime.fromisoformat(head.recorded_at) if head and head.recorded_at else None
        )
        self._known: dict[str, dict[Key_, Any]] = defaultdict(dict)  # object, or None: absent
        self._pending: dict[str, dict[Key_, Row]] = defaultdict(dict)  # rows to write
        # What the rows written since the last flush add to each member's counts.
        self._deltas: dict[str, Counter[str]] = defaultdict(Counter)
        self._entries: list[Row] = []
        self._parties: list[Row] = []
        self._nonces: dict[tuple[str, str], StoredEntry] = {}  # recorded
        self._unused_nonces: set[tuple[str, str]] = set()  # not recorded when the batch began
        self._cited: set[tuple[str, str]] = set()  # (buyer, number): all its invoices known
        # The invoices known, by (buyer, number): what a buyer citing a number finds.
        self._invoice_index: dict[tuple[str, str], set[Key_]] = defaultdict(set)
        self._counts: dict[str, dict[str, int]] = defaultdict(dict)  # database counts
        self._events: list[outbox.Message] = []  # what the entries tell members
        self._settings: Settings | None = None  # the settings the batch's entries ran on
        # The Merkle tree's perfect subtrees at the head (read at the first append), and
        # the nodes the batch's entries completed, to write with them.
        self._frontier: dict[Node, bytes] | None = frontier
        self._nodes: list[Row] = []
        self._fetch: dict[str, Callable[[list[Key_]], dict[Key_, Any]]] = {
            "members": lambda keys: _by_first(repo.members(k[0] for k in keys)),
            "keys": lambda keys: _by_first(_keys(repo, [k[0] for k in keys])),
            "certificates": lambda keys: _by_first(repo.certificates(k[0] for k in keys)),
            "obligations": lambda keys: _by_first(repo.obligations(k[0] for k in keys)),
            "limits": lambda keys: _by_first(repo.issuance_limits(k[0] for k in keys)),
            "credit_lines": lambda keys: dict(repo.credit_lines(keys)),
            "financings": lambda keys: _by_first(repo.financings(k[0] for k in keys)),
            "webhooks": lambda keys: _by_first(repo.webhooks(k[0] for k in keys)),
            "log_keys": lambda keys: _by_first(repo.log_keys(k[0] for k in keys)),
            "invoices": lambda keys: {
                _invoice_key(i.key): i for i in repo.invoices(_key_of(k) for k in keys).values()
            },
        }

    @property
    def next_seq(self) -> int:
        return self.head.seq + 1 if self.head else 1

    def now(self, reading: datetime) -> datetime:
        """The time of the next entry, for a clock that reads ``reading``: the reading, or
        the head entry's time if the clock reads earlier (an NTP step back; a server
        restarted with a smaller ``DCC_CLOCK_OFFSET_S``; another server whose clock runs
        behind). The journal never goes back in time, and neither does what rules see as
        now: a deadline once passed stays passed."""
        if self._head_time is not None and reading < self._head_time:
            return self._head_time
        return reading

    # -- what loaders ask (ledger.handlers.Loads) -----------------------------------

    def prefetch(
        self, nonces: Iterable[tuple[str, str]], key_ids: Iterable[str], needs: Iterable[Needs]
    ) -> None:
        """Read what the batch's commands will ask first, for all of them at once: whether
        their nonces were used, their keys with their signers, and what their loaders
        declared they need (``ledger.handlers.Needs``)."""
        wanted_needs = list(needs)
        self._read_invoices(pair for need in wanted_needs for pair in need.invoices)
        for collection in ("members", "certificates", "obligations"):
            ids = {i for need in wanted_needs for i in getattr(need, collection)}
            self._by_id(collection, ids, convert=False)
        wanted = set(nonces) - self._nonces.keys()
        self._nonces.update(self.repo.entries_by_nonce(wanted))
        self._unused_nonces.update(wanted - self._nonces.keys())
        keys, members = self._known["keys"], self._known["members"]
        missing = [key_id for key_id in set(key_ids) if (key_id,) not in keys]
        found = self.repo.keys_with_members(missing)
        for key_id in missing:
            key, member = found.get(key_id, (None, None))
            keys[(key_id,)] = key
            if member is not None:
                members.setdefault((member.id,), member)

    def head_seq(self) -> int:
        return self.head.seq if self.head else 0

    def entry_by_nonce(self, signer: str, nonce: str) -> StoredEntry | None:
        found = self._nonces.get((signer, nonce))
        if found is not None or (signer, nonce) in self._unused_nonces:
            return found
        return self.repo.entry_by_nonce(signer, nonce)

    def member(self, member_id: str) -> Member | None:
        return self.members([member_id]).get(member_id)

    def members(self, member_ids: Iterable[str]) -> dict[str, Member]:
        return self._by_id("members", member_ids)

    def key(self, key_id: str) -> Key | None:
        return self._by_id("keys", [key_id]).get(key_id)

    def active_keys(self, member_id: str) -> list[Key]:
        """A member's active keys, oldest first: those the database holds, and those the
        batch wrote, as the batch has them now."""
        written = self._pending.get("keys", {}).values()
        key_ids = [key.key_id for key in self.repo.active_keys(member_id)]
        key_ids += [row["key_id"] for row in written if row["member_id"] == member_id]
        found = self._by_id("keys", key_ids).values()
        active = [key for key in found if key.retired_seq is None]
        return sorted(active, key=lambda key: (key.added_seq, key.key_id))

    def key_with_member(self, key_id: str) -> tuple[Key, Member] | None:
        key = self.key(key_id)
        member = self.member(key.member) if key else None
        return (key, member) if key and member else None

    def certificate(self, certificate_id: str) -> Certificate | None:
        return self.certificates([certificate_id]).get(certificate_id)

    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]:
        return self._by_id("certificates", ids)

    def root_faces(self, root_ids: Iterable[str]) -> dict[str, int]:
        return {id_: root.amount_fen for id_, root in self.certificates(root_ids).items()}

    def piece_states(self, ids: Iterable[str]) -> dict[str, tuple[str, str, int]]:
        return {
            i: (p.state, p.holder, p.outstanding_fen) for i, p in self.certificates(ids).items()
        }

    def obligation(self, obligation_id: str) -> Obligation | None:
        return self._by_id("obligations", [obligation_id]).get(obligation_id)

    def obligations(self, ids: Iterable[str]) -> dict[str, Obligation]:
        return self._by_id("obligations", ids)

    def obligation_states(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        return {i: (o.state, o.outstanding_fen) for i, o in self.obligations(ids).items()}

    def issuance_limits(self, members: Iterable[str]) -> dict[str, IssuanceLimit]:
        return self._by_id("limits", members)

    def invoices(self, keys: Iterable[InvoiceKey]) -> dict[InvoiceKey, Invoice]:
        found = self._get("invoices", [_invoice_key(key) for key in keys])
        return {invoice.key: invoice for invoice in found.values()}

    def buyer_invoices(self, buyer: str, numbers: Iterable[str]) -> dict[InvoiceKey, Invoice]:
        """As :meth:`Repository.buyer_invoices`: the database's answer, with the invoices
        the batch knows put over it (and those it registered added)."""
        wanted = set(numbers)
        self._read_invoices((buyer, no) for no in wanted)
        index = self._invoice_index
        cited = [
            key
            for no in sorted(wanted)
            for pair in [(buyer, no), (LEGACY, no)]
            for key in sorted(index.get(pair, ()))
            if _cited_by(_key_of(key), buyer, wanted)
        ]
        return {invoice.key: invoice for invoice in self._get("invoices", cited).values()}

    def _read_invoices(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Know every invoice a (buyer, number) of ``pairs`` may cite (one query for all
        not known yet); those the batch wrote stay as the batch wrote them."""
        missing = set(pairs) - self._cited
        if not missing:
            return
        found = self.repo.invoices_cited((b for b, _ in missing), (no for _, no in missing))
        known = self._known["invoices"]
        for invoice in found:
            known.setdefault(_invoice_key(invoice.key), invoice)
        self._index_invoices(_invoice_key(invoice.key) for invoice in found)
        self._cited |= missing

    def live_pieces(self, member_ids: Iterable[str]) -> dict[str, int]:
        counts = self._counted("certificates", member_ids, self.repo.live_pieces)
        return self._corrected("certificates", counts)

    def live_obligations(self, debtor: str) -> int:
        counts = self._counted(
            "obligations", [debtor], lambda ids: {i: self.repo.live_obligations(i) for i in ids}
        )
        return self._corrected("obligations", counts)[debtor]

    def webhook(self, endpoint_id: str) -> Endpoint | None:
        return self._by_id("webhooks", [endpoint_id]).get(endpoint_id)

    def live_webhooks(self, member: str) -> int:
        counts = self._counted("webhooks", [member], self.repo.live_webhook_counts)
        return self._corrected("webhooks", counts)[member]

    def netting_debts(self) -> tuple[list[Certificate], list[Obligation]]:
        self.flush()
        return self.repo.netting_debts()

    def due_pending(
        self, now_text: str, today_text: str, limit: int, ids: Sequence[str] = ()
    ) -> list[Certificate]:
        self.flush()
        return self.repo.due_pending(now_text, today_text, limit, ids)

    # What settlement asks of paper by other than its id: the database's answer once the
    # batch has written what it holds (these are rare next to the writes they follow).

    def maturing_active(
        self, before_text: str, limit: int, ids: Sequence[str] = (), issuer: str | None = None
    ) -> list[Certificate]:
        """As the repository's. Asked on every issuance, for the issuer's paper, so it
        never writes the batch first (that would end batching for a core issuing many):
        the database's candidates — as many more as the batch changed of this issuer's
        paper, which may be among them — are taken as the batch has them, with the
        pieces the batch itself made active before ``before_text`` (a return)."""
        if issuer is None:
            self.flush()
            return self.repo.maturing_active(before_text, limit, ids)
        wanted = set(ids)
        written = [
            row
            for row in self._pending.get("certificates", {}).values()
            if row["issuer"] == issuer and (not wanted or row["id"] in wanted)
        ]
        found = self.repo.maturing_active(before_text, limit + len(written), ids, issuer)
        candidates = {p.id for p in found}
        candidates.update(
            row["id"] for row in written if row["state"] == ACTIVE and row["maturity"] < before_text
        )
        now = self.certificates(candidates)
        active = [
            p for p in now.values() if p.state == ACTIVE and p.maturity.isoformat() < before_text
        ]
        return sorted(active, key=lambda p: (p.maturity, p.id))[:limit]

    def overdue_count(self, issuer: str) -> int:
        key = overdue_key(issuer)
        counts = self._counted(
            "certificates", [key], lambda keys: {k: self.repo.overdue_count(issuer) for k in keys}
        )
        return self._corrected("certificates", counts)[key]

    def root_holding(self, root_id: str) -> dict[str, Certificate]:
        self.flush()
        return self.repo.root_holding(root_id)

    def maturing_unnoticed(
        self, first_text: str, last_text: str, limit: int
    ) -> list[tuple[str, str]]:
        self.flush()
        return self.repo.maturing_unnoticed(first_text, last_text, limit)

    def maturing_pieces(
        self, issuer: str, maturity_text: str, limit: int
    ) -> tuple[list[Certificate], int, int]:
        self.flush()
        return self.repo.maturing_pieces(issuer, maturity_text, limit)

    def financings(self, ids: Iterable[str]) -> dict[str, Financing]:
        return self._by_id("financings", ids)

    def log_key(self, key_id: str) -> LogKey | None:
        return self._by_id("log_keys", [key_id]).get(key_id)

    def active_log_key(self) -> LogKey | None:
        self.flush()  # rare (a key is published once in a long while)
        return self.repo.active_log_key()

    def credit_lines(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CreditLine]:
        found = self._get("credit_lines", pairs)
        return {(key[0], key[1]): line for key, line in found.items()}

    def lines_held(self, bank: str) -> int:
        counts = self._counted("credit_lines", [bank], self.repo.bank_lines)
        return self._corrected("credit_lines", counts)[bank]

    def line_pending(self, bank: str, core: str) -> int:
        key = line_key(bank, core)
        counts = self._counted("financings", [key], self.repo.pending_on_lines)
        return self._corrected("financings", counts)[key]

    def requested_on_line(self, bank: str, core: str) -> list[Financing]:
        self.flush()
        return self.repo.requested_on_line(bank, core)

    def financing(self, financing_id: str) -> Financing | None:
        return self._by_id("financings", [financing_id]).get(financing_id)

    def due_financings(
        self, now_text: str, today_text: str, limit: int, ids: Sequence[str] = ()
    ) -> list[Financing]:
        self.flush()
        return self.repo.due_financings(now_text, today_text, limit, ids)

    # -- the append --------------------------------------------------------------------

    def append(
        self,
        ctx: Context,
        raw: dict[str, Any],
        signature: str | None,
        effects: Effects,
        cmd: Command | None,
        *,
        effects_bytes: bytes | None = None,
    ) -> Receipt:
        """Append an entry (``cmd`` is None for a system entry) and take its effects into
        the batch; refused, with nothing taken, if the entry is too large.
        ``effects_bytes``: their RFC 8785 bytes, if the caller has them."""
        assert ctx.seq == self.next_seq, (ctx.seq, self.head)
        # Every caller takes its time from :meth:`now`: an entry earlier than its
        # predecessor is our bug, and ``dcc verify`` would report it.
        assert self._head_time is None or ctx.now >= self._head_time, (ctx.now, self.head)
        prev_hash = self.head.entry_hash if self.head else GENESIS_PREV_HASH
        entry, command_bytes, effects_bytes = make_entry(
            ctx.seq,
            prev_hash,
            format_timestamp(ctx.now),
            raw,
            signature,
            effects,
            command_bytes=cmd.signed if cmd else None,
            effects_bytes=effects_bytes,
        )
        size_bytes = len(command_bytes) + len(effects_bytes)
        if size_bytes > ctx.settings.entry_bytes_max:
            raise Refusal(
                "entry-too-large",
                f"the command would write an entry of {size_bytes} bytes; at most "
                f"{ctx.settings.entry_bytes_max} bytes are allowed",
            )
        signer, nonce = (cmd.signer, cmd.nonce) if cmd else (None, None)
        if self._derived:
            told = events.derive(str(raw["type"]), entry.seq, effects, self._before)
            self._events.extend(
                outbox.Message(event, entry.seq, events.payload(event, *stamp))
                for stamp in [(entry.seq, entry.entry_hash, entry.recorded_at)]
                for event in told
            )
        self._settings = ctx.settings
        command_text, effects_text = command_bytes.decode(), effects_bytes.decode()
        canonical = (command_bytes, effects_bytes)
        self._entries.append(
            entry_row(entry, command_text, effects_text, signer, nonce, str(raw["type"]))
        )
        for collection, rows in rows_of(raw, effects, entry.seq).items():
            self._take(collection, rows, entry.seq)
        if signer is not None and nonce is not None:
            stored = StoredEntry(entry, str(raw["type"]), signer, nonce, command_text, effects_text)
            self._nonces[(signer, nonce)] = stored
        if self._derived:
            self._add_leaf(entry.seq, entry.prev_hash, entry.recorded_at, signature, canonical)
        self.head = Head(entry.seq, entry.entry_hash, entry.recorded_at)
        self._head_time = ctx.now
        return Receipt(entry.seq, entry.entry_hash, effects)

    def _add_leaf(
        self,
        seq: int,
        prev_hash: str,
        recorded_at: str,
        signature: str | None,
        stored: tuple[bytes, bytes],
    ) -> None:
        """Add entry ``seq`` to the Merkle tree: its leaf is ``SHA-256(0x00 ‖ the bytes
        whose SHA-256 is its entry_hash)``; keep the nodes it completes for the flush."""
        if self._frontier is None:
            self._frontier = self.repo.merkle_frontier(seq - 1)
        data = entry_bytes(seq, prev_hash, recorded_at, stored[0], signature, stored[1])
        for (level, index), digest in append_leaf(self._frontier, seq - 1, leaf_hash(data)):
            self._nodes.append({"level": level, "idx": index, "hash": digest})

    @property
    def frontier(self) -> dict[Node, bytes] | None:
        """The Merkle tree's perfect subtrees at :attr:`head`, if this batch knows them."""
        return self._frontier

    def _take(self, collection: str, rows: list[Row], seq: int) -> None:
        if collection == PARTIES:
            self._parties.extend(rows)
            return
        projection = PROJECTIONS[collection]
        pending, known = self._pending[collection], self._known[collection]
        counters = COUNTERS.get(collection)
        for row in rows:
            key = projection.key_of(row)
            if counters is not None:
                was = pending[key] if key in pending else self._found(collection, key, row, seq)
                self._deltas[collection].subtract(counters(was) if was is not None else ())
                self._deltas[collection].update(counters(row))
            pending[key] = row
            known[key] = _Row(row)
        if collection == "invoices":
            self._index_invoices(projection.key_of(row) for row in rows)

    def _found(self, collection: str, key: Key_, row: Row, seq: int) -> Any:
        """A row as it is in the database, before the batch writes it (None if new)."""
        created = CREATED_AT.get(collection)
        if created is not None and row[created] == seq:
            return None
        return self._get(collection, [key]).get(key)

    def flush(self) -> None:
        """Write what the batch holds: one statement per table, then move the head."""
        if not self._entries:
            return
        conn = self.repo.conn
        self.repo.append_rows(self._entries)
        for collection, rows in self._pending.items():
            write_rows(conn, collection, list(rows.values()))
        write_rows(conn, PARTIES, self._parties)
        self.repo.append_nodes(self._nodes)  # the Merkle tree: derived, like an index
        # The webhook secrets and the outbox: operational rows, in the entries' transaction.
        settings = self._settings or Settings()
        outbox.write(conn, list(self._pending.get("webhooks", {}).values()), self._events, settings)
        self._entries, self._parties, self._events, self._nodes = [], [], [], []
        self._pending.clear()
        self._deltas.clear()
        self._counts.clear()  # the database's counts now include what was written

    # -- helpers -----------------------------------------------------------------------

    def _before(self, collection: str, id_: str) -> dict[str, Any] | None:
        """A row as the entry being appended found it (for the events it makes)."""
        if collection not in self._fetch:
            return None
        found = self._get(collection, [(id_,)]).get((id_,))
        return None if found is None else ENTITIES[collection].to_wire(found)

    def _get(
        self, collection: str, keys: Iterable[Key_], *, convert: bool = True
    ) -> dict[Key_, Any]:
        known = self._known[collection]
        wanted = list(dict.fromkeys(keys))
        missing = [key for key in wanted if key not in known]
        if missing:
            found = self._fetch[collection](missing)
            for key in missing:
                known[key] = found.get(key)
            if collection == "invoices":
                self._index_invoices(found)
        if not convert:
            return {}
        result = {}
        for key in wanted:
            value = known[key]
            if isinstance(value, _Row):
                value = known[key] = ENTITIES[collection].from_row(value.row)
            if value is not None:
                result[key] = value
        return result

    def _index_invoices(self, keys: Iterable[Key_]) -> None:
        for key in keys:
            self._invoice_index[key[:2]].add(key)

    def _by_id(
        self, collection: str, ids: Iterable[str], *, convert: bool = True
    ) -> dict[str, Any]:
        found = self._get(collection, [(i,) for i in ids], convert=convert)
        return {key[0]: value for key, value in found.items()}

    def _counted(
        self, collection: str, ids: Iterable[str], count: Callable[[list[str]], dict[str, int]]
    ) -> dict[str, int]:
        cached = self._counts[collection]
        wanted = sorted(set(ids))
        missing = [member for member in wanted if member not in cached]
        if missing:
            cached.update(dict.fromkeys(missing, 0) | count(missing))
        return {member: cached[member] for member in wanted}

    def _corrected(self, collection: str, counts: dict[str, int]) -> dict[str, int]:
        """``counts`` as the database has them, corrected by the rows written since."""
        delta = self._deltas[collection]
        return {member: count + delta[member] for member, count in counts.items()}


def _cited_by(key: InvoiceKey, buyer: str, numbers: set[str]) -> bool:
    """Whether ``buyer`` citing ``numbers`` finds this invoice (its own invoices of those
    numbers, whatever the seller, and the legacy ones): as ``Repository.buyer_invoices``."""
    own = key.buyer == buyer or (key.buyer == LEGACY and key.seller == LEGACY)
    return own and key.no in numbers


def _invoice_key(key: InvoiceKey) -> Key_:
    """An invoice's key in the order of its table's primary key."""
    return (key.buyer, key.no, key.seller)


def _key_of(key: Key_) -> InvoiceKey:
    buyer, no, seller = key
    return InvoiceKey(buyer, seller, no)


def _by_first(found: dict[str, Any]) -> dict[Key_, Any]:
    return {(id_,): value for id_, value in found.items()}


def _keys(repo: Repository, key_ids: list[str]) -> dict[str, Key]:
    found = (repo.key(key_id) for key_id in key_ids)
    return {key.key_id: key for key in found if key is not None}
