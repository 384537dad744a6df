"""A Merkle tree over the journal, hashed as RFC 9162 §2.1 says, with its two proofs.

Leaf ``i`` is entry ``seq = i + 1``; its hash is ``SHA-256(0x00 ‖ entry bytes)`` and an
interior node is ``SHA-256(0x01 ‖ left ‖ right)``. The tree of ``n`` leaves splits at
``k``, the largest power of two below ``n``: ``MTH(D[0:n]) = node(MTH(D[0:k]),
MTH(D[k:n]))``. So every range the RFC's definitions visit is a row of *perfect*
subtrees (2^level leaves each, aligned on their size) in the order of the bits of its
length, and its hash is a right fold of theirs::

    D[0:6] = [0:4] + [4:6]        MTH = node(P(2, 0), P(1, 2))
    D[0:7] = [0:4] + [4:6] + [6]  MTH = node(P(2, 0), node(P(1, 2), P(0, 6)))

A perfect subtree is *complete* once its last leaf is appended and never changes after,
so the ledger stores each one as it completes (:func:`completed_by`, two on average per
entry) and answers any proof from a handful of indexed reads (:func:`proof_nodes`),
never recomputing the tree::

    >>> leaves = [leaf_hash(bytes([i])) for i in range(7)]
    >>> store = {}
    >>> for i in range(7):
    ...     for node in completed_by(i):
    ...         store[node] = subtree_hash(node, store, leaves)
    >>> proof = inclusion_proof(3, 7, store)
    >>> verify_inclusion(leaves[3], 3, 7, proof, tree_hash(7, store))
    True
    >>> verify_consistency(4, 7, tree_hash(4, store), tree_hash(7, store),
    ...                    consistency_proof(4, 7, store))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

Node = tuple[int, int]  # (level, index): leaves [index·2^level, (index+1)·2^level)
Range = tuple[int, int]  # leaves [lo, hi)

EMPTY_TREE_HASH = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (> 1)."""
    return 1 << ((size - 1).bit_length() - 1)


# -- storing the tree ----------------------------------------------------------------------


def completed_by(index: int) -> list[Node]:
    """The perfect subtrees that appending leaf ``index`` completes, smallest first."""
    nodes, level = [(0, index)], 0
    while index & 1:
        index >>= 1
        level += 1
        nodes.append((level, index))
    return nodes


def subtree_hash(node: Node, store: Mapping[Node, bytes], leaves: Sequence[bytes]) -> bytes:
    """The hash of a just-completed ``node``: its leaf, or its two children's."""
    level, index = node
    if level == 0:
        return leaves[index]
    return node_hash(store[(level - 1, 2 * index)], store[(level - 1, 2 * index + 1)])


def append_leaf(frontier: dict[Node, bytes], index: int, leaf: bytes) -> list[tuple[Node, bytes]]:
    """Append leaf ``index`` to a tree of ``index`` leaves whose perfect subtrees
    (``range_nodes(0, index)``) ``frontier`` holds: the nodes it completes, with their
    hashes, smallest first. ``frontier`` then holds those of the tree of ``index + 1``.

    >>> frontier = {}
    >>> [node for node, _ in append_leaf(frontier, 0, b"a" * 32)]
    [(0, 0)]
    >>> [node for node, _ in append_leaf(frontier, 1, b"b" * 32)]
    [(0, 1), (1, 0)]
    >>> sorted(frontier)
    [(1, 0)]
    """
    completed = []
    for level, position in completed_by(index):
        if level == 0:
            digest = leaf
        else:
            left = frontier.pop((level - 1, 2 * position))
            digest = node_hash(left, frontier.pop((level - 1, 2 * position + 1)))
        frontier[(level, position)] = digest
        completed.append(((level, position), digest))
    return completed


def range_nodes(lo: int, hi: int) -> list[Node]:
    """The perfect subtrees that make up ``D[lo:hi]``, largest first."""
    assert 0 <= lo < hi, (lo, hi)
    nodes, position = [], lo
    for level in reversed(range((hi - lo).bit_length())):
        if (hi - lo) >> level & 1:
            assert position % (1 << level) == 0, (lo, hi)  # every range the RFC visits is
            nodes.append((level, position >> level))  # aligned like this
            position += 1 << level
    return nodes


def range_hash(lo: int, hi: int, store: Mapping[Node, bytes]) -> bytes:
    """MTH(D[lo:hi]) from stored perfect subtrees."""
    hashes = [store[node] for node in range_nodes(lo, hi)]
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def tree_hash(size: int, store: Mapping[Node, bytes]) -> bytes:
    return range_hash(0, size, store) if size else EMPTY_TREE_HASH


# -- proofs (RFC 9162 §2.1.3.1 and §2.1.4.1), as the ranges whose hashes they list -----------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(index, D[0:size]): the ranges whose hashes prove leaf ``index``."""
    assert 0 <= index < size, (index, size)
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    return path[::-1]  # the leaf's sibling first


def consistency_ranges(first: int, second: int) -> list[Range]:
    """PROOF(first, D[0:second]) for 0 < first < second."""
    assert 0 < first < second, (first, second)
    proof: list[Range] = []
    lo, hi, m, complete = 0, second, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append((lo + k, hi))
            hi = lo + k
        else:
            proof.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append((lo, hi))
    return proof[::-1]


def proof_nodes(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node a proof needs: read them all in one query."""
    return {node for lo, hi in ranges for node in range_nodes(lo, hi)}


def inclusion_proof(index: int, size: int, store: Mapping[Node, bytes]) -> list[bytes]:
    return [range_hash(lo, hi, store) for lo, hi in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, store: Mapping[Node, bytes]) -> list[bytes]:
    if first == 0 or first == second:
        return []
    return [range_hash(lo, hi, store) for lo, hi in consistency_ranges(first, second)]


# -- verifying (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and result == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 <= first <= second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_TREE_HASH
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: its own root starts the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
