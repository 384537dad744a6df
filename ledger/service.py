"""The one way in for writes: :meth:`Ledger.execute` of a signed command.

Everything that can happen before the sequencer does, in the caller's thread and in
parallel with other callers (:meth:`Ledger.prepare`): parsing, the check that the
command names this ledger, the Ed25519 signature check (a key id names one immutable
public key, so checking against it needs no lock), the freshness check (with the nonce
look-up that lets an old identical retry have its receipt), and a command's long
planning, if its type has one. Then the command joins the sequencer's queue
(``ledger.sequencer``), which applies it in a batch, in one transaction holding the
chain head:

1. an identical retry gets its original receipt; another command reusing the nonce is
   refused;
2. the key is still the signer's current key, the signer is active, and its role
   allows the command;
3. the command type's loader reads what its rule needs (``ledger.catalog``), through the
   batch, so it sees the commands before it; the pure rule returns effects;
4. the entry (seq, prev_hash, command, signature, effects → entry_hash) and the
   projection rows of its effects join the batch;

and the batch is written and committed; only then is the receipt answered. A refusal at
any step raises :class:`~ledger.errors.Refusal` for that command alone: nothing of it
is ever applied.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine

from ledger import certificates, system, transparency
from ledger.batch import Batch, Receipt
from ledger.canonical import sha256_hex
from ledger.catalog import CATALOG, CommandType, parse
from ledger.commands import Command, format_timestamp
from ledger.context import Context, Effects
from ledger.db import (
    WRITE_OPTION,
    engine_like,
    is_memory,
    pool_options,
    snapshot,
    write_transaction,
)
from ledger.errors import Refusal
from ledger.financing import REQUESTED
from ledger.handlers import BAD_SIGNATURE, authorise, authorise_member
from ledger.keys import verify
from ledger.limits import KEY_CACHE_MAX, SWEEP_BATCH_MAX
from ledger.members import Member
from ledger.remote import RemoteSequencer
from ledger.repository import Head, Repository, StoredEntry
from ledger.sequencer import Sequencer
from ledger.settings import Settings
from ledger.verify import Report as VerifyReport
from ledger.verify import verify as verify_journal

Clock = Callable[[], datetime]
T = TypeVar("T")
log = logging.getLogger("dcc.ledger")
__all__ = ["BAD_SIGNATURE", "Ledger", "Prepared", "Receipt", "authorise_member"]

OTHER_LEDGER = "the signature is for another ledger (GET /v1/ledger names this one)"


def utc_now() -> datetime:
    return datetime.now(UTC)


def shifted(clock: Clock, offset_s: int) -> Clock:
    """``clock``, ``offset_s`` seconds ahead (behind, if negative); ``clock`` itself for 0."""
    if not offset_s:
        return clock
    offset = timedelta(seconds=offset_s)
    return lambda: clock() + offset


@dataclass(frozen=True)
class Prepared:
    """A command checked as far as it can be outside the sequencer."""

    cmd: Command
    kind: CommandType
    command_hash: str  # SHA-256 of the signed bytes: ids of what it creates derive from it
    planned: Any = None  # the result of the type's plan, if it has one


class Ledger:
    """The ledger on one database, through three engines with pools of their own.

    ``engine`` takes the writes (and the checks before their lock); ``read_engine`` the
    reads, so writes queued behind the write lock never hold the connections reads need;
    the health check has one dedicated connection (:meth:`health_seq`). Without a
    ``read_engine``, one is made on the same database with ``db_read_pool_max``
    connections (:meth:`close` disposes of what the ledger made).

    Two clocks: ``wall_clock``, the one given, against which the times clients sign are
    checked (freshness of commands and signed reads); and ``clock``, the ledger's time —
    the wall clock shifted by ``clock_offset_s`` (0 but in tests of real server
    processes) — which everything else reads: what rules see as now (``ctx.now``, which
    the sequencer also keeps from going back, ``Batch.now``), the sweep, and the reads'
    now and today. So a test can run a real server days ahead while its clients sign
    with real time, and the freshness window keeps its meaning: how far a client's clock
    may be from real time.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        clock: Clock = utc_now,
        *,
        read_engine: Engine | None = None,
        remote: RemoteSequencer | None = None,
    ):
        self.engine = engine
        self.settings = settings or Settings.from_env()
        self.wall_clock = clock
        self.clock = shifted(clock, self.settings.clock_offset_s)
        warning = self.settings.clock_offset_warning()
        if warning is not None:
            log.warning(warning)
        self._keys: dict[str, tuple[str, str]] = {}  # key_id -> (member, public key)
        self._ledger_id: str | None = None
        self._owned: list[Engine] = []
        self.read_engine = read_engine or self._engine_like(self.settings.db_read_pool_max)
        self._health_engine: Engine | None = None
        self._write_engine: Engine | None = None
        self._sequencer: Sequencer | None = None
        self._sequencer_lock = threading.Lock()
        # Under `dcc serve`, the sequencer runs in a process of its own (ledger.remote).
        self._remote = remote
        self._log_private: Ed25519PrivateKey | None = None  # read from log_key_file once

    def _engine_like(
        self, pool_max: int, timeout_s: float | None = None, *, pre_ping: bool = True
    ) -> Engine:
        if is_memory(self.engine.url.render_as_string(hide_password=False)):
            return self.engine
        timeout = self.settings.db_pool_timeout_s if timeout_s is None else timeout_s
        options = pool_options(pool_max, timeout) | {"pool_pre_ping": pre_ping}
        made = engine_like(self.engine, **options)
        self._owned.append(made)
        return made

    def job_engine(self, pool_max: int) -> Engine:
        """An engine of its own on this ledger's database, for a background job (the
        relay): its connections are never those of the reads, the writes or the
        sequencer. Disposed of by :meth:`close`."""
        return self._engine_like(pool_max)

    def close(self) -> None:
        """Stop the sequencer (once what is queued is applied) and dispose of the engines
        this ledger made (not the one it was given)."""
        self.stop_sequencer()
        self._write_engine = None
        for engine in self._owned:
            engine.dispose()
        self._owned = []

    # -- writes ----------------------------------------------------------------------

    def execute(self, data: bytes | dict[str, Any]) -> Receipt:
        """Verify and apply one signed command envelope; return its receipt."""
        prepared = self.prepare(self.parse(data))
        assert prepared is not None  # it may block
        if isinstance(prepared, Receipt):
            return prepared
        return self.sequence(prepared).result()

    def execute_together(
        self, envelopes: Sequence[bytes | dict[str, Any]]
    ) -> list[Receipt | Exception]:
        """Apply ``envelopes`` in order in one batch of the sequencer: each one's receipt,
        or the refusal (or failure) that turned it down alone."""
        outcomes: list[Receipt | Exception | Prepared] = []
        prepared: list[Prepared] = []
        for data in envelopes:
            try:
                ready = self.prepare(self.parse(data))
            except Refusal as refusal:
                outcomes.append(refusal)
                continue
            assert ready is not None  # it may block
            if isinstance(ready, Prepared):
                prepared.append(ready)
            outcomes.append(ready)
        applies = [partial(self._apply, p) for p in prepared]
        try:
            futures = iter(self.sequencer.submit_group(applies, prepared))
        except Refusal as refusal:  # the queue is full: none of them was queued
            return [refusal if isinstance(o, Prepared) else o for o in outcomes]
        return [_outcome(next(futures)) if isinstance(o, Prepared) else o for o in outcomes]

    def parse(self, data: bytes | dict[str, Any]) -> Command:
        """Parse an envelope of a declared command type (no database, no signature)."""
        return parse(data)

    def prepare(self, cmd: Command, *, may_block: bool = True) -> Prepared | Receipt | None:
        """Everything before the sequencer; a Receipt when ``cmd`` is an old, identical
        retry of a recorded command. Unless it ``may_block``, None as soon as it would
        need the database (a key not seen yet, an old command, a plan): an event loop
        runs it itself, and hands only those to a thread."""
        kind = CATALOG[cmd.type]
        fresh = self._is_fresh(cmd)
        if not may_block and (
            self._ledger_id is None
            or cmd.key_id not in self._keys
            or not fresh
            or kind.plan is not None
        ):
            return None
        if cmd.ledger != self.ledger_id():
            raise Refusal("bad-signature", OTHER_LEDGER)
        # The signature is checked before anything is looked up by signer and nonce, so
        # that without the signer's key nobody learns which nonces it used.
        public_key = self._public_key(cmd)
        if not verify(public_key, cmd.signature, cmd.signed):
            raise Refusal("bad-signature", BAD_SIGNATURE)
        if not fresh:
            # An old command may still be an identical retry: it gets its receipt.
            prior = self._prior(cmd)
            if prior is not None:
                return _receipt_for_retry(prior, cmd)
            self._refuse_stale(cmd)
        command_hash = sha256_hex(cmd.signed)
        planned = self._plan(cmd, kind, command_hash) if kind.plan is not None else None
        return Prepared(cmd, kind, command_hash, planned)

    def sequence(self, prepared: Prepared) -> Future[Receipt]:
        """Queue a prepared command; its future answers after the commit that made its
        entry durable (or with its refusal)."""
        if self._remote is not None:
            future: Future[Receipt] = self._remote.command(prepared)
            return future
        return self.sequencer.submit(partial(self._apply, prepared), prepared)

    @property
    def sequencer(self) -> Sequencer:
        """This ledger's one sequencer (made at first use, by whichever thread)."""
        with self._sequencer_lock:
            if self._sequencer is None:
                self._write_engine = self._write_engine or self._engine_like(1, pre_ping=False)
                self._sequencer = Sequencer(
                    self._write_connection,
                    self.settings.sequencer_batch_max,
                    self.settings.sequencer_queue_max,
                    _prefetch,
                    self._record_settings,
                )
            return self._sequencer

    def _record_settings(self, batch: Batch, continued: bool) -> None:
        """First in a batch: unless nobody else has written since this ledger's last
        batch, record the rule settings if they are not those the journal last recorded
        (``ledger.system``), so that every entry is re-executed under its own."""
        if batch.head is None or continued:
            return
        if batch.repo.recorded_settings() != self.settings.recorded():
            system.record_settings(batch, batch.now(self.clock()), self.settings)

    def _write_connection(self) -> Connection:
        """The sequencer's connection: from a pool of one, without a ping per checkout
        (a dead connection fails its batch, whose items are then tried again alone)."""
        assert self._write_engine is not None
        return self._write_engine.connect().execution_options(**{WRITE_OPTION: True})

    def stop_sequencer(self) -> None:
        """Apply and answer what is queued, then stop the sequencer's thread (the next
        write starts a new one)."""
        with self._sequencer_lock:
            sequencer, self._sequencer = self._sequencer, None
        if sequencer is not None:
            sequencer.close()

    def ledger_id(self) -> str:
        """This ledger's id: its genesis entry's hash, which every signature must name.

        The genesis entry never changes, so the id is read once (a read, on the read pool)
        and kept.
        """
        if self._ledger_id is None:
            with self.read_engine.connect() as conn, conn.begin():
                found = Repository(conn).ledger_id()
            if found is None:
                raise Refusal("not-initialised", "run `dcc init` to write the genesis entry")
            self._ledger_id = found
        return self._ledger_id

    def _apply(self, prepared: Prepared, batch: Batch) -> Receipt:
        """In the sequencer: apply one command to the batch."""
        cmd, kind = prepared.cmd, prepared.kind
        if batch.head is None:
            raise Refusal("not-initialised", "run `dcc init` to write the genesis entry")
        try:
            prior = batch.entry_by_nonce(cmd.signer, cmd.nonce)
            if prior is not None:  # checked first: an identical retry was authorised then
                return _receipt_for_retry(prior, cmd)
            signer = authorise(batch, cmd, kind.roles)
            now = batch.now(self.clock())
            ctx = Context(batch.next_seq, now, prepared.command_hash, self.settings)
            planned = {"planned": prepared.planned} if kind.plan is not None else {}
            effects: Effects = kind.run(batch, cmd, signer, ctx, **planned)
            return batch.append(ctx, cmd.raw, cmd.signature, effects, cmd)
        except Refusal as refusal:
            assert refusal.type in kind.refusals, f"{cmd.type} refused undeclared {refusal.type}"
            recorded = self._record_found(refusal, batch)
            if (
                recorded is not None
                and refusal.type == "certificate-expired"
                and kind.type == "settlement.pay"
            ):
                # Where the value went: the pieces returned to their senders, to be paid
                # in their stead (the issuer sees every piece of its paper anyway).
                refusal.extra["returned"] = {
                    piece["parent_ids"][0]: piece["id"]
                    for piece in recorded.effects.get("certificates", ())
                    if piece["created_seq"] == recorded.seq
                }
            raise

    def _record_found(self, refusal: Refusal, batch: Batch) -> Receipt | None:
        """A command refused because the clock had moved on for what it touched — a
        pending piece past its deadline or matured, an application past its window, a
        piece past its payment date — is refused, and what it found is recorded as the
        system entry the sweep would have written."""
        now = batch.now(self.clock())
        if refusal.type == "certificate-expired":
            ids = refusal.extra.get("expired_ids") or [refusal.extra["expired_id"]]
            return system.expiry(batch, now, self.settings, ids, SWEEP_BATCH_MAX)
        if "expired_financings" in refusal.extra:
            ids = refusal.extra["expired_financings"]
            return system.financing_expiry(batch, now, self.settings, ids, SWEEP_BATCH_MAX)
        if "overdue_ids" in refusal.extra:
            ids = refusal.extra["overdue_ids"]
            return system.overdue(batch, now, self.settings, ids, SWEEP_BATCH_MAX)
        return None

    def _plan(self, cmd: Command, kind: CommandType, command_hash: str) -> Any:
        """Run a command's long planning before the sequencer, on one snapshot of the
        ledger, once the signer is known to be allowed to ask for it (checked again in
        the sequencer). An identical retry skips it: the sequencer answers it with the
        original receipt."""
        assert kind.plan is not None
        with snapshot(self.engine) as conn, conn.begin():
            repo = Repository(conn)
            if repo.entry_by_nonce(cmd.signer, cmd.nonce) is not None:
                return None
            authorise(repo, cmd, kind.roles)
            ctx = Context(0, self.clock(), command_hash, self.settings)
            return kind.plan(repo, cmd, ctx)

    def _public_key(self, cmd: Command) -> str:
        """The public key named by ``key_id``, if it belongs to the signer.

        A key id is a hash of its public key, so this mapping never changes and is cached
        without invalidation; whether the key is *still current* is checked in the
        sequencer.
        """
        cached = self._keys.get(cmd.key_id)
        if cached is None:
            with self.engine.connect() as conn, conn.begin():
                repo = Repository(conn)
                key = repo.key(cmd.key_id)
                if key is None or key.member != cmd.signer:
                    raise Refusal("bad-signature", BAD_SIGNATURE)
            assert key is not None
            if len(self._keys) >= KEY_CACHE_MAX:
                self._keys.clear()
            cached = self._keys[cmd.key_id] = (key.member, key.public_key)
        member, public_key = cached
        if member != cmd.signer:
            raise Refusal("bad-signature", BAD_SIGNATURE)
        return public_key

    def _prior(self, cmd: Command) -> StoredEntry | None:
        with self.engine.connect() as conn, conn.begin():
            return Repository(conn).entry_by_nonce(cmd.signer, cmd.nonce)

    def genesis(
        self, operator_id: str, name: str, public_key: str, salt: str | None = None
    ) -> Receipt:
        """Write seq 1, admitting the operator. Refused if the ledger has any entry.

        The genesis hash is the ledger's id: a random ``salt`` keeps two deployments
        initialised alike from sharing one (a test that must replay byte for byte passes
        its own).
        """
        now = self.clock()
        written: Receipt = self.sequencer.submit(
            lambda batch: system.genesis(
                batch, operator_id, name, public_key, batch.now(now), self.settings, salt
            )
        ).result()
        return written

    def sweep(self, ids: Sequence[str] = (), batch_max: int = SWEEP_BATCH_MAX) -> Receipt | None:
        """Write one system entry the clock made due (``ledger.system``): expire pending
        pieces past their deadline or matured (all, or those of ``ids``), else
        applications, else mark overdue paper, else a settlement notice; None when
        nothing is due."""
        result: Receipt | None = self.submit_sweep(ids, batch_max).result()
        return result

    def submit_sweep(
        self,
        ids: Sequence[str] = (),
        batch_max: int = SWEEP_BATCH_MAX,
        financings: Sequence[str] = (),
    ) -> Future[Receipt | None]:
        """:meth:`sweep`, queued: its future answers once the expiry is committed. With
        ``financings``, expire those applications (when due) instead."""

        if self._remote is not None:
            swept: Future[Receipt | None] = self._remote.sweep(ids, batch_max, financings)
            return swept

        def expire(batch: Batch) -> Receipt | None:
            if batch.head is None:
                return None
            now = batch.now(self.clock())
            if financings:
                return system.financing_expiry(batch, now, self.settings, financings, batch_max)
            expired = system.expiry(batch, now, self.settings, ids, batch_max)
            if expired is not None or ids:
                return expired
            # Pieces first, then applications for financing, then overdue paper (once
            # what was in flight at maturity came home), then notices of what is due.
            return (
                system.financing_expiry(batch, now, self.settings, (), batch_max)
                or system.overdue(batch, now, self.settings, (), batch_max)
                or system.notice(batch, now, self.settings)
            )

        return self.sequencer.submit(expire)

    def sweep_all(self) -> int:
        """Sweep until nothing is due; the number of system entries written."""
        written = 0
        while self.sweep() is not None:
            written += 1
        return written

    def _skew_s(self, cmd: Command) -> float:
        # Against the unshifted clock: clients sign with real time (see the class).
        return abs((self.wall_clock() - cmd.issued_at).total_seconds())

    def _is_fresh(self, cmd: Command) -> bool:
        return self._skew_s(cmd) <= self.settings.clock_skew_s_max

    def _refuse_stale(self, cmd: Command) -> NoReturn:
        raise Refusal(
            "stale-timestamp",
            f"issued_at is {int(self._skew_s(cmd))} s from the server clock; "
            f"at most {self.settings.clock_skew_s_max} s is accepted",
        )

    # -- checkpoints (ledger.transparency) ---------------------------------------------

    def log_signer(self, repo: Repository) -> transparency.LogSigner:
        """The published log key with its private half, or ``unavailable``. The key file
        is read until found (an operator may add it to a running server), then kept."""
        if self._log_private is None:
            self._log_private = transparency.load_log_private_key(self.settings)
        return transparency.signer_for(repo, self._log_private)

    def checkpoint(self, *, force: bool = False) -> int | None:
        """Sign a checkpoint of the head if one is due (:func:`transparency.checkpoint_due`)
        or if ``force`` (and the head has none yet); the size signed, or None. A short
        write transaction of its own, outside the sequencer: checkpoints are operational
        state, derived from the tree the entries' transactions wrote."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            repo = Repository(conn)
            if force:
                size: int | None = transparency.head_size(repo)
                latest = repo.latest_checkpoint()
                size = size if size and (latest is None or latest.size < size) else None
            else:
                size = transparency.checkpoint_due(repo, self.settings, now)
            if size is None:
                return None
            signer = self.log_signer(repo)
            transparency.sign_checkpoint(repo, signer, size, format_timestamp(now))
            return size

    # -- reads -----------------------------------------------------------------------

    def connect(self) -> Connection:
        """A connection from the read pool."""
        return self.read_engine.connect()

    def head(self) -> Head | None:
        with self.read_engine.connect() as conn, conn.begin():
            return Repository(conn).head()

    def health_seq(self) -> int:
        """The head seq, read on the health check's one dedicated connection: never from
        the read or write pools, and failing at once (pool ``TimeoutError``) while an
        earlier check still holds that connection."""
        if self._health_engine is None:
            self._health_engine = self._engine_like(1, timeout_s=0)
        with self._health_engine.connect() as conn, conn.begin():
            head = Repository(conn).head()
        return head.seq if head else 0

    def read(self, view: Callable[..., T], *args: Any) -> T:
        """Run a read view (``ledger.reads``) in one read-only transaction."""
        with self.read_engine.connect() as conn, conn.begin():
            return view(Repository(conn), *args)

    def operational(self, view: Callable[..., T], *args: Any) -> T:
        """Run ``view`` in one short write transaction of its own, outside the sequencer:
        for operational state no entry covers (the webhook outbox and secrets), never for
        the journal or the projections."""
        with write_transaction(self.engine) as conn:
            return view(Repository(conn), *args)

    def read_touching(self, view: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Run a read view of certificates; a pending piece it shows past its deadline is
        expired first (touching it, like the sweep would), so no read shows stale paper.

        The expiry is a write, and waits for the write lock: the HTTP routes do the same
        in three steps (read, :meth:`due_ids`, sweep on a *write* thread, read again), so
        that a read waiting for that lock never holds a read thread."""
        result = self.read(view, *args)
        due = self.due_ids(result)
        if due:  # re-read even if a concurrent sweep expired them first
            self.sweep(ids=due)
            result = self.read(view, *args)
        return result

    def due_financings(self, view: dict[str, Any]) -> list[str]:
        """Ids of applications a financing view shows undecided past their window."""
        shown = view.get("financings") or ([view] if "quote" in view else [])
        now = self.clock()
        now_text, today = format_timestamp(now), self._today(now)
        return [
            f["id"]
            for f in shown
            if f["state"] == REQUESTED
            and (f["expires_at"] <= now_text or f.get("maturity", "9999-12-31") <= today)
        ]

    def _today(self, now: datetime) -> str:
        return now.astimezone(self.settings.business_timezone).date().isoformat()

    def due_ids(self, view: dict[str, Any]) -> list[str]:
        """Ids of the pending pieces a certificate, tree or wallet view shows past their
        deadline (they are expired before the view is answered)."""
        now = self.clock()
        return _due_ids(view, format_timestamp(now), self._today(now))

    def member(self, member_id: str) -> Member | None:
        with self.read_engine.connect() as conn, conn.begin():
            return Repository(conn).member(member_id)

    def verify(self, *, reexecute: bool = True) -> VerifyReport:
        """Audit the journal (``ledger.verify``) in this process: a server never forks
        workers from among its threads (``dcc verify`` does, on a large journal)."""
        with snapshot(self.read_engine) as conn, conn.begin():
            return verify_journal(Repository(conn), self.settings, reexecute=reexecute, workers=1)


def _prefetch(batch: Batch, commands: list[Prepared]) -> None:
    """What every command in a batch asks first, read for all of them at once."""
    batch.prefetch(
        ((p.cmd.signer, p.cmd.nonce) for p in commands),
        (p.cmd.key_id for p in commands),
        (p.kind.needs(p.cmd) for p in commands if p.kind.needs is not None),
    )


def _outcome(future: Future[Receipt]) -> Receipt | Exception:
    try:
        return future.result()
    except Exception as failure:  # a refusal, or a failure of this command alone
        return failure


def _due_ids(view: dict[str, Any], now_text: str, today: str) -> list[str]:
    """Ids of pending pieces past their deadline or matured in a certificate, tree or
    wallet view (``certificates.is_due_to_expire``)."""
    pieces = view.get("pieces") or view.get("certificates") or ([view] if "state" in view else [])
    return [
        piece["id"]
        for piece in pieces
        if piece["state"] == certificates.PENDING
        and (
            (piece["expires_at"] is not None and piece["expires_at"] <= now_text)
            or piece.get("maturity", "9999-12-31") <= today
        )
    ]


def _receipt_for_retry(prior: StoredEntry, cmd: Command) -> Receipt:
    """An identical envelope gets its original receipt; a different one is refused."""
    same = prior.command_text == cmd.signed.decode() and prior.entry.signature == cmd.signature
    if not same:
        # Only the signer (its signature was checked) gets here; still, the answer names
        # nothing the request did not: not the seq, not the other command.
        raise Refusal(
            "replayed-nonce", f"nonce {cmd.nonce!r} was already used for a different command"
        )
    entry = prior.entry
    return Receipt(entry.seq, entry.entry_hash, entry.effects, replayed=True)
