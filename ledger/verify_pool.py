"""The auditor's chain-and-signature checks, spread over processes.

Almost all that ``dcc verify``'s chain pass checks of an entry needs only the entry and
the stored row before it: that its texts are canonical JSON objects, that its position,
link, hash and time are right, that the indexed columns repeat its command, and that
its signature verifies under a public key. Only *which* key was the signer's at that
seq needs the entries before it. So the rows are cut into chunks, a pool of processes
checks each chunk (:func:`check_chunk`) a few chunks ahead, and the auditor's one
sequential walk (``ledger.verify``) takes from each chunk only a :class:`Fact` per entry:
who signed it, with which key id, under which public key the signature verified, and
what the entry did to members and keys.

A worker is told the public keys of the ``keys`` table — which anyone who can write the
database can edit — and says under which one a signature verified; the walk takes that
only when it is the key the journal itself gave the signer, and checks the signature
itself otherwise. Everything else a worker checks it checks from the stored rows alone,
which the walk then does not look at again: a worker runs the same code in another
process, not code the walk must trust more than its own.

With one worker the chunks are checked in this process, by the same function: what the
walk finds does not depend on the number of processes, only its speed does.

    >>> rows = [(1, "0" * 64, "2026-11-22T08:00:00.000000Z", '{"type":"x"}', None, "{}",
    ...          "?", "x", None, None)]
    >>> [(c.problem, len(c.facts)) for _, _, c in checked_chunks(rows, {}, workers=1)]
    [((1, "entry_hash does not match the entry's content"), 0)]
"""

from __future__ import annotations

import multiprocessing
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any, NamedTuple

from ledger.canonical import JsonError, parse_canonical, sha256_hex
from ledger.chain import GENESIS_PREV_HASH, GENESIS_TYPE, entry_bytes
from ledger.keys import verify as verify_signature
from ledger.system import SYSTEM_ENTRIES

CHUNK_ENTRIES = 2_000  # rows a worker checks per task
CHUNKS_AHEAD_PER_WORKER = 2  # tasks queued per worker: bounds the rows held in memory
# The collections whose rows decide which key was a signer's at a seq, and whether the
# signer was active: the walk replays only these.
KEY_COLLECTIONS = ("members", "keys")
# What the auditor says of an entry whose texts parse but hold what no rule writes.
SHAPE = "entry is not of a shape the ledger writes"
# ``ledger.commands.format_timestamp``'s form, in which text order is time order.
_RECORDED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")

# An entry row as stored (``ledger.repository.ENTRY_TEXTS``): seq, prev_hash,
# recorded_at, command, signature, effects, entry_hash, type, signer, nonce
Texts = tuple[int, str, str, str, str | None, str, str, str, str | None, str | None]
Found = tuple[int, str]  # (position, what is wrong there)


class Fact(NamedTuple):
    """What the journal-ordered walk needs of an entry whose texts held."""

    position: int
    signer: Any
    key_id: Any
    system: bool  # written by the service (unsigned, of a system type): no key to check
    key: str | None  # the public key its signature verified under, if it did
    keys_effects: dict[str, Any] | None  # its effects on KEY_COLLECTIONS, if any


class Chunk(NamedTuple):
    """What a chunk's own rows say: a fact per entry before its first problem, and that
    problem. A problem of an entry's time comes after its signature, which only the walk
    checks: then the entry's fact is in ``facts`` too, and the walk checks it first."""

    facts: list[Fact]
    problem: Found | None


class Boundary(NamedTuple):
    """The stored row before a chunk (or the journal's start)."""

    position: int  # of the chunk's first row
    prev_hash: Any
    prev_time: Any


_keys: Mapping[str, str] = {}  # a worker's public keys by key id (set once, at start)


def check_chunk(
    before: Boundary, rows: Sequence[Texts], keys: Mapping[str, str] | None = None
) -> Chunk:
    """Check ``rows`` (``keys``: public keys by key id; a worker's own by default)."""
    keys = _keys if keys is None else keys
    facts: list[Fact] = []
    position, prev_hash, prev_time = before
    for row in rows:
        try:
            fact, problem, timely = _check(position, prev_hash, prev_time, row, keys)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # The row is well hashed but not of the shape this ledger writes: a forgery
            # (or our bug) either way, reported at its seq rather than crashing the audit.
            return Chunk(facts, (position, f"{SHAPE} ({exc!r})"))
        if fact is not None:
            facts.append(fact)
        if problem is not None:
            return Chunk(facts, problem)
        if timely is not None:
            return Chunk(facts, (position, timely))
        prev_hash, prev_time = row[6], row[2]
        position += 1
    return Chunk(facts, None)


def _check(
    position: int, prev_hash: Any, prev_time: Any, row: Texts, keys: Mapping[str, str]
) -> tuple[Fact | None, Found | None, str | None]:
    """The entry's fact (None if it failed before its signature), the problem found
    before its signature, and the problem of its time."""
    recorded_at, command_text, signature, effects_text = row[2:6]
    try:
        command, command_canonical = parse_canonical(command_text)
        effects, effects_canonical = parse_canonical(effects_text)
    except JsonError as exc:
        return None, (position, f"stored command or effects is not valid JSON ({exc})"), None
    if not (isinstance(command, dict) and isinstance(effects, dict)):
        return None, (position, "stored command or effects is not a JSON object"), None
    if not command_canonical:
        return None, (position, "stored command text is not in canonical form"), None
    if not effects_canonical:
        return None, (position, "stored effects text is not in canonical form"), None
    wrong = _check_entry(position, prev_hash, row, command)
    if wrong is not None:
        return None, (position, wrong), None
    system = signature is None and command.get("type") in SYSTEM_ENTRIES
    public_key = None if system else keys.get(str(command.get("key_id")))
    verified = (
        signature is not None
        and public_key is not None
        and verify_signature(public_key, signature, command_text.encode())
    )
    key = public_key if verified else None
    touched = {name: effects[name] for name in KEY_COLLECTIONS if effects.get(name)}
    fact = Fact(
        position, command.get("signer"), command.get("key_id"), system, key, touched or None
    )
    return fact, None, _check_time(position, prev_time, recorded_at)


def _check_entry(position: int, prev_hash: Any, row: Texts, command: dict[str, Any]) -> str | None:
    seq, link, recorded_at, command_text, signature, effects_text, entry_hash = row[:7]
    if seq != position:
        return f"entry has seq {seq}, expected {position}"
    if link != prev_hash:
        return "prev_hash does not match the previous entry's hash"
    if not (isinstance(link, str) and isinstance(recorded_at, str)):
        return "entry_hash does not match the entry's content"
    hashed = entry_bytes(
        seq, link, recorded_at, command_text.encode(), signature, effects_text.encode()
    )
    if sha256_hex(hashed) != entry_hash:
        return "entry_hash does not match the entry's content"
    if tuple(row[7:10]) != (command.get("type"), command.get("signer"), command.get("nonce")):
        return "type/signer/nonce columns disagree with the signed command"
    if position == 1 and (command.get("type") != GENESIS_TYPE or signature is not None):
        return "the first entry is not an unsigned genesis entry"
    return None


def _check_time(position: int, prev_time: Any, recorded_at: Any) -> str | None:
    """The entry's time is in the journal's form and not before its predecessor's."""
    if not isinstance(recorded_at, str) or not _RECORDED_AT.fullmatch(recorded_at):
        return f"recorded_at {recorded_at!r} is not a time the ledger writes"
    if recorded_at < prev_time:
        return (
            f"recorded_at goes back in time: {recorded_at} is before seq {position - 1}'s "
            f"{prev_time}"
        )
    return None


def _start(keys: Mapping[str, str]) -> None:
    global _keys
    _keys = keys


def checked_chunks(
    rows: Iterable[Texts], keys: Mapping[str, str], *, workers: int
) -> Iterator[tuple[int, list[Texts], Chunk]]:
    """The rows (:data:`Texts`) in chunks, in order, each with the
    position of its first row and its :class:`Chunk`; checked by ``workers`` processes
    (1: in this one)."""
    remaining = iter(rows)
    chunks = iter(lambda: list(islice(remaining, CHUNK_ENTRIES)), [])
    before = Boundary(1, GENESIS_PREV_HASH, "")
    if workers <= 1:
        for chunk in chunks:
            yield before.position, chunk, check_chunk(before, chunk, keys)
            before = _after(before, chunk)
        return
    # Forked, the workers start at once with the code already loaded; they touch nothing
    # of the parent's but the keys.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(keys,))
    pending: deque[tuple[int, list[Texts], Future[Chunk]]] = deque()
    try:
        for chunk in chunks:
            pending.append((before.position, chunk, pool.submit(check_chunk, before, chunk)))
            before = _after(before, chunk)
            if len(pending) > workers * CHUNKS_AHEAD_PER_WORKER:
                first, done, future = pending.popleft()
                yield first, done, future.result()
        while pending:
            first, done, future = pending.popleft()
            yield first, done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _after(before: Boundary, chunk: Sequence[Texts]) -> Boundary:
    last = chunk[-1]
    return Boundary(before.position + len(chunk), last[6], last[2])
