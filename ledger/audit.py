"""What a member runs: checks of entries, proofs and checkpoints, with no database.

A member holds, for each entry it is a party to, the entry as hashed (``GET
/v1/ledger/entries/{seq}``), an inclusion proof, and a signed checkpoint. This module
checks them with nothing but the bytes it is given, so the same functions serve
``dcc audit`` (which fetches them, ``api.audit``) and ``dcc verify-evidence`` (which
reads them from a file, offline):

* :func:`entry_leaf` — the entry's hash recomputed from its JSON (SHA-256 of the
  RFC 8785 bytes without ``entry_hash``) and its Merkle leaf ``SHA-256(0x00 ‖ bytes)``;
* :func:`check_signature` — the command's signature, against a public key whose id
  (SHA-256 of the key, truncated) must be the ``key_id`` the command names;
* :func:`check_inclusion` — the leaf in the tree whose root a checkpoint signs;
* :func:`compare_checkpoints` — a newer checkpoint against one seen before: a smaller
  tree is a **rollback**, the same size with another root, or a consistency proof that
  fails, a **fork**; the two signed notes are the evidence;
* :func:`verify_evidence` — a whole evidence bundle (``GET
  /v1/certificates/{id}/evidence``), against the operator's public key alone.

Each check returns a :class:`Finding` (or None when it holds); none raises on bad input.

    >>> entry = {"seq": 1, "prev_hash": "0" * 64, "recorded_at": "t",
    ...          "command": {"type": "ledger.genesis"}, "signature": None, "effects": {}}
    >>> entry["entry_hash"] = hashlib.sha256(canonical_bytes(entry)).hexdigest()
    >>> leaf, finding = entry_leaf(entry)
    >>> finding is None and len(leaf) == 32
    True
    >>> entry_leaf(entry | {"seq": 2})[1].kind
    'entry'
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.checkpoint import (
    Checkpoint,
    NoteError,
    b64decode_exact,
    open_checkpoint,
    parse_verifier_key,
)
from ledger.commands import signed_bytes
from ledger.keys import KeyError_, decode_public_key, key_id_of, verify
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion

EVIDENCE_FORMAT = "dcc-evidence/1"
HASHED_FIELDS = frozenset({"seq", "prev_hash", "recorded_at", "command", "signature", "effects"})
LOG_KEY_TYPE = "ledger.log_key"


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold: its kind (``entry``, ``signature``, ``inclusion``,
    ``checkpoint``, ``log-key``, ``rollback``, ``fork``, ``bundle``), the entry it is
    about, and the signed notes that prove it (for a rollback or a fork)."""

    kind: str
    message: str
    seq: int | None = None
    evidence: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        where = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.kind}{where}: {self.message}"


def b64decode(text: Any) -> bytes | None:
    """Standard base64, strictly and in its one spelling; None if ``text`` is not that."""
    if not isinstance(text, str):
        return None
    try:
        return b64decode_exact(text)
    except (binascii.Error, ValueError):
        return None


# -- entries ----------------------------------------------------------------------------


def entry_leaf(entry: Mapping[str, Any]) -> tuple[bytes, Finding | None]:
    """The Merkle leaf of ``entry`` (its hashed fields), and a finding when its
    ``entry_hash`` is not the SHA-256 of those fields' RFC 8785 bytes."""
    seq = entry.get("seq") if isinstance(entry.get("seq"), int) else None
    hashed = {k: v for k, v in entry.items() if k != "entry_hash"}
    if set(hashed) != HASHED_FIELDS:
        return b"", Finding("entry", f"fields {sorted(hashed)} are not an entry's", seq)
    try:
        data = canonical_bytes(hashed)
    except (TypeError, ValueError) as exc:
        return b"", Finding("entry", f"not canonical JSON ({exc})", seq)
    if hashlib.sha256(data).hexdigest() != entry.get("entry_hash"):
        return leaf_hash(data), Finding("entry", "entry_hash is not the hash of the entry", seq)
    return leaf_hash(data), None


def check_signature(entry: Mapping[str, Any], public_key: str) -> Finding | None:
    """The command's signature verifies with ``public_key``, whose id is the command's
    ``key_id`` (so the key is the one the signer named, whoever handed it over)."""
    command, seq = entry.get("command"), entry.get("seq")
    if not isinstance(command, dict) or not isinstance(entry.get("signature"), str):
        return Finding("signature", "the entry carries no signed command", seq)
    try:
        named = key_id_of(public_key) == command.get("key_id")
    except (KeyError_, ValueError):
        named = False
    if not named:
        return Finding("signature", "the key given is not the one the command names", seq)
    if not verify(public_key, entry["signature"], signed_bytes(command)):
        return Finding("signature", "the signature does not verify", seq)
    return None


def check_inclusion(
    seq: int, leaf: bytes, proof: Sequence[Any], checkpoint: Checkpoint
) -> Finding | None:
    """Entry ``seq`` (leaf ``seq - 1``) is in the tree ``checkpoint`` signs."""
    hashes = [b64decode(p) for p in proof] if isinstance(proof, list) else [None]
    if any(h is None for h in hashes):
        return Finding("inclusion", "the proof is not a list of base64 hashes", seq)
    path = [h for h in hashes if h is not None]
    if not verify_inclusion(leaf, seq - 1, checkpoint.size, path, checkpoint.root_hash):
        return Finding("inclusion", f"not in the tree of {checkpoint.size} entries", seq)
    return None


# -- checkpoints ------------------------------------------------------------------------


def open_with(note: str, verifier: str) -> Checkpoint:
    """The checkpoint ``note`` signs, opened with the verifier key ``verifier``; raises
    :class:`NoteError`."""
    name, raw = parse_verifier_key(verifier)
    return open_checkpoint(note, name, raw)


def compare_checkpoints(
    seen: Checkpoint,
    seen_note: str,
    new: Checkpoint,
    new_note: str,
    proof: Sequence[bytes] | None,
) -> Finding | None:
    """``new`` extends ``seen``: not smaller (else a rollback), not the same size with
    another root, and proved consistent by ``proof`` when larger (else a fork)."""
    notes = (seen_note, new_note)
    if new.size < seen.size:
        message = f"the log served a tree of {new.size} entries after one of {seen.size}"
        return Finding("rollback", message, evidence=notes)
    if new.size == seen.size and new.root_hash != seen.root_hash:
        message = f"two checkpoints of {new.size} entries with different roots"
        return Finding("fork", message, evidence=notes)
    if new.size > seen.size and not verify_consistency(
        seen.size, new.size, seen.root_hash, new.root_hash, proof or []
    ):
        message = f"the tree of {new.size} entries does not extend the one of {seen.size}"
        return Finding("fork", message, evidence=notes)
    return None


# -- the evidence bundle ----------------------------------------------------------------


@dataclass
class EvidenceReport:
    findings: list[Finding] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_evidence(bundle: Any, operator_key: str) -> EvidenceReport:
    """Check an evidence bundle offline: the log key was published by a ``ledger.log_key``
    entry the operator (``operator_key``) signed, the checkpoint is signed by that key,
    and every entry is well hashed, signed by the key it names and in the checkpoint's
    tree. The lineage is described once everything holds."""
    report = EvidenceReport()
    try:
        checkpoint = _check_log_key(bundle, operator_key, report)
        if checkpoint is not None:
            for item in bundle["entries"]:
                _check_item(item, checkpoint, report)
            _check_lineage(bundle, report)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        report.findings.append(Finding("bundle", f"not an evidence bundle ({exc!r})"))
    if report.ok:
        report.lineage = describe_lineage(bundle)
    return report


def _check_log_key(bundle: Any, operator_key: str, report: EvidenceReport) -> Checkpoint | None:
    if bundle.get("format") != EVIDENCE_FORMAT:
        report.findings.append(Finding("bundle", f"format is not {EVIDENCE_FORMAT}"))
        return None
    published = bundle["log_key_entry"]
    before = len(report.findings)
    _check_item(published, None, report, signer_key=operator_key)
    command = published["entry"]["command"]
    if command.get("type") != LOG_KEY_TYPE:
        report.findings.append(Finding("log-key", "the log key entry is not a ledger.log_key"))
    log_key = bundle["log_key"]
    body = command.get("body", {})
    if (body.get("name"), body.get("public_key")) != (log_key["name"], log_key["public_key"]):
        report.findings.append(Finding("log-key", "the bundle's log key is not the one published"))
    if len(report.findings) > before:
        return None
    try:
        verifier = log_key["verifier_key"]
        name, raw = parse_verifier_key(verifier)
        if (name, raw) != (log_key["name"], decode_public_key(log_key["public_key"])):
            raise NoteError("the verifier key is not the published key")
        checkpoint = open_with(bundle["checkpoint"]["note"], verifier)
    except (NoteError, KeyError_) as exc:
        report.findings.append(Finding("checkpoint", str(exc)))
        return None
    stated = bundle["checkpoint"]
    if (stated["size"], b64decode(stated["root_hash"])) != (checkpoint.size, checkpoint.root_hash):
        report.findings.append(Finding("checkpoint", "size or root_hash is not what it signs"))
        return None
    _check_item(published, checkpoint, report, signer_key=operator_key)
    return checkpoint


def _check_item(
    item: Mapping[str, Any],
    checkpoint: Checkpoint | None,
    report: EvidenceReport,
    *,
    signer_key: str | None = None,
) -> None:
    """One bundled entry: hash, signature (by ``signer_key``, else the key it carries),
    and inclusion in ``checkpoint`` when given."""
    entry = item["entry"]
    leaf, finding = entry_leaf(entry)
    seq = entry.get("seq")
    if finding is None and entry.get("signature") is not None:
        key = signer_key or item.get("signer_key")
        finding = (
            check_signature(entry, key)
            if isinstance(key, str)
            else Finding("signature", "the bundle carries no key for this signed entry", seq)
        )
    if finding is None and checkpoint is not None:
        finding = check_inclusion(seq, leaf, item["proof"], checkpoint)
    if finding is not None and finding not in report.findings:
        report.findings.append(finding)


def _check_lineage(bundle: Mapping[str, Any], report: EvidenceReport) -> None:
    """The pieces the bundle names are pieces its entries wrote, the certificate last."""
    written = {
        piece["id"]
        for item in bundle["entries"]
        for piece in item["entry"]["effects"].get("certificates", [])
    }
    lineage = bundle["lineage"]
    if not lineage or lineage[-1] != bundle["certificate"] or not set(lineage) <= written:
        report.findings.append(Finding("bundle", "the lineage names pieces no entry wrote"))


def describe_lineage(bundle: Mapping[str, Any]) -> list[str]:
    """One line per entry, and one per piece on the lineage it wrote: who issued or
    sent what to whom, for how much, on what trade."""
    lines = [f"certificate {bundle['certificate']}, in the tree of {_size(bundle)} entries"]
    on_path = set(bundle.get("lineage", []))
    for item in bundle["entries"]:
        entry = item["entry"]
        command = entry["command"]
        who = command.get("signer") or "the service"
        lines.append(f"seq {entry['seq']} {entry['recorded_at']} {command['type']} by {who}")
        for piece in entry["effects"].get("certificates", []):
            if piece["id"] not in on_path:
                continue
            sender = piece.get("sender") or piece["issuer"]
            trade = piece.get("trade", {})
            invoices = ", ".join(str(i.get("no")) for i in trade.get("invoices", []))
            lines.append(
                f"  piece {piece['id']} ({piece['state']}): {piece['amount']} from {sender} "
                f"to {piece['holder']}, issuer {piece['issuer']}, maturity "
                f"{piece['maturity']}; contract {trade.get('contract_no')}, invoices {invoices}"
            )
    return lines


def _size(bundle: Mapping[str, Any]) -> Any:
    return bundle["checkpoint"].get("size")
