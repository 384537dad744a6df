"""The one way in for writes: :meth:`Ledger.execute` of a signed command.

Everything that can happen before the lock does: parsing, the check that the command
names this ledger, the Ed25519 signature check (a key id names one immutable public
key, so checking against it needs no lock), the nonce look-up for an idempotent retry
and the freshness check. Then, in one database transaction that holds the chain head:

1. confirm the key is still the signer's current key, the signer is active, and its
   role allows the command;
2. refuse a nonce that a concurrent request has just used;
3. run the command's handler (load state, apply the pure rule → effects);
4. append the entry (seq, prev_hash, command, signature, effects → entry_hash) and
   upsert the projections its effects name;

and commit. A refusal at any step raises :class:`~ledger.errors.Refusal` and rolls
back: nothing is ever half-applied.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, Engine

from ledger import certificates, members
from ledger.canonical import canonical_bytes, canonical_text, sha256_hex
from ledger.certificates import Certificate
from ledger.chain import EXPIRE_TYPE, GENESIS_PREV_HASH, GENESIS_TYPE, make_entry
from ledger.commands import (
    Command,
    format_timestamp,
    parse_envelope,
    validate_model,
)
from ledger.context import Context, Effects
from ledger.db import WRITE_OPTION, engine_like, is_memory, pool_options, snapshot
from ledger.errors import Refusal
from ledger.handlers import HANDLERS, Plan
from ledger.keys import verify
from ledger.limits import KEY_CACHE_MAX, SWEEP_BATCH_MAX
from ledger.members import Key, Member
from ledger.projections import apply_effects
from ledger.repository import Head, Repository, StoredEntry
from ledger.settings import Settings
from ledger.verify import Report as VerifyReport
from ledger.verify import verify as verify_journal

Clock = Callable[[], datetime]
T = TypeVar("T")

# One answer for every command or read that does not prove its signer: an unknown member,
# a key that is not the member's, and a signature that does not verify all read the same,
# so nobody without a key learns who is admitted or which keys a member has.
BAD_SIGNATURE = "the signature does not verify against a key of the signer"
OTHER_LEDGER = "the signature is for another ledger (GET /v1/ledger names this one)"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Receipt:
    seq: int
    entry_hash: str
    effects: Effects
    replayed: bool = False  # True when an identical envelope was already recorded

    def wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "entry_hash": self.entry_hash, "effects": self.effects}


class Ledger:
    """The ledger on one database, through three engines with pools of their own.

    ``engine`` takes the writes (and the checks before their lock); ``read_engine`` the
    reads, so writes queued behind the write lock never hold the connections reads need;
    the health check has one dedicated connection (:meth:`health_seq`). Without a
    ``read_engine``, one is made on the same database with ``db_read_pool_max``
    connections (:meth:`close` disposes of what the ledger made).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        clock: Clock = utc_now,
        *,
        read_engine: Engine | None = None,
    ):
        self.engine = engine
        self.settings = settings or Settings.from_env()
        self.clock = clock
        self._keys: dict[str, tuple[str, str]] = {}  # key_id -> (member, public key)
        self._ledger_id: str | None = None
        self._owned: list[Engine] = []
        self.read_engine = read_engine or self._engine_like(self.settings.db_read_pool_max)
        self._health_engine: Engine | None = None

    def _engine_like(self, pool_max: int, timeout_s: float | None = None) -> Engine:
        if is_memory(self.engine.url.render_as_string(hide_password=False)):
            return self.engine
        timeout = self.settings.db_pool_timeout_s if timeout_s is None else timeout_s
        made = engine_like(self.engine, **pool_options(pool_max, timeout))
        self._owned.append(made)
        return made

    def close(self) -> None:
        """Dispose of the engines this ledger made (not the one it was given)."""
        for engine in self._owned:
            engine.dispose()
        self._owned = []

    # -- writes ----------------------------------------------------------------------

    def execute(self, data: bytes | dict[str, Any]) -> Receipt:
        """Verify and apply one signed command envelope; return its receipt."""
        cmd = parse_envelope(data)
        handler = HANDLERS.get(cmd.type)
        if handler is None:
            raise Refusal("unknown-command", f"{cmd.type!r} cannot be submitted")
        if cmd.ledger != self.ledger_id():
            raise Refusal("bad-signature", OTHER_LEDGER)
        # The signature is checked before anything is looked up by signer and nonce, so
        # that without the signer's key nobody learns which nonces it used.
        public_key = self._public_key(cmd)
        if not verify(public_key, cmd.signature, cmd.signed):
            raise Refusal("bad-signature", BAD_SIGNATURE)
        if not self._is_fresh(cmd):
            # An old command may still be an identical retry: it gets its receipt.
            prior = self._prior(cmd)
            if prior is not None:
                return _receipt_for_retry(prior, cmd)
            self._refuse_stale(cmd)
        run: Callable[..., Effects] = handler.run
        if handler.plan is not None:
            run = partial(run, planned=self._plan(cmd, handler.roles, handler.plan))
        try:
            connection = self.engine.connect().execution_options(**{WRITE_OPTION: True})
            with connection as conn, conn.begin():
                return self._apply(Repository(conn), cmd, handler.roles, run)
        except Refusal as refusal:
            if refusal.type == "certificate-expired":
                # The command touched a piece past its deadline: it is refused, and the
                # expiry it found is recorded as its own (system) entry.
                self.sweep(ids=[refusal.extra["expired_id"]])
            raise

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

    def _apply(self, repo: Repository, cmd: Command, roles: frozenset[str], run: Any) -> Receipt:
        head = repo.head(lock=True)
        if head is None:
            raise Refusal("not-initialised", "run `dcc init` to write the genesis entry")
        prior = repo.entry_by_nonce(cmd.signer, cmd.nonce)
        if prior is not None:  # checked first: an identical retry was authorised when applied
            return _receipt_for_retry(prior, cmd)
        signer = _authorise(repo, cmd, roles)
        ctx = self._context(head, sha256_hex(cmd.signed))
        effects = run(repo, cmd, signer, ctx)
        return _append(repo, head, ctx, cmd.raw, cmd.signature, effects, cmd)

    def _plan(self, cmd: Command, roles: frozenset[str], plan: Plan) -> Any:
        """Run a command's long planning outside the lock, on one snapshot of the ledger,
        once the signer is known to be allowed to ask for it (checked again in the lock).
        An identical retry skips it: the lock answers it with the original receipt."""
        with snapshot(self.engine) as conn, conn.begin():
            repo = Repository(conn)
            if repo.entry_by_nonce(cmd.signer, cmd.nonce) is not None:
                return None
            _authorise(repo, cmd, roles)
            ctx = Context(0, self.clock(), sha256_hex(cmd.signed), self.settings)
            return plan(repo, cmd, ctx)

    def _public_key(self, cmd: Command) -> str:
        """The public key named by ``key_id``, if it belongs to the signer.

        A key id is a hash of its public key, so this mapping never changes and is cached
        without invalidation; whether the key is *still current* is checked in the lock.
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
        initialised alike, at the same microsecond, from sharing one (a test that must
        replay byte for byte passes its own).
        """
        raw = {
            "type": GENESIS_TYPE,
            "issued_at": format_timestamp(self.clock()),
            "salt": salt or secrets.token_hex(16),
            "body": {"id": operator_id, "name": name, "public_key": public_key},
        }
        body = validate_model(members.GenesisBody, raw["body"], "")
        connection = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        with connection as conn, conn.begin():
            repo = Repository(conn)
            if repo.head(lock=True) is not None or repo.entry_count() > 0:
                raise Refusal("already-initialised", "this ledger already has a genesis entry")
            command_hash = sha256_hex(canonical_text(raw).encode())
            ctx = Context(1, self.clock(), command_hash, self.settings)
            effects = members.genesis(body, ctx)
            return _append(repo, None, ctx, raw, None, effects, None)

    def sweep(self, ids: Sequence[str] = (), batch_max: int = SWEEP_BATCH_MAX) -> Receipt | None:
        """Expire pending pieces past their deadline (all due ones, or those of ``ids``),
        as one unsigned system entry ``certificate.expire``; None when nothing is due."""
        connection = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        with connection as conn, conn.begin():
            repo = Repository(conn)
            head = repo.head(lock=True)
            if head is None:
                return None
            now = self.clock()
            due = repo.due_pending(format_timestamp(now), batch_max, ids)
            if not due:
                return None
            due = _fitting(due, self.settings.entry_bytes_max // 2)
            registered = repo.invoices(use.key for piece in due for use in piece.invoice_uses)
            limits = repo.issuance_limits(piece.issuer for piece in due if piece.is_root)
            raw = {
                "type": EXPIRE_TYPE,
                "issued_at": format_timestamp(now),
                "body": {"ids": [piece.id for piece in due]},
            }
            ctx = Context(
                head.seq + 1, now, sha256_hex(canonical_text(raw).encode()), self.settings
            )
            effects = certificates.expire(due, registered, limits, ctx)
            return _append(repo, head, ctx, raw, None, effects, None)

    def sweep_all(self) -> int:
        """Sweep until nothing is due; the number of system entries written."""
        written = 0
        while self.sweep() is not None:
            written += 1
        return written

    def _skew_s(self, cmd: Command) -> float:
        return abs((self.clock() - cmd.issued_at).total_seconds())

    def _is_fresh(self, cmd: Command) -> bool:
        return self._skew_s(cmd) <= self.settings.clock_skew_s_max

    def _refuse_stale(self, cmd: Command) -> NoReturn:
        raise Refusal(
            "stale-timestamp",
            f"issued_at is {int(self._skew_s(cmd))} s from the server clock; "
            f"at most {self.settings.clock_skew_s_max} s is accepted",
        )

    def _context(self, head: Head, command_hash: str) -> Context:
        return Context(head.seq + 1, self.clock(), command_hash, self.settings)

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

    def due_ids(self, view: dict[str, Any]) -> list[str]:
        """Ids of the pending pieces a certificate, tree or wallet view shows past their
        deadline (they are expired before the view is answered)."""
        return _due_ids(view, format_timestamp(self.clock()))

    def member(self, member_id: str) -> Member | None:
        with self.read_engine.connect() as conn, conn.begin():
            return Repository(conn).member(member_id)

    def verify(self) -> VerifyReport:
        with snapshot(self.read_engine) as conn, conn.begin():
            return verify_journal(Repository(conn))


def _append(
    repo: Repository,
    head: Head | None,
    ctx: Context,
    raw: dict[str, Any],
    signature: str | None,
    effects: Effects,
    cmd: Command | None,
) -> Receipt:
    """Append the entry and project its effects; ``cmd`` is None for system entries."""
    prev_hash = head.entry_hash if head else GENESIS_PREV_HASH
    entry, command_bytes, effects_bytes = make_entry(
        ctx.seq,
        prev_hash,
        format_timestamp(ctx.now),
        raw,
        signature,
        effects,
        command_bytes=cmd.signed if cmd else None,
    )
    entry_bytes = len(command_bytes) + len(effects_bytes)
    if entry_bytes > ctx.settings.entry_bytes_max:
        # Checked before anything is written: the transaction rolls back with the refusal.
        raise Refusal(
            "entry-too-large",
            f"the command would write an entry of {entry_bytes} bytes; at most "
            f"{ctx.settings.entry_bytes_max} bytes are allowed",
        )
    signer, nonce = (cmd.signer, cmd.nonce) if cmd else (None, None)
    repo.append(entry, (command_bytes, effects_bytes), signer, nonce, str(raw["type"]))
    apply_effects(repo.conn, raw, effects, entry.seq)
    return Receipt(entry.seq, entry.entry_hash, effects)


def _fitting(pieces: list[Certificate], room_bytes: int) -> list[Certificate]:
    """The first of ``pieces`` whose expiry fits in ``room_bytes`` of entry (each gives
    two rows: the ended piece and the one returned); always at least one."""
    used_bytes = 0
    for count, piece in enumerate(pieces):
        used_bytes += 2 * len(canonical_bytes(piece.wire()))
        if used_bytes > room_bytes and count > 0:
            return pieces[:count]
    return pieces


def _due_ids(view: dict[str, Any], now_text: str) -> list[str]:
    """Ids of pending pieces past their deadline in a certificate, tree or wallet view."""
    pieces = view.get("pieces") or view.get("certificates") or ([view] if "state" in view else [])
    return [
        piece["id"]
        for piece in pieces
        if piece["state"] == certificates.PENDING
        and piece["expires_at"] is not None
        and piece["expires_at"] <= now_text
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


def _authorise(repo: Repository, cmd: Command, roles: frozenset[str]) -> Member:
    """Inside the lock: the key is still current, the signer active, the role allowed."""
    found = repo.key_with_member(cmd.key_id)
    if found is None or found[0].member != cmd.signer:
        raise Refusal("bad-signature", BAD_SIGNATURE)
    key, signer = found
    return authorise_member(key, signer, roles)


def authorise_member(key: Key, signer: Member, roles: frozenset[str]) -> Member:
    """The checks shared by signed commands and signed reads."""
    if key.retired_seq is not None:
        raise Refusal("retired-key", f"key {key.key_id} was retired at seq {key.retired_seq}")
    if signer.status != members.ACTIVE:
        raise Refusal("member-suspended", f"member {signer.id} is suspended")
    if roles and not any(signer.has_role(role) for role in roles):
        raise Refusal("forbidden", f"this needs one of the roles {sorted(roles)}")
    return signer
