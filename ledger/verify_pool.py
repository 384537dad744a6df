"""The auditor's stateless checks, spread over processes.

Most of what ``dcc verify`` checks of an entry needs nothing but the entry: that its
stored command and effects are canonical JSON, that its hash covers them, and that its
signature verifies under a public key. Only *which* key was the signer's at that seq,
the links, the times and the projections need the entries before it. So the rows are cut
into chunks, a pool of processes checks each chunk's texts (:func:`check_texts`) a few
chunks ahead, and the auditor's one sequential walk takes each row with its result.

A worker is told the public keys of the ``keys`` table — which anyone who can write the
database can edit — and says under which one a signature verified; the walk takes that
only when it is the key the journal itself gave the signer (``ledger.verify``), and
checks the signature itself otherwise. A result says nothing the walk does not check.

With one worker the chunks are checked in this process, by the same function: the
walk's results do not depend on the number of processes, only its speed does.

    >>> rows = [(1, "0" * 64, "2026-11-22T08:00:00.000000Z", '{"type":"x"}', None, "{}", "?")]
    >>> [checked.canonical for _, checked in checked_rows(rows, {}, workers=1)]
    [True]
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any, NamedTuple

from ledger.canonical import JsonError, parse_canonical, sha256_hex
from ledger.chain import entry_bytes
from ledger.keys import verify as verify_signature

CHUNK_ENTRIES = 2_000  # rows a worker checks per task
CHUNKS_AHEAD_PER_WORKER = 2  # tasks queued per worker: bounds the rows held in memory


class Checked(NamedTuple):
    """What a row's own texts say."""

    canonical: bool  # command and effects are JSON, and in their canonical form
    hash_ok: bool  # (when canonical) the entry hash covers them
    key: str | None  # the public key the signature verified under, if it did


# seq, prev_hash, recorded_at, command, signature, effects, entry_hash: as stored
Texts = tuple[int, str, str, str, str | None, str, str]

_keys: Mapping[str, str] = {}  # a worker's public keys by key id (set once, at start)


def check_texts(rows: Sequence[Texts], keys: Mapping[str, str] | None = None) -> list[Checked]:
    """Check each row's texts (``keys``: public keys by key id; a worker's own by default)."""
    keys = _keys if keys is None else keys
    return [_check(row, keys) for row in rows]


def _check(row: Texts, keys: Mapping[str, str]) -> Checked:
    seq, prev_hash, recorded_at, command_text, signature, effects_text, entry_hash = row
    try:
        command, command_canonical = parse_canonical(command_text)
        _, effects_canonical = parse_canonical(effects_text)
    except JsonError:
        return Checked(False, False, None)
    if not (command_canonical and effects_canonical and isinstance(command, dict)):
        return Checked(False, False, None)
    if not (isinstance(seq, int) and isinstance(prev_hash, str) and isinstance(recorded_at, str)):
        return Checked(True, False, None)
    command_bytes = command_text.encode()
    hashed = entry_bytes(
        seq, prev_hash, recorded_at, command_bytes, signature, effects_text.encode()
    )
    hash_ok = sha256_hex(hashed) == entry_hash
    public_key = keys.get(str(command.get("key_id")))
    if signature is None or public_key is None:
        return Checked(True, hash_ok, None)
    verified = verify_signature(public_key, signature, command_bytes)
    return Checked(True, hash_ok, public_key if verified else None)


def _start(keys: Mapping[str, str]) -> None:
    global _keys
    _keys = keys


def checked_rows(
    rows: Iterable[Any], keys: Mapping[str, str], *, workers: int
) -> Iterator[tuple[Any, Checked]]:
    """Each of ``rows`` (entry rows, or :data:`Texts`) with its :class:`Checked`, in
    order; the texts are checked by ``workers`` processes (1: in this one)."""
    remaining = iter(rows)
    chunks = iter(lambda: list(islice(remaining, CHUNK_ENTRIES)), [])
    if workers <= 1:
        for chunk in chunks:
            yield from zip(chunk, check_texts([_texts(row) for row in chunk], keys), strict=True)
        return
    # Forked, the workers start at once with the code already loaded; they touch nothing
    # of the parent's but the keys.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(keys,))
    pending: deque[tuple[list[Any], Future[list[Checked]]]] = deque()
    try:
        for chunk in chunks:
            pending.append((chunk, pool.submit(check_texts, [_texts(row) for row in chunk])))
            if len(pending) > workers * CHUNKS_AHEAD_PER_WORKER:
                done, future = pending.popleft()
                yield from zip(done, future.result(), strict=True)
        while pending:
            done, future = pending.popleft()
            yield from zip(done, future.result(), strict=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _texts(row: Any) -> Texts:
    if isinstance(row, tuple) and not hasattr(row, "_mapping"):
        return row
    return (
        row.seq,
        row.prev_hash,
        row.recorded_at,
        row.command,
        row.signature,
        row.effects,
        row.entry_hash,
    )
