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
reported with the seq of the entry that last wrote it. The first problem found in the
chain is reported; the projections are compared only when the chain holds.

What needs only the entry itself — canonical texts, the hash, the signature under a
given key — is checked a few chunks ahead by a pool of processes on a large journal
(``ledger.verify_pool``); the walk above stays one, in seq order, and takes a worker's
signature verdict only for the key the journal gave the signer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.canonical import JsonError, load_canonical, parse_canonical
from ledger.chain import GENESIS_PREV_HASH, GENESIS_TYPE, SETTINGS_TYPE, Entry
from ledger.errors import Refusal
from ledger.keys import verify as verify_signature
from ledger.members import MemberStatus
from ledger.projections import PROJECTIONS, Replayed, Row, replay
from ledger.reexecute import first_mismatch
from ledger.repository import Repository, StoredEntry
from ledger.settings import Settings
from ledger.system import SYSTEM_ENTRIES, recorded_settings
from ledger.verify_pool import Checked, checked_rows


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
# ``ledger.commands.format_timestamp``'s form, in which text order is time order.
_RECORDED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def verify(
    repo: Repository,
    settings: Settings | None = None,
    *,
    chain: bool = True,
    reexecute: bool = True,
    workers: int | None = None,
) -> Report:
    """Audit the journal of ``repo``: the chain, signatures and projections (``chain``),
    then, when they hold, the re-execution of every command (``reexecute``,
    ``ledger.reexecute``) under ``settings`` — the deployment's, by default from the
    environment, which must be the service's. The chain's stateless checks run in
    ``workers`` processes (``ledger.verify_pool``; by default every CPU once the journal
    holds POOL_ENTRIES_MIN entries, else this process alone)."""
    report = Report()
    if chain:
        replayed: Replayed = {name: {} for name in PROJECTIONS}
        workers = workers or _workers(repo)
        keys = repo.public_keys() if workers > 1 else {}
        problem = _check_chain(repo.entry_rows(), keys, replayed, report, workers) or _check_head(
            repo, report
        )
        if problem is not None:
            report.problems.append(problem)
            return report
        report.problems.extend(_compare_projections(repo, replayed))
        if report.problems:
            return report
    else:
        head = repo.head()
        report.entries, report.head_hash = (
            (head.seq, head.entry_hash) if head else (0, GENESIS_PREV_HASH)
        )
    if reexecute:
        settings = settings or Settings.from_env()
        found = first_mismatch(repo.entries(), settings, repo.netting_plan_seqs())
        if found is not None:
            report.problems.append(Problem(*found))
    return report


def _workers(repo: Repository) -> int:
    head = repo.head()
    return (os.cpu_count() or 1) if head and head.seq >= POOL_ENTRIES_MIN else 1


def _check_head(repo: Repository, report: Report) -> Problem | None:
    """The head row writers lock must name the last entry (else appends would fork)."""
    head = repo.head()
    if head is None:
        return Problem(report.entries, "the ledger head row is missing") if report.entries else None
    if (head.seq, head.entry_hash) != (report.entries, report.head_hash):
        return Problem(
            max(head.seq, report.entries),
            f"the ledger head row names seq {head.seq}, but the last entry is seq {report.entries}",
        )
    return None


def _check_chain(
    rows: Iterable[Any], keys: Mapping[str, str], replayed: Replayed, report: Report, workers: int
) -> Problem | None:
    prev_hash, prev_time = GENESIS_PREV_HASH, ""
    recorded: dict[str, str] = {}  # the rule settings recorded so far
    checked_all = checked_rows(rows, keys, workers=workers)
    for position, (row, checked) in enumerate(checked_all, start=1):
        try:
            item, problem = _parsed(position, row, checked)
            if item is None:
                return problem
            problem = (
                problem
                or _check_entry(position, prev_hash, item, checked, replayed)
                or _check_time(position, prev_time, item.entry.recorded_at)
            )
            if problem is None:
                replay(replayed, item.entry.command, item.entry.effects, position)
                recorded = _settings_change(item, recorded, report)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # The row is well hashed but not of the shape this ledger writes: a forgery
            # (or our bug) either way, reported at its seq rather than crashing the audit.
            return Problem(position, f"entry is not of a shape the ledger writes ({exc!r})")
        if problem is not None:
            return problem
        prev_hash, prev_time = item.entry.entry_hash, item.entry.recorded_at
        report.entries = position
        report.head_hash = prev_hash
    return None


def _settings_change(item: StoredEntry, recorded: dict[str, str], report: Report) -> dict[str, str]:
    """The rule settings in force after ``item``; a change after the genesis entry's is
    added to ``report``."""
    command = item.entry.command
    if item.entry.signature is not None or command.get("type") not in (
        GENESIS_TYPE,
        SETTINGS_TYPE,
    ):
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
        report.settings_changes.append((item.entry.seq, changed))
    return values


def _parsed(position: int, row: Any, checked: Checked) -> tuple[StoredEntry | None, Problem | None]:
    """The row as an entry, and the first problem of its stored texts: not JSON, not
    objects, or not in the canonical form the writer stores (which the entry hash is
    computed from, as the writer computes it: ``ledger.chain.entry_bytes``)."""
    try:
        if checked.canonical:
            command, command_canonical = load_canonical(row.command), True
            effects, effects_canonical = load_canonical(row.effects), True
        else:  # find out what is wrong
            command, command_canonical = parse_canonical(row.command)
            effects, effects_canonical = parse_canonical(row.effects)
    except JsonError as exc:
        return None, Problem(position, f"stored command or effects is not valid JSON ({exc})")
    entry = Entry(
        row.seq, row.prev_hash, row.recorded_at, command, row.signature, effects, row.entry_hash
    )
    item = StoredEntry(entry, row.type, row.signer, row.nonce, row.command, row.effects)
    if not (isinstance(command, dict) and isinstance(effects, dict)):
        return item, Problem(position, "stored command or effects is not a JSON object")
    if not command_canonical:
        return item, Problem(position, "stored command text is not in canonical form")
    if not effects_canonical:
        return item, Problem(position, "stored effects text is not in canonical form")
    return item, None


def _check_time(position: int, prev_time: str, recorded_at: Any) -> Problem | None:
    """The entry's time is in the journal's form and not before its predecessor's."""
    if not isinstance(recorded_at, str) or not _RECORDED_AT.fullmatch(recorded_at):
        return Problem(position, f"recorded_at {recorded_at!r} is not a time the ledger writes")
    if recorded_at < prev_time:
        return Problem(
            position,
            f"recorded_at goes back in time: {recorded_at} is before seq {position - 1}'s "
            f"{prev_time}",
        )
    return None


def _check_entry(
    position: int, prev_hash: str, item: StoredEntry, checked: Checked, replayed: Replayed
) -> Problem | None:
    entry = item.entry
    if entry.seq != position:
        return Problem(position, f"entry has seq {entry.seq}, expected {position}")
    if entry.prev_hash != prev_hash:
        return Problem(position, "prev_hash does not match the previous entry's hash")
    if not checked.hash_ok:
        return Problem(position, "entry_hash does not match the entry's content")
    command = entry.command
    if (item.type, item.signer, item.nonce) != (
        command.get("type"),
        command.get("signer"),
        command.get("nonce"),
    ):
        return Problem(position, "type/signer/nonce columns disagree with the signed command")
    if position == 1 and (command.get("type") != GENESIS_TYPE or entry.signature is not None):
        return Problem(1, "the first entry is not an unsigned genesis entry")
    declared = SYSTEM_ENTRIES.get(str(command.get("type")))
    if declared is not None and entry.signature is None:  # written by the service itself
        try:
            why = declared.check(position, command, entry.effects, replayed)
        except Refusal as refusal:  # a body the service would not have written
            why = f"{command.get('type')} entry the service could not have written ({refusal})"
        return None if why is None else Problem(position, why)
    return _check_signature(position, item, checked, replayed)


def _check_signature(
    position: int, item: StoredEntry, checked: Checked, replayed: Replayed
) -> Problem | None:
    command = item.entry.command
    key = replayed["keys"].get((command.get("key_id"),))
    if key is None or key["member_id"] != command.get("signer"):
        return Problem(position, "signed with a key the signer did not hold")
    if key["retired_seq"] is not None and key["retired_seq"] < position:
        return Problem(position, f"signed with a key retired at seq {key['retired_seq']}")
    signer = replayed["members"].get((command.get("signer"),))
    if signer is None or signer["status"] != MemberStatus.ACTIVE:
        return Problem(position, "signed by a member that was not active")
    signature = item.entry.signature
    # The command text is its canonical form (checked): the bytes its signature covers.
    # A worker's verdict counts only if it verified under the key the journal gave.
    if checked.key is not None and checked.key == key["public_key"]:
        return None
    if signature is None or not verify_signature(
        key["public_key"], signature, item.command_text.encode()
    ):
        return Problem(position, "signature does not verify against the signer's key at that seq")
    return None


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
