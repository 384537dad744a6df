"""Proofs and checkpoints: what a member checks its entries and the log's growth with.

The journal's Merkle tree (``ledger.merkle``) is stored as its perfect subtrees in
``merkle_nodes``, written with the entries (``ledger.batch``). Leaf ``i`` is entry
``seq = i + 1`` and its hash is ``SHA-256(0x00 ‖ E)``, where ``E`` is the RFC 8785 form
of the entry without ``entry_hash`` — the very bytes whose SHA-256 is the entry's hash.

Every so often (``checkpoint_entries`` entries or ``checkpoint_interval_s`` seconds) the
service signs the tree head as a C2SP checkpoint with its log key (``ledger.checkpoint``,
``ledger.log_keys``) and keeps it in ``checkpoints``, so a client can fetch any past one
and ask for a consistency proof between two it holds.

Everything here reads a :class:`~ledger.repository.Repository` and returns wire shapes;
refusals are named (``not-found``, ``validation``, ``unavailable``). A proof is at most
three queries: the head, then every node it needs in one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.dialects import postgresql, sqlite

from ledger import models
from ledger.checkpoint import Checkpoint, NoteError, open_checkpoint, sign_note, verifier_key
from ledger.errors import Refusal
from ledger.keys import decode_public_key, key_id_of, load_private_key_pem, public_key_b64
from ledger.log_keys import LogKey
from ledger.merkle import (
    Node,
    consistency_ranges,
    inclusion_ranges,
    proof_nodes,
    range_hash,
    range_nodes,
    tree_hash,
)
from ledger.repository import Repository
from ledger.settings import Settings


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class LogSigner:
    """The published log key with its private half, as this server holds it."""

    key: LogKey
    private: Ed25519PrivateKey


def load_log_private_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The private log key in ``log_key_file`` (None when there is no such file)."""
    path = Path(settings.log_key_file)
    if not path.is_file():
        return None
    return load_private_key_pem(path.read_bytes())


def signer_for(repo: Repository, private: Ed25519PrivateKey | None) -> LogSigner:
    """The signer of checkpoints: the published, unretired log key, if this server holds
    its private half; else ``unavailable`` (checkpoints cannot be signed, nothing else
    is affected)."""
    if private is None:
        raise Refusal("unavailable", "this server holds no log key (DCC_LOG_KEY_FILE)")
    active = repo.active_log_key()
    if active is None:
        raise Refusal("unavailable", "no log key is published yet (dcc log-key init)")
    if active.key_id != key_id_of(public_key_b64(private.public_key())):
        raise Refusal("unavailable", "this server's log key is not the published one")
    return LogSigner(active, private)


def log_key_wire(key: LogKey) -> dict[str, Any]:
    raw = decode_public_key(key.public_key)
    return {
        "name": key.name,
        "key_id": key.key_id,
        "public_key": key.public_key,
        "verifier_key": verifier_key(key.name, raw),
    }


def tree_root(repo: Repository, size: int) -> bytes:
    return tree_hash(size, repo.merkle_nodes(range_nodes(0, size) if size else []))


def head_size(repo: Repository) -> int:
    head = repo.head()
    return head.seq if head else 0


# -- checkpoints ------------------------------------------------------------------------


def checkpoint_due(repo: Repository, settings: Settings, now: datetime) -> int | None:
    """The size to checkpoint now, or None: a checkpoint is due when the head is
    ``checkpoint_entries`` past the latest one, or past it at all and the latest is
    ``checkpoint_interval_s`` old (or there is none)."""
    size, latest = head_size(repo), repo.latest_checkpoint()
    if size == 0 or (latest is not None and latest.size >= size):
        return None
    if latest is None or size - latest.size >= settings.checkpoint_entries:
        return size
    age_s = (now - datetime.fromisoformat(latest.created_at)).total_seconds()
    return size if age_s >= settings.checkpoint_interval_s else None


def sign_checkpoint(repo: Repository, signer: LogSigner, size: int, now_text: str) -> None:
    """Sign the tree of ``size`` entries and keep it (a checkpoint of that size kept
    before, by this server or another, stays as it is)."""
    root = tree_root(repo, size)
    name = signer.key.name
    note = sign_note(Checkpoint(name, size, root).text(), name, signer.private)
    dialect = postgresql if repo.conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(models.checkpoints).on_conflict_do_nothing(index_elements=["size"])
    repo.conn.execute(statement, {"size": size, "root": root, "note": note, "created_at": now_text})


def checkpoint_view(repo: Repository, size: int | None) -> dict[str, Any]:
    """A kept checkpoint (the latest when ``size`` is None), with the key that signed it."""
    row = repo.latest_checkpoint() if size is None else repo.checkpoint(size)
    if row is None:
        raise Refusal("not-found", "no checkpoint of this size is kept" if size else "none yet")
    for key in reversed(repo.log_key_history()):  # newest first: usually the first opens it
        try:
            open_checkpoint(row.note, key.name, decode_public_key(key.public_key))
        except NoteError:
            continue
        return {
            "size": row.size,
            "root_hash": b64(bytes(row.root)),
            "note": row.note,
            "origin": key.name,
            "log_key": log_key_wire(key),
        }
    raise AssertionError(f"checkpoint {row.size} is signed by no published log key")


# -- proofs (RFC 9162 §2.1.3 and §2.1.4) ---------------------------------------------------


def _within_head(repo: Repository, size: int) -> None:
    head = head_size(repo)
    if size > head:
        raise Refusal("not-found", f"the tree has {head} entries, not {size}")


def inclusion(repo: Repository, seq: int, size: int) -> dict[str, Any]:
    """The inclusion proof of entry ``seq`` in the tree of ``size`` entries."""
    if not 1 <= seq <= size:
        raise Refusal("validation", "seq must be between 1 and size")
    _within_head(repo, size)
    index, ranges = seq - 1, inclusion_ranges(seq - 1, size)
    wanted: set[Node] = proof_nodes(ranges) | set(range_nodes(0, size)) | {(0, index)}
    store = repo.merkle_nodes(wanted)
    return {
        "seq": seq,
        "size": size,
        "leaf_index": index,
        "leaf_hash": b64(store[(0, index)]),
        "proof": [b64(range_hash(lo, hi, store)) for lo, hi in ranges],
        "root_hash": b64(tree_hash(size, store)),
    }


def consistency(repo: Repository, first: int, second: int) -> dict[str, Any]:
    """The consistency proof between the trees of ``first`` and ``second`` entries."""
    if not 1 <= first <= second:
        raise Refusal("validation", "from must be between 1 and to")
    _within_head(repo, second)
    ranges = consistency_ranges(first, second) if first < second else []
    wanted = proof_nodes(ranges) | set(range_nodes(0, first)) | set(range_nodes(0, second))
    store = repo.merkle_nodes(wanted)
    return {
        "from": first,
        "to": second,
        "proof": [b64(range_hash(lo, hi, store)) for lo, hi in ranges],
        "first_root": b64(tree_hash(first, store)),
        "second_root": b64(tree_hash(second, store)),
    }


def entry_view(repo: Repository, seq: int) -> dict[str, Any]:
    """An entry as hashed, with its ``entry_hash``: a client recomputes both the hash and
    the leaf (``SHA-256(0x00 ‖ JCS(entry without entry_hash))``) from it."""
    stored = repo.entry(seq)
    if stored is None:
        raise Refusal("not-found", "no such entry, or not visible to this member")
    return stored.entry.hashed_part() | {"entry_hash": stored.entry.entry_hash}
