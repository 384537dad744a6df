"""The Merkle tree and its proofs, against RFC 9162 written out again here.

The reference below follows the RFC's recursive *definitions* (MTH, PATH, SUBPROOF) over
the raw leaves, and its verifiers rebuild the roots by the same recursion: a different
algorithm from the production code, which reads stored perfect subtrees and verifies
with the RFC's iterative bit-walk. Every proof the ledger produces must equal the
reference's and pass both verifiers; every forgery must fail both.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from functools import cache

import pytest

from ledger import merkle


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    """RFC 9162 §2.1.1–2.1.4 over the data of the leaves, with hashes memoised by range."""

    def __init__(self, data: Sequence[bytes]) -> None:
        self.data = data
        self.mth = cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi == lo:
            return sha(b"")
        if hi - lo == 1:
            return sha(b"\x00" + self.data[lo])
        k = k_of(hi - lo)
        return sha(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = k_of(hi - lo)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if whole else [self.mth(lo, hi)]
        k = k_of(hi - lo)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, whole), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def root_from_path(leaf: bytes, m: int, n: int, proof: Sequence[bytes]) -> bytes:
    """Rebuild the root by PATH's recursion; raise on a proof of the wrong shape."""
    if n == 1:
        if proof:
            raise ValueError("proof too long")
        return leaf
    if not proof:
        raise ValueError("proof too short")
    k = k_of(n)
    if m < k:
        return sha(b"\x01" + root_from_path(leaf, m, k, proof[:-1]) + proof[-1])
    return sha(b"\x01" + proof[-1] + root_from_path(leaf, m - k, n - k, proof[:-1]))


def roots_from_subproof(
    m: int, n: int, proof: Sequence[bytes], whole: bool, first_root: bytes
) -> tuple[bytes, bytes]:
    """(the old tree's root, the new tree's root) by SUBPROOF's recursion."""
    if m == n:
        if whole:
            if proof:
                raise ValueError("proof too long")
            return first_root, first_root
        if len(proof) != 1:
            raise ValueError("proof of the wrong length")
        return proof[0], proof[0]
    if not proof:
        raise ValueError("proof too short")
    k = k_of(n)
    if m <= k:
        old, new = roots_from_subproof(m, k, proof[:-1], whole, first_root)
        return old, sha(b"\x01" + new + proof[-1])
    old, new = roots_from_subproof(m - k, n - k, proof[:-1], False, first_root)
    return sha(b"\x01" + proof[-1] + old), sha(b"\x01" + proof[-1] + new)


def reference_inclusion(leaf: bytes, m: int, n: int, proof: Sequence[bytes], root: bytes) -> bool:
    try:
        return 0 <= m < n and root_from_path(leaf, m, n, proof) == root
    except ValueError:
        return False


def reference_consistency(
    m: int, n: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 < m < n:
        return False
    try:
        old, new = roots_from_subproof(m, n, proof, True, first_root)
    except ValueError:
        return False
    return old == first_root and new == second_root


# -- the production tree, built the way the ledger builds it --------------------------------


def build(count: int) -> tuple[list[bytes], dict[merkle.Node, bytes], list[bytes]]:
    data = [f"entry {i}".encode() for i in range(count)]
    leaves = [merkle.leaf_hash(d) for d in data]
    store: dict[merkle.Node, bytes] = {}
    for index in range(count):
        for node in merkle.completed_by(index):
            store[node] = merkle.subtree_hash(node, store, leaves)
    return data, store, leaves


DATA, STORE, LEAVES = build(64)
REF = Reference(DATA)


@pytest.mark.parametrize("size", range(1, 65))
def test_every_root_and_inclusion_proof_up_to_64(size: int) -> None:
    root = merkle.tree_hash(size, STORE)
    assert root == REF.mth(0, size)
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, STORE)
        assert proof == REF.path(index, 0, size)
        assert reference_inclusion(LEAVES[index], index, size, proof, root)
        assert merkle.verify_inclusion(LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize("second", range(1, 65))
def test_every_consistency_proof_up_to_64(second: int) -> None:
    second_root = merkle.tree_hash(second, STORE)
    for first in range(1, second):
        first_root = merkle.tree_hash(first, STORE)
        proof = merkle.consistency_proof(first, second, STORE)
        assert proof == REF.subproof(first, 0, second, True)
        assert reference_consistency(first, second, first_root, second_root, proof)
        assert merkle.verify_consistency(first, second, first_root, second_root, proof)
    assert merkle.verify_consistency(second, second, second_root, second_root, [])
    assert merkle.verify_consistency(0, second, merkle.EMPTY_TREE_HASH, second_root, [])


def test_the_empty_tree_hash_is_the_hash_of_nothing() -> None:
    assert merkle.tree_hash(0, {}) == sha(b"") == REF.mth(0, 0)


def test_random_sizes_up_to_100000() -> None:
    rng = random.Random(9162)
    count = 100_000
    data, store, leaves = build(count)
    ref = Reference(data)
    for _ in range(12):
        second = rng.randint(2, count)
        first = rng.randint(1, second - 1)
        index = rng.randrange(second)
        second_root = merkle.tree_hash(second, store)
        assert second_root == ref.mth(0, second)
        proof = merkle.inclusion_proof(index, second, store)
        assert proof == ref.path(index, 0, second)
        assert reference_inclusion(leaves[index], index, second, proof, second_root)
        assert merkle.verify_inclusion(leaves[index], index, second, proof, second_root)
        first_root = merkle.tree_hash(first, store)
        consistency = merkle.consistency_proof(first, second, store)
        assert consistency == ref.subproof(first, 0, second, True)
        assert reference_consistency(first, second, first_root, second_root, consistency)
        assert merkle.verify_consistency(first, second, first_root, second_root, consistency)


def test_a_proof_reads_only_a_few_stored_nodes() -> None:
    """At 10^7 entries an inclusion or consistency proof needs at most 2·log2(n) nodes."""
    size = 10**7
    for ranges in (
        merkle.inclusion_ranges(1_234_567, size),
        merkle.consistency_ranges(6_543_210, size),
    ):
        assert len(merkle.proof_nodes(ranges)) <= 2 * size.bit_length()


# -- forgeries ----------------------------------------------------------------------------------


def _flip(proof: list[bytes], at: int) -> list[bytes]:
    forged = list(proof)
    forged[at] = bytes([forged[at][0] ^ 1]) + forged[at][1:]
    return forged


def _inclusion_forgeries(
    index: int, size: int, proof: list[bytes]
) -> list[tuple[str, bytes, int, int, list[bytes]]]:
    leaf = LEAVES[index]
    forged = [(f"wrong sibling {i}", leaf, index, size, _flip(proof, i)) for i in range(len(proof))]
    forged += [
        ("size + 1", leaf, index, size + 1, proof),
        ("size - 1", leaf, index, size - 1, proof),
        ("extended", leaf, index, size, [*proof, LEAVES[0]]),
        ("another leaf's data", LEAVES[(index + 1) % 64], index, size, proof),
        ("another index", leaf, (index + 1) % size, size, proof),
        ("index = size", leaf, size, size, proof),
        ("short hash", leaf, index, size, [p[:31] for p in proof]),
    ]
    if proof:
        forged.append(("truncated", leaf, index, size, proof[:-1]))
    if len(proof) >= 2 and proof[0] != proof[1]:
        forged.append(("swapped", leaf, index, size, [proof[1], proof[0], *proof[2:]]))
    return forged


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 2), (3, 7), (6, 7), (5, 8), (13, 33)])
def test_forged_inclusion_proofs_fail(index: int, size: int) -> None:
    root = merkle.tree_hash(size, STORE)
    proof = merkle.inclusion_proof(index, size, STORE)
    for name, leaf, at, claimed_size, forged in _inclusion_forgeries(index, size, proof):
        if (leaf, at, claimed_size, forged) == (LEAVES[index], index, size, proof):
            continue  # not a forgery at this size (e.g. "another index" in a tree of one)
        # A size is only ever claimed with the root signed for that size.
        claimed_root = merkle.tree_hash(claimed_size, STORE)
        assert not merkle.verify_inclusion(leaf, at, claimed_size, forged, claimed_root), name
        assert not reference_inclusion(leaf, at, claimed_size, forged, claimed_root), name
    assert not merkle.verify_inclusion(LEAVES[index], index, size, proof, _flip([root], 0)[0])


Verifier = Callable[[int, int, bytes, bytes, Sequence[bytes]], bool]


@pytest.mark.parametrize("verifier", [merkle.verify_consistency, reference_consistency])
@pytest.mark.parametrize(("first", "second"), [(1, 2), (3, 7), (4, 8), (4, 7), (6, 8), (17, 40)])
def test_forged_consistency_proofs_fail(verifier: Verifier, first: int, second: int) -> None:
    old, new = merkle.tree_hash(first, STORE), merkle.tree_hash(second, STORE)
    proof = merkle.consistency_proof(first, second, STORE)
    assert verifier(first, second, old, new, proof)
    for i in range(len(proof)):
        assert not verifier(first, second, old, new, _flip(proof, i)), i
    assert not verifier(first, second, old, new, proof[:-1])
    assert not verifier(first, second, old, new, [*proof, new])
    assert not verifier(first, second, old, new, [])
    # A size is only ever claimed with the root signed for that size.
    assert not verifier(first + 1, second, merkle.tree_hash(first + 1, STORE), new, proof)
    assert not verifier(first, second + 1, old, merkle.tree_hash(second + 1, STORE), proof)
    assert not verifier(first, second, _flip([old], 0)[0], new, proof)
    assert not verifier(first, second, old, _flip([new], 0)[0], proof)
    assert not verifier(second, first, new, old, proof)  # a shrinking tree
    if len(proof) >= 2 and proof[0] != proof[1]:
        assert not verifier(first, second, old, new, [proof[1], proof[0], *proof[2:]])


def test_a_proof_too_short_for_the_claimed_size_fails_even_when_its_hashes_match() -> None:
    """A smaller tree's proof and root, presented as a larger tree's: the hashes work out,
    only the count of steps (RFC 9162: "verify that sn is 0") catches it."""
    small = merkle.inclusion_proof(0, 2, STORE)
    root2 = merkle.tree_hash(2, STORE)
    assert merkle.verify_inclusion(LEAVES[0], 0, 2, small, root2)
    assert not merkle.verify_inclusion(LEAVES[0], 0, 4, small, root2)
    assert not reference_inclusion(LEAVES[0], 0, 4, small, root2)
    proof = merkle.consistency_proof(2, 4, STORE)
    root4 = merkle.tree_hash(4, STORE)
    assert merkle.verify_consistency(2, 4, root2, root4, proof)
    assert not merkle.verify_consistency(2, 8, root2, root4, proof)
    assert not reference_consistency(2, 8, root2, root4, proof)
