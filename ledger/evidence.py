"""The evidence bundle of a piece: everything a third party needs to check it offline.

A supplier hands its bank one JSON document (``GET /v1/certificates/{id}/evidence``);
the bank checks it with ``dcc verify-evidence`` and the operator's public key alone
(``ledger.audit.verify_evidence``). It holds:

* ``entries`` — the entry that created each piece on the lineage (the piece and every
  piece it came from up to its root's issuance, ``reads.lineage``), and the entry that
  last wrote the piece itself, in seq order; each as hashed (with ``entry_hash``), with
  its inclusion proof in the checkpoint's tree and, when signed, ``signer_key``: the
  public key whose id the command names (its id binds it, so the verifier need not
  trust the server for it);
* ``checkpoint`` — the latest signed checkpoint (``{size, root_hash, note}``), at least
  as large as every entry's seq;
* ``log_key`` — the key that signed it, and ``log_key_entry``: the operator-signed
  ``ledger.log_key`` entry that published it, with its own inclusion proof.

An entry is whole (its hash covers all of it): a transfer's entry shows the pieces split
off beside the lineage too, as the due-diligence read does not. ``lineage`` names the
pieces on the path, so a reader can tell them apart.
"""

from __future__ import annotations

from typing import Any

from ledger import reads, transparency
from ledger.audit import EVIDENCE_FORMAT
from ledger.errors import Refusal
from ledger.members import Member
from ledger.repository import Repository


def evidence(repo: Repository, viewer: Member, certificate_id: str) -> dict[str, Any]:
    """The evidence bundle of a piece, for whoever may read the piece."""
    reads.certificate(repo, viewer, certificate_id)  # the same authorisation, or not-found
    pieces = reads.lineage(repo, certificate_id)
    latest = repo.certificate_updated_seq(certificate_id)
    assert latest is not None, certificate_id
    seqs = sorted({piece.created_seq for piece in pieces} | {latest})
    row = repo.latest_checkpoint()
    if row is None or row.size < seqs[-1]:
        raise Refusal("unavailable", "no checkpoint covers the piece's entries yet; retry")
    view = transparency.checkpoint_view(repo, row.size)
    published = repo.log_key(view["log_key"]["key_id"])
    assert published is not None, view
    return {
        "format": EVIDENCE_FORMAT,
        "certificate": certificate_id,
        "lineage": [piece.id for piece in pieces],
        "checkpoint": {k: view[k] for k in ("size", "root_hash", "note")},
        "log_key": view["log_key"],
        "log_key_entry": _item(repo, published.published_seq, row.size),
        "entries": [_item(repo, seq, row.size) for seq in seqs],
    }


def _item(repo: Repository, seq: int, size: int) -> dict[str, Any]:
    entry = transparency.entry_view(repo, seq)
    key_id = entry["command"].get("key_id")
    key = repo.key(key_id) if entry["signature"] is not None and key_id else None
    return {
        "entry": entry,
        "proof": transparency.inclusion(repo, seq, size)["proof"],
        "signer_key": key.public_key if key is not None else None,
    }
