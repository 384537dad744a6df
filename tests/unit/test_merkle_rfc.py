"""The stored-node tree (``ledger.merkle``) against an independent RFC 9162 verifier
(``tests.rfc9162``), and forged proofs and notes refused by both."""

from __future__ import annotations

import random

import pytest

from ledger import merkle
from ledger.checkpoint import Checkpoint, NoteError, open_checkpoint, sign_note
from ledger.keys import generate_private_key, public_key_raw
from tests import rfc9162

ORIGIN = "dcc/" + "ab" * 32


def _stored(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    frontier: dict[merkle.Node, bytes] = {}
    store: dict[merkle.Node, bytes] = {}
    for index, leaf in enumerate(leaves):
        store.update(merkle.append_leaf(frontier, index, leaf))
    return store


def _leaves(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rfc9162.leaf(rng.randbytes(16)) for _ in range(n)]


def test_every_size_to_64_every_leaf_and_every_pair() -> None:
    leaves = _leaves(64)
    store = _stored(leaves)
    roots = [rfc9162.mth(leaves[:n]) for n in range(65)]
    for size in range(1, 65):
        assert merkle.tree_hash(size, store) == roots[size]
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store)
            assert rfc9162.verify_inclusion(index, size, leaves[index], proof, roots[size])
        for first in range(1, size + 1):
            proof = merkle.consistency_proof(first, size, store)
            assert rfc9162.verify_consistency(first, size, roots[first], roots[size], proof)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sizes_up_to_100_000(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(50_000, 100_000)
    leaves = [rng.randbytes(32) for _ in range(n)]  # synthetic leaf hashes
    store = _stored(leaves)
    for _ in range(20):
        size = rng.randint(1, n)
        root = rfc9162.mth(leaves[:size])
        assert merkle.tree_hash(size, store) == root
        index = rng.randrange(size)
        proof = merkle.inclusion_proof(index, size, store)
        assert rfc9162.verify_inclusion(index, size, leaves[index], proof, root)
        first = rng.randint(1, size)
        proof = merkle.consistency_proof(first, size, store)
        first_root = merkle.tree_hash(first, store)
        assert first_root == rfc9162.mth(leaves[:first])
        assert rfc9162.verify_consistency(first, size, first_root, root, proof)


def _both_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    independent = rfc9162.verify_inclusion(index, size, leaf, proof, root)
    production = merkle.verify_inclusion(leaf, index, size, proof, root)
    assert independent == production, (index, size)
    return production


def test_forged_inclusion_proofs_are_refused_by_both_verifiers() -> None:
    leaves = _leaves(37)
    store = _stored(leaves)
    size, index = 37, 13
    root, proof = merkle.tree_hash(size, store), merkle.inclusion_proof(index, size, store)
    assert _both_inclusion(leaves[index], index, size, proof, root)
    wrong_sibling = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    forged = [
        (leaves[index], index, size, wrong_sibling),
        # Wrong sizes. (Any size from 33 to 64 gives leaf 13 a path of the same shape, so
        # those are told apart only by the root, which the checkpoint binds to its size.)
        (leaves[index], index, 16, proof),
        (leaves[index], index, 100, proof),
        (leaves[index], index, 32, proof),
        (leaves[index], index, size, proof[:-1]),  # truncated
        (leaves[index], index, size, [*proof, proof[-1]]),  # extended
        (leaves[index], index, size, [proof[1], proof[0], *proof[2:]]),  # swapped
        (leaves[index + 1], index + 1, size, proof),  # proof for another leaf
        (leaves[index + 1], index, size, proof),
        (leaves[index], size, size, proof),  # index out of range
    ]
    for leaf, i, n, path in forged:
        assert not _both_inclusion(leaf, i, n, path, root), (i, n, len(path))


def test_forged_consistency_proofs_are_refused_by_both_verifiers() -> None:
    leaves = _leaves(50)
    store = _stored(leaves)
    first, second = 21, 50
    r1, r2 = merkle.tree_hash(first, store), merkle.tree_hash(second, store)
    proof = merkle.consistency_proof(first, second, store)

    def both(m: int, n: int, a: bytes, b: bytes, path: list[bytes]) -> bool:
        production = merkle.verify_consistency(m, n, a, b, path)
        assert rfc9162.verify_consistency(m, n, a, b, path) == production, (m, n)
        return production

    assert both(first, second, r1, r2, proof)
    flipped = proof[1][:-1] + bytes([proof[1][-1] ^ 1])
    forged = [
        (first, second, r1, r2, [proof[0], flipped, *proof[2:]]),  # wrong sibling
        (first + 1, second, r1, r2, proof),  # wrong size
        (first, 24, r1, r2, proof),
        (first, 100, r1, r2, proof),
        (first, second, r1, r2, proof[:-1]),  # truncated
        (first, second, r1, r2, [*proof, proof[-1]]),  # extended
        (first, second, r1, r2, [proof[1], proof[0], *proof[2:]]),  # swapped
        (first, second, r2, r1, proof),  # roots swapped
        (first, second, merkle.tree_hash(first - 1, store), r2, proof),  # another tree
    ]
    for m, n, a, b, path in forged:
        assert not both(m, n, a, b, path), (m, n, len(path))


def test_a_checkpoint_signed_by_another_key_or_edited_is_refused() -> None:
    log, other = generate_private_key(), generate_private_key()
    public = public_key_raw(log.public_key())
    text = Checkpoint(ORIGIN, 12, b"\x07" * 32).text()
    note = sign_note(text, ORIGIN, log)
    assert open_checkpoint(note, ORIGIN, public).size == 12
    with pytest.raises(NoteError):
        open_checkpoint(sign_note(text, ORIGIN, other), ORIGIN, public)
    body, signature = note.split("\n\n")
    lines = body.split("\n")
    extra = "\n".join([*lines[:3], "extension line"]) + "\n\n" + signature
    missing = "\n".join(lines[:2]) + "\n\n" + signature
    for edited in (extra, missing, note.replace("\n12\n", "\n13\n")):
        with pytest.raises(NoteError):
            open_checkpoint(edited, ORIGIN, public)
    # Re-signed with the extra line by another key: still not the log's.
    with pytest.raises(NoteError):
        open_checkpoint(sign_note(text + "extra\n", ORIGIN, other), ORIGIN, public)
