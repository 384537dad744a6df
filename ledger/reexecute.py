"""Re-execution: every effect must follow from its command.

The chain and the signatures prove who asked for what and that nothing was rewritten
without every later hash being recomputed; the projections are compared with the
journal's effects. None of that shows that the effects themselves are what the command
*does*: whoever can rewrite the journal and its projections together could give a
recipient more than the transfer it signed sent. So the auditor runs every command
again, as the sequencer ran it, and compares.

The journal is replayed, entry by entry, into a scratch store (an in-memory SQLite
database with the schema): a sequencer :class:`~ledger.batch.Batch` over it is the
loaders' view of the state before each entry, exactly as the service's own batches
were. For each entry:

* a **signed** command is parsed from the stored command and signature, authorised
  (key current, signer active, role allowed) and run through its catalog type's loader
  and pure rule, in the context the service gave it: the entry's seq, its
  ``recorded_at`` as now, the SHA-256 of the signed bytes as ``command_hash``, and the
  rule settings the journal recorded before it (the genesis entry's, or the last
  ``ledger.settings`` entry's; the verifier's own only for a ledger begun before they
  were recorded, until its first ``ledger.settings`` entry). The effects it computes
  must equal the stored ones byte for byte (RFC 8785);
  a command the rule now refuses is a mismatch too;
* a **system** entry is re-derived by its own check (``ledger.system``), from the
  projections replayed before it;

and then the entry's stored effects are applied to the scratch store, so the next entry
sees what the service saw. The first entry whose effects do not follow is reported:
``seq N: effects do not follow from the command`` (with the refusal or the system
check's reason after a colon).

The scratch batch is written every ``REEXECUTE_BATCH_MAX`` entries and kept, with
all it has read and written, for ``REEXECUTE_KNOWN_MAX`` (nothing else writes the
scratch store, so what it knows stays true); a signed command's stored text is its
signed bytes, and its stored effects text the bytes computed effects must equal, so
neither is made again.

``netting.run`` is planned before the sequencer's lock, on a snapshot, and applied in
the lock to what did not change since. Its report records the seq of the snapshot's last
entry (``planned_on``): re-execution keeps the netting state as it was after that entry
(the seqs are read from the journal first, :func:`ledger.repository.Repository.
netting_plan_seqs`), plans the run on it and applies the plan at the run's own seq, as
the service did. It takes the solver's time from the record (how long a solver took is
no consequence of the command). A run recorded before ``planned_on`` is planned at its
own seq.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, create_engine

from ledger.batch import Batch
from ledger.canonical import canonical_bytes, sha256_hex
from ledger.catalog import CATALOG, parse
from ledger.chain import GENESIS_TYPE, SETTINGS_TYPE
from ledger.commands import Command
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.handlers import authorise, netting_plan_of, netting_state
from ledger.models import metadata
from ledger.netting_run import NettingState, Plan
from ledger.projections import PARTIES, PROJECTIONS, Replayed, replay
from ledger.repository import Repository, StoredEntry
from ledger.settings import Settings
from ledger.system import SYSTEM_ENTRIES, recorded_settings
from ledger.verify_pool import SHAPE

MISMATCH = "effects do not follow from the command"
# Entries a scratch batch holds before it is written: the sequencer's batches are
# smaller, but a larger one reads less back from the scratch store.
REEXECUTE_BATCH_MAX = 500
# Entries one scratch batch takes, written every REEXECUTE_BATCH_MAX, before a new one
# begins: what it has read and written stays known across its writes (nothing else
# writes the scratch store), so fewer reads go back to the store, in bounded memory.
REEXECUTE_KNOWN_MAX = 50_000
NETTING_TYPE = "netting.run"
# The projections system entries are checked against: all but who is party to what.
STATE = tuple(name for name in PROJECTIONS if name != PARTIES)
LEGACY_LEDGER = "0" * 64


def first_mismatch(
    entries: Iterable[StoredEntry], settings: Settings, plan_seqs: Mapping[int, int] = {}
) -> tuple[int, str] | None:
    """The seq and message of the first entry whose effects do not follow from its
    command (or its system check), replaying ``entries`` in seq order; None if all do.
    ``plan_seqs``: the seqs netting runs were planned on, with how many were (the state
    after each is kept until its last run)."""
    uses = Counter(plan_seqs)
    with _scratch() as conn, _collecting_young_objects() as freeze:
        repo = Repository(conn)
        batch = Batch(repo, None, derived=False)
        replayed: Replayed = {name: {} for name in STATE}
        planned_on: dict[int, NettingState] = {}
        current = settings  # the rule settings recorded last (none yet: ``settings``)
        held = 0
        for item in entries:
            try:
                why = _reexecute(batch, item, current, replayed, planned_on)
                if why is None and item.entry.signature is None:
                    current = _in_force(settings, current, item.entry.command)
            except (AttributeError, KeyError, TypeError, ValueError, AssertionError) as exc:
                why = f"{SHAPE} ({exc!r})"
            if why is not None:
                return item.entry.seq, f"{MISMATCH}: {why}" if why else MISMATCH
            replay(replayed, item.entry.command, item.entry.effects, item.entry.seq, STATE)
            if uses[item.entry.seq] > 0:
                planned_on[item.entry.seq] = netting_state(batch)
            _release(item, planned_on, uses)
            held += 1
            if held % REEXECUTE_BATCH_MAX == 0:
                batch.flush()
                freeze()  # what is alive now will most likely live to the end
            if held >= REEXECUTE_KNOWN_MAX:  # what the batch knows is bounded: begin anew
                batch.flush()
                batch, held = Batch(repo, batch.head, derived=False), 0
    return None


@contextmanager
def _collecting_young_objects() -> Iterator[Callable[[], None]]:
    """Give the block a ``freeze`` that lets the cycle collector look only at objects made
    after it. Re-execution builds up state that lives until its end (what the batch
    knows, the replayed projections); a full collection would walk all of it again and
    again (measured: about a sixth of the pass). On leaving, every object is handed back
    to the collector, so nothing is kept that is garbage. A process that froze objects
    of its own (``gc.freeze`` is the process's) is left alone: ``freeze`` does nothing."""
    if gc.get_freeze_count():
        yield lambda: None
        return
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


@contextmanager
def _scratch() -> Iterator[Connection]:
    """A connection to a fresh in-memory database with the schema, in one transaction."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            yield conn
    finally:
        engine.dispose()


def _reexecute(
    batch: Batch,
    item: StoredEntry,
    settings: Settings,
    replayed: Replayed,
    planned_on: Mapping[int, NettingState],
) -> str | None:
    """Decide one entry again and take its stored effects into ``batch``: None if they
    follow, else why not ("" when the computed effects simply differ)."""
    entry = item.entry
    now = datetime.fromisoformat(entry.recorded_at)
    stored = item.effects_text.encode()
    if entry.signature is None:
        declared = SYSTEM_ENTRIES.get(str(entry.command.get("type")))
        if declared is None:
            return "an unsigned entry of a type the service never writes"
        try:
            why = declared.check(entry.seq, entry.command, entry.effects, replayed)
        except Refusal as refusal:
            why = refusal.type
        if why is not None:
            return why
        ctx = Context(entry.seq, now, sha256_hex(item.command_text.encode()), settings)
        batch.append(ctx, entry.command, None, entry.effects, None, effects_bytes=stored)
        return None
    try:
        # The service hashed the bytes the signer signed: the stored command text.
        signed = item.command_text.encode()
        envelope = {"command": _with_ledger(entry.command), "signature": entry.signature}
        cmd = parse(envelope, signed=signed)
        kind = CATALOG[cmd.type]
        ctx = Context(entry.seq, now, sha256_hex(signed), settings)
        signer = authorise(batch, cmd, kind.roles)
        if cmd.type == NETTING_TYPE:
            planned = _netting_plan(batch, cmd, ctx, entry.effects, planned_on)
            effects = _with_solver_time(
                kind.run(batch, cmd, signer, ctx, planned=planned), entry.effects
            )
        else:
            effects = kind.run(batch, cmd, signer, ctx)
        if canonical_bytes(effects) != stored:
            return ""
        batch.append(ctx, entry.command, cmd.signature, entry.effects, cmd, effects_bytes=stored)
    except Refusal as refusal:  # the rule (or the entry's size) now refuses it
        return refusal.type
    return None


def _in_force(given: Settings, current: Settings, command: dict[str, Any]) -> Settings:
    """The settings in force after a system entry: those it records, if it records any
    (on ``given``'s operational ones), else ``current``."""
    if command.get("type") not in (GENESIS_TYPE, SETTINGS_TYPE):
        return current
    values = recorded_settings(command)
    return current if values is None else given.with_recorded(values)


def _with_ledger(command: dict[str, Any]) -> dict[str, Any]:
    """``command``, parsable: one signed before commands named their ledger gets a
    placeholder (its hash, and so the ids it made, stay those of the command as signed)."""
    return command if "ledger" in command else command | {"ledger": LEGACY_LEDGER}


def _release(item: StoredEntry, planned_on: dict[int, NettingState], uses: Counter[int]) -> None:
    """After a netting run: forget the state it was planned on, if no later run needs it."""
    if item.entry.command.get("type") != NETTING_TYPE:
        return
    report = item.entry.effects.get("netting")
    on_seq = report.get("planned_on") if isinstance(report, dict) else None
    if isinstance(on_seq, int) and uses[on_seq] > 0:
        uses[on_seq] -= 1
        if uses[on_seq] == 0:
            planned_on.pop(on_seq, None)


def _netting_plan(
    batch: Batch,
    cmd: Command,
    ctx: Context,
    stored: dict[str, Any],
    planned_on: Mapping[int, NettingState],
) -> Plan | None:
    """The plan of a netting run, made on the state it was planned on (None: plan in
    the lock's place, on the state of its own seq)."""
    report = stored.get("netting")
    on_seq = report.get("planned_on") if isinstance(report, dict) else None
    if not isinstance(on_seq, int) or on_seq not in planned_on:
        return None
    return netting_plan_of(planned_on[on_seq], on_seq, cmd, ctx)


def _with_solver_time(effects: Effects, stored: dict[str, Any]) -> Effects:
    """``effects`` of a netting run with the solver's time of the ``stored`` run (and
    without ``planned_on`` if the stored run, recorded before it was, has none)."""
    report, recorded = effects.get("netting"), stored.get("netting")
    if not (isinstance(report, dict) and isinstance(recorded, dict)):
        return effects
    report = report | {"solver_elapsed_ms": recorded.get("solver_elapsed_ms")}
    if "planned_on" not in recorded:
        report.pop("planned_on", None)
    return effects | {"netting": report}
