"""The auditor: recompute the chain and rebuild the projections from the journal alone.

``verify`` walks every entry in seq order and checks, for each:

* its position (seq 1, 2, 3 … with no gap) and its link (``prev_hash`` equals the
  previous ``entry_hash``; 64 zeros for seq 1);
* its hash (SHA-256 over the RFC 8785 bytes of the entry without ``entry_hash``);
* its time: ``recorded_at`` in the one form the journal writes, and never earlier than
  the previous entry's (the sequencer keeps the journal's time from going back, so a
  rule's "now" never does either);
* the indexed columns (type, signer, nonce) against the hashed command;
* its signature, against the key that was valid at that seq — known from the journal's
  own earlier entries, never from the (editable) projections — and that the signer was
  an active member then.

It then applies every entry's effects to an in-memory copy of the projections and
compares it with the stored tables, so a row edited behind the service's back is
reported with the seq of the entry that last wrote it; and last it runs every command
again (``ledger.reexecute``). Each pass runs only when the ones before it hold, and the
first problem a pass finds is reported.

What needs only the entry and the stored row before it — canonical texts, position,
link, hash, time, the indexed columns, the signature under a given key — is checked by a
pool of processes, chunk by chunk, on a large journal (``ledger.verify_pool``); the
walk above stays one, in seq order, and keeps only what needs the entries before:
which key was the signer's at that seq, and whether the signer was active. It takes a
worker's signature verdict only for the key the journal gave the signer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.canonical import load_canonical, parse_canonical
from ledger.chain import GENESIS_PREV_HASH, GENESIS_TYPE, SETTINGS_TYPE
from ledger.errors import Refusal
from ledger.keys import verify as verify_signature
from ledger.members import MemberStatus
from ledger.projections import PROJECTIONS, Replayed, Row, replay
from ledger.reexecute import first_mismatch
from ledger.repository import Repository
from ledger.settings import Settings
from ledger.system import SYSTEM_ENTRIES, SystemEntry, recorded_settings
from ledger.verify_pool import KEY_COLLECTIONS, SHAPE, Fact, Texts, checked_chunks


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.message}"


@dataclass
class Report:
    entries: int = 0
    head_hash: str = GENESIS_PREV_HASH
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # each pass's, by name
    # Every change of the rule settings the journal records (no signature vouches for
    # a ``ledger.settings`` entry: an auditor holds these against the deployment's own
    # records of what it changed, and when): (seq, {name: (before, after)}).
    settings_changes: list[tuple[int, dict[str, tuple[str | None, str]]]] = field(
        default_factory=list
    )

    @property
    def ok(self) -> bool:
        return not self.problems

    def settings_lines(self) -> list[str]:
        """The settings changes, one line each, for a person."""
        return [
            f"seq {seq}: rule settings changed: "
            + ", ".join(f"{name} {before} -> {after}" for name, (before, after) in changed.items())
            for seq, changed in self.settings_changes
        ]

    def wire(self) -> dict[str, Any]:
        first = self.problems[0] if self.problems else None
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_bad_seq": first.seq if first else None,
            "problems": [{"seq": p.seq, "message": p.message} for p in self.problems],
            "settings_changes": [
                {"seq": seq, "changed": {name: list(pair) for name, pair in changed.items()}}
                for seq, changed in self.settings_changes
            ],
        }


# A smaller journal is checked in one process: starting workers would cost more.
POOL_ENTRIES_MIN = 20_000


def verify(
    repo: Repository,
    settings: Settings | None = None,
    *,
    chain: bool = True,
    projections: bool | None = None,
    reexecute: bool = True,
    workers: int | None = None,
) -> Report:
    """Audit the journal of ``repo`` in up to three passes, each run only when the ones
    before it hold:

    * ``chain``: positions, links, hashes, times, columns and signatures, under the key
      the journal gave each signer (its stateless checks in ``workers`` processes,
      ``ledger.verify_pool``; by default every CPU once the journal holds
      POOL_ENTRIES_MIN entries, else this process alone); a system entry that writes
      members or keys (the genesis entry alone may) is checked here already, as the
      keys the walk follows must all be vouched for;
    * ``projections`` (with ``chain`` by default): every entry's effects applied to an
      in-memory copy of the projections, each system entry re-derived from the state
      before it, and the copy compared with the stored tables;
    * ``reexecute``: every command run again (``ledger.reexecute``) under ``settings`` —
      the deployment's, by default from the environment, which must be the service's.

    ``Report.seconds`` says how long each pass took."""
    report = Report()
    head = repo.head()
    report.entries, report.head_hash = (
        (head.seq, head.entry_hash) if head else (0, GENESIS_PREV_HASH)
    )
    if chain:
        started = time.perf_counter()
        workers = workers or _workers(head)
        keys = repo.public_keys() if workers > 1 else {}
        report.entries, report.head_hash = 0, GENESIS_PREV_HASH
        problem = _check_chain(repo.entry_texts(), keys, report, workers) or _check_head(
            head, report
        )
        report.seconds["chain"] = time.perf_counter() - started
        if problem is not None:
            report.problems.append(problem)
            return report
    if chain if projections is None else projections:
        started = time.perf_counter()
        # Texts the chain pass found canonical parse on the fast path; others are checked.
        load = load_canonical if chain else _parse_checked
        report.problems.extend(_check_projections(repo, report, load))
        report.seconds["projections"] = time.perf_counter() - started
        if report.problems:
            return report
    if reexecute:
        started = time.perf_counter()
        settings = settings or Settings.from_env()
        found = first_mismatch(repo.entries(), settings, repo.netting_plan_seqs())
        if found is not None:
            report.problems.append(Problem(*found))
        report.seconds["reexecute"] = time.perf_counter() - started
    return report


def _workers(head: Any) -> int:
    return (os.cpu_count() or 1) if head and head.seq >= POOL_ENTRIES_MIN else 1


def _check_head(head: Any, report: Report) -> Problem | None:
    """The head row writers lock must name the last entry (else appends would fork)."""
    if head is None:
        return Problem(report.entries, "the ledger head row is missing") if report.entries else None
    if (head.seq, head.entry_hash) != (report.entries, report.head_hash):
        return Problem(
            max(head.seq, report.entries),
            f"the ledger head row names seq {head.seq}, but the last entry is seq {report.entries}",
        )
    return None


def _check_chain(
    rows: Iterable[Texts], keys: Mapping[str, str], report: Report, workers: int
) -> Problem | None:
    """The chain pass: each chunk's own checks (``ledger.verify_pool``), then, in seq
    order, whether each signer held the key it signed with and was active."""
    held: Replayed = {name: {} for name in KEY_COLLECTIONS}  # the journal's members and keys
    for first, chunk_rows, chunk in checked_chunks(rows, keys, workers=workers):
        for fact in chunk.facts:
            row = chunk_rows[fact.position - first]
            try:
                problem = _check_keys(fact, row, held)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                problem = Problem(fact.position, f"{SHAPE} ({exc!r})")
            if problem is not None:
                return problem
        if chunk.problem is not None:
            return Problem(*chunk.problem)
        last = chunk_rows[-1]
        report.entries, report.head_hash = report.entries + len(chunk_rows), last[6]
    return None


def _check_keys(fact: Fact, row: Texts, held: Replayed) -> Problem | None:
    """Whether the signer held the key it signed with, and was active (signed entries);
    whether the service could have written what it did to members and keys (system
    entries: the genesis alone does, checked here, as the chain pass trusts no entry's
    keys that no signature and no check vouches for); then take its keys into ``held``."""
    if not fact.system:
        problem = _check_signature(fact, row, held)
        if problem is not None:
            return problem
    elif fact.keys_effects is not None:
        command, effects = load_canonical(row[3]), load_canonical(row[5])
        declared = SYSTEM_ENTRIES[str(command["type"])]  # the worker knew the type
        before = {name: held.get(name, {}) for name in PROJECTIONS}
        why = _system_check(declared, fact.position, command, effects, before)
        if why is not None:
            return Problem(fact.position, why)
    if fact.keys_effects is not None:
        replay(held, {}, fact.keys_effects, fact.position, KEY_COLLECTIONS)
    return None


def _check_signature(fact: Fact, row: Texts, held: Replayed) -> Problem | None:
    position = fact.position
    key = held["keys"].get((fact.key_id,))
    if key is None or key["member_id"] != fact.signer:
        return Problem(position, "signed with a key the signer did not hold")
    if key["retired_seq"] is not None and key["retired_seq"] < position:
        return Problem(position, f"signed with a key retired at seq {key['retired_seq']}")
    signer = held["members"].get((fact.signer,))
    if signer is None or signer["status"] != MemberStatus.ACTIVE:
        return Problem(position, "signed by a member that was not active")
    # The command text is its canonical form (checked): the bytes its signature covers.
    # A worker's verdict counts only if it verified under the key the journal gave.
    if fact.key is not None and fact.key == key["public_key"]:
        return None
    signature = row[4]
    if signature is None or not verify_signature(key["public_key"], signature, row[3].encode()):
        return Problem(position, "signature does not verify against the signer's key at that seq")
    return None


def _parse_checked(text: str) -> Any:
    """``text`` parsed as the journal must hold it (RFC 8785 JSON, no float, no
    duplicate key), else ValueError."""
    value, canonical = parse_canonical(text)
    if not canonical:
        raise ValueError("a stored text not in canonical form")
    return value


def _check_projections(
    repo: Repository, report: Report, load: Callable[[str], Any] = load_canonical
) -> list[Problem]:
    """The projection pass over a chain that holds: replay every entry's effects, check
    each system entry against the state before it, then compare with the stored tables."""
    replayed: Replayed = {name: {} for name in PROJECTIONS}
    recorded: dict[str, str] = {}  # the rule settings recorded so far
    for position, (_, _, _, command_text, signature, effects_text, *_) in enumerate(
        repo.entry_texts(), start=1
    ):
        try:
            command, effects = load(command_text), load(effects_text)
            declared = SYSTEM_ENTRIES.get(str(command.get("type")))
            if declared is not None and signature is None:  # written by the service
                why = _system_check(declared, position, command, effects, replayed)
                if why is not None:
                    return [Problem(position, why)]
                recorded = _settings_change(position, command, recorded, report)
            replay(replayed, command, effects, position)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return [Problem(position, f"{SHAPE} ({exc!r})")]
    return _compare_projections(repo, replayed)


def _system_check(
    declared: SystemEntry,
    seq: int,
    command: dict[str, Any],
    effects: dict[str, Any],
    state: Replayed,
) -> str | None:
    """Why the service could not have written this system entry on ``state``, or None."""
    try:
        why: str | None = declared.check(seq, command, effects, state)
    except Refusal as refusal:  # a body the service would not have written
        why = f"{command.get('type')} entry the service could not have written ({refusal})"
    return why


def _settings_change(
    seq: int, command: dict[str, Any], recorded: dict[str, str], report: Report
) -> dict[str, str]:
    """The rule settings in force after the system entry ``command``; a change after
    the genesis entry's is added to ``report``."""
    if command.get("type") not in (GENESIS_TYPE, SETTINGS_TYPE):
        return recorded
    values = recorded_settings(command)
    if values is None:
        return recorded
    if command.get("type") == SETTINGS_TYPE:
        changed = {
            name: (recorded.get(name), value)
            for name, value in sorted(values.items())
            if recorded.get(name) != value
        }
        report.settings_changes.append((seq, changed))
    return values


def _compare_projections(repo: Repository, replayed: Replayed) -> list[Problem]:
    problems: list[Problem] = []
    for collection, projection in PROJECTIONS.items():
        expected = replayed[collection]
        stored = {projection.key_of(row): row for row in repo.table_rows(projection.table)}
        if stored == expected:  # the common case, decided in C
            continue
        differing = [k for k in expected.keys() | stored.keys() if expected.get(k) != stored.get(k)]
        for key in sorted(differing, key=str):
            want, have = expected.get(key), stored.get(key)
            label = "/".join(str(part) for part in key)
            if want is None:
                seq = int(have.get("updated_seq") or have.get("seq") or 0) if have else 0
                problems.append(Problem(seq, f"{collection} row {label} is not in the journal"))
            elif have is None:
                problems.append(Problem(_seq_of(want), f"{collection} row {label} is missing"))
            else:
                columns = ", ".join(sorted(c for c in want if want[c] != have.get(c)))
                problems.append(
                    Problem(
                        _seq_of(want),
                        f"{collection} row {label} differs from the journal in {columns}",
                    )
                )
    problems.sort(key=lambda p: p.seq)
    return problems


def _seq_of(row: Row) -> int:
    return int(row.get("updated_seq") or row.get("seq") or 0)
