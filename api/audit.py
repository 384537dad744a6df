"""``dcc audit``: a member checks its own entries and the log's history, over HTTP.

    >>> from api.audit import audit
    >>> report = audit(DccClient(http, member_id, key), Path("~/.dcc-audit").expanduser())
    >>> report.ok, [str(f) for f in report.findings]

One run, as the member (signed reads only):

1. The latest checkpoint. Its log key is pinned on first use (TOFU) in the state: a
   member cannot read the operator's ``ledger.log_key`` entries, so it cannot see a
   rotation; a checkpoint signed by any other key is reported (``log-key``) with both
   verifier keys, until the member re-pins after checking out of band (delete
   ``state.json``'s ``verifier_key``).
2. Against the last checkpoint this member saw (kept in the state): a smaller tree is a
   ``rollback``; the same size with another root, a consistency proof that fails, or the
   server's own checkpoint of the seen size with another root, a ``fork``. Both signed
   notes are printed as the evidence.
3. Every entry of the member's history not checked before and within the checkpoint:
   its hash (recomputed), its signature, and its inclusion in the checkpoint's tree.
   The signer's key is any key whose id is the command's ``key_id`` (so it is the key
   named, whoever supplied it): from the keys the member's own entries carry
   (admissions, rotations, added keys) and, for the others, from the entry's own key
   (``GET /v1/ledger/entries/{seq}/key``: the key that signed it, even one since
   retired). A signature whose key the server does not give is counted as unchecked,
   not as failed; whether the key was the signer's and unretired at that seq is the
   operator's audit (``GET /v1/ledger/verify``).

Entries checked once stay proved: the next run's consistency proof shows the tree still
holds them, so only newer entries are fetched. The state is written only when every
check held, so a finding is reported again on the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from api.client import DccClient
from ledger.audit import (
    Finding,
    b64decode,
    check_inclusion,
    check_signature,
    compare_checkpoints,
    entry_leaf,
    open_with,
)
from ledger.checkpoint import Checkpoint, NoteError
from ledger.keys import key_id_of

STATE_FILE = "state.json"
HISTORY_PAGE = 100


@dataclass
class AuditReport:
    checkpoint_size: int = 0
    entries_checked: int = 0
    unchecked_signatures: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        lines = [
            f"checkpoint of {self.checkpoint_size} entries; "
            f"{self.entries_checked} new entries checked"
        ]
        if self.unchecked_signatures:
            seqs = ", ".join(map(str, self.unchecked_signatures))
            lines.append(f"signatures by keys no member can see (unchecked): seq {seqs}")
        for finding in self.findings:
            lines.append(f"FAIL {finding}")
            for note in finding.evidence:
                lines.extend(["--- signed checkpoint ---", note.rstrip("\n")])
        lines.append("ok" if self.ok else f"{len(self.findings)} problem(s)")
        return lines


def load_state(state_dir: Path) -> dict[str, Any]:
    path = state_dir / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = state_dir / f"{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    temporary.replace(state_dir / STATE_FILE)


def _json(client: DccClient, path: str) -> Any:
    response = client.get(path)
    response.raise_for_status()
    return response.json()


def audit(client: DccClient, state_dir: Path) -> AuditReport:
    """Audit ``client``'s member against the server and the state in ``state_dir``."""
    report, state = AuditReport(), load_state(state_dir)
    view = _json(client, "/v1/ledger/checkpoint")
    verifier = state.get("verifier_key") or view["log_key"]["verifier_key"]  # TOFU
    checkpoint = _open_latest(view, verifier, report)
    if checkpoint is None:
        return report
    report.checkpoint_size = checkpoint.size
    seen = state.get("checkpoint")
    if seen is not None:
        report.findings.extend(_check_growth(client, seen, checkpoint, view["note"]))
    if report.findings:
        return report
    checked = int(state.get("checked_seq", 0))
    if checked > checkpoint.size:  # only with a rollback, reported above
        checked = 0
    _check_entries(client, checked, checkpoint, report)
    if report.ok:
        save_state(
            state_dir,
            {
                "member": client.member,
                "ledger": client.ledger,
                "verifier_key": verifier,
                "checkpoint": {"note": view["note"], "verifier_key": verifier},
                "checked_seq": checkpoint.size,
            },
        )
    return report


def _open_latest(view: dict[str, Any], pinned: str, report: AuditReport) -> Checkpoint | None:
    served = view["log_key"]["verifier_key"]
    if served != pinned:
        message = f"the checkpoint is signed by {served}, not the pinned {pinned}"
        report.findings.append(Finding("log-key", message, evidence=(view["note"],)))
        return None
    try:
        checkpoint = open_with(view["note"], pinned)
    except NoteError as exc:
        report.findings.append(Finding("checkpoint", str(exc), evidence=(view["note"],)))
        return None
    if (checkpoint.size, checkpoint.root_hash) != (view["size"], b64decode(view["root_hash"])):
        report.findings.append(Finding("checkpoint", "the answer is not what its note signs"))
        return None
    return checkpoint


def _check_growth(
    client: DccClient, seen: dict[str, Any], new: Checkpoint, new_note: str
) -> list[Finding]:
    old = open_with(seen["note"], seen["verifier_key"])  # our own file: checked when kept
    proof: list[bytes] | None = None
    if new.size > old.size:
        got = _json(client, f"/v1/ledger/proofs/consistency?from={old.size}&to={new.size}")
        proof = [b64decode(p) or b"" for p in got["proof"]]
    finding = compare_checkpoints(old, seen["note"], new, new_note, proof)
    if finding is not None or new.size == old.size:
        return [finding] if finding else []
    # The server's own checkpoint of the size seen: another root is a second tree head.
    response = client.get(f"/v1/ledger/checkpoints/{old.size}")
    if response.status_code == 200:
        kept = response.json()
        try:
            other = open_with(kept["note"], kept["log_key"]["verifier_key"])
        except NoteError:
            return []  # not signed by a log key: no evidence of anything
        finding = compare_checkpoints(old, seen["note"], other, kept["note"], None)
    return [finding] if finding else []


def _history_seqs(client: DccClient, after: int, size: int) -> list[int]:
    """The seqs of the member's entries in ``(after, size]``, oldest first."""
    seqs: list[int] = []
    cursor: str | None = None
    member = quote(client.member)
    while True:
        path = f"/v1/wallets/{member}/history?limit={HISTORY_PAGE}"
        page = _json(client, path + (f"&cursor={quote(cursor)}" if cursor else ""))
        for item in page["entries"]:
            if item["seq"] <= after:
                return sorted(seqs)
            if item["seq"] <= size:
                seqs.append(item["seq"])
        cursor = page["next_cursor"]
        if not cursor:
            return sorted(seqs)


def _check_entries(
    client: DccClient, after: int, checkpoint: Checkpoint, report: AuditReport
) -> None:
    keys: dict[str, str] = {}  # key id -> public key, every key the member has seen
    for seq in _history_seqs(client, after, checkpoint.size):
        entry = _json(client, f"/v1/ledger/entries/{seq}")
        report.entries_checked += 1
        leaf, finding = entry_leaf(entry)
        if finding is None and entry.get("seq") != seq:
            finding = Finding("entry", f"asked for seq {seq}, got {entry.get('seq')}", seq)
        if finding is None:
            _learn_keys(entry, keys)
            finding = _signature(client, entry, keys, report)
        if finding is None:
            got = _json(client, f"/v1/ledger/proofs/inclusion?seq={seq}&size={checkpoint.size}")
            finding = check_inclusion(seq, leaf, got["proof"], checkpoint)
        if finding is not None:
            report.findings.append(finding)


def _learn_keys(entry: dict[str, Any], keys: dict[str, str]) -> None:
    effects = entry.get("effects", {})
    for row in [*effects.get("keys", []), *effects.get("members", [])]:
        if isinstance(row.get("public_key"), str):
            keys[key_id_of(row["public_key"])] = row["public_key"]


def _signature(
    client: DccClient, entry: dict[str, Any], keys: dict[str, str], report: AuditReport
) -> Finding | None:
    if entry.get("signature") is None:
        return None  # written by the service itself: the operator's audit checks its rule
    command = entry["command"]
    key_id = command.get("key_id")
    if key_id not in keys and command.get("signer"):
        # The key that signed it, even one since retired or another of the signer's
        # keys; ``check_signature`` holds it to the key id the command names.
        response = client.get(f"/v1/ledger/entries/{entry['seq']}/key")
        if response.status_code == 200:
            public = response.json()["public_key"]
            keys[key_id_of(public)] = public
    if key_id not in keys:
        report.unchecked_signatures.append(entry["seq"])
        return None
    return check_signature(entry, keys[key_id])
