"""The sequencer: one thread per ledger that applies queued work in batches.

Requests put their work — a verified command, or a system entry such as an expiry —
on a FIFO queue and wait for its future. The sequencer takes what is queued (at most
``batch_max``), opens one write transaction holding the chain head, applies each item
to a :class:`~ledger.batch.Batch` in queue order, writes the batch with one statement
per table, commits once, and only then answers every item: a client learns of its
entry only once the commit made it durable (group commit). While one batch commits,
the next fills.

Order is the queue's: first come, first applied; no writer in this process starves
another (the database's own lock, which a busy SQLite makes unfair, is taken by one
thread). Several processes on one database each run a sequencer; their batches take
turns on the chain head's lock (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), each reading the head it extends inside the lock.

A refused item is dropped alone, answered with its refusal; the batch goes on (a rule
refuses before anything is taken into the batch). If the batch's transaction itself
fails (a database error while writing or committing), each of its items is tried again
alone, so one bad item cannot fail the others; should the commit have succeeded all
the same (its answer lost with the connection), the retries find their nonces recorded
and answer the original receipts. An item whose future its waiter cancelled while it
was queued is not applied.

The queue is bounded (``sequencer_queue_max``): past it, work is refused at once as
``unavailable`` rather than waiting without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ledger.batch import Batch
from ledger.errors import Refusal
from ledger.merkle import Node
from ledger.repository import Repository

log = logging.getLogger("dcc.sequencer")

Apply = Callable[[Batch], Any]


@dataclass
class _Item:
    apply: Apply
    hint: Any = None  # what ``prefetch`` may read ahead for this item
    future: Future[Any] = field(default_factory=Future)


_STOP = object()


def _items(queued: _Item | list[_Item]) -> list[_Item]:
    return list(queued) if isinstance(queued, list) else [queued]


class Sequencer:
    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Connection]],
        batch_max: int,
        queue_max: int,
        prefetch: Callable[[Batch, list[Any]], None] | None = None,
        begin: Callable[[Batch, bool], None] | None = None,
    ) -> None:
        """``begin`` runs first in every batch, told whether the head is where this
        sequencer's last committed batch left it (nobody else has written since)."""
        assert batch_max >= 1 and queue_max >= 1, (batch_max, queue_max)
        self._connect = connect
        self._prefetch = prefetch
        self._begin = begin
        self._committed_seq: int | None = None  # the head after the last committed batch
        self._batch_max = batch_max
        self._queue_max = queue_max
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards what follows
        self._queued = 0  # items queued and not yet taken
        self._thread: threading.Thread | None = None
        self._closed = False
        self._carried: Any = None  # queued work taken but left for the next batch
        # The Merkle tree's frontier after the last committed batch, and that head's seq.
        self._frontier: tuple[int, dict[Node, bytes]] | None = None

    def submit(self, apply: Apply, hint: Any = None) -> Future[Any]:
        """Queue ``apply`` (run in the sequencer with the batch); its future answers
        once the batch is committed. ``hint`` goes to ``prefetch`` with the batch's."""
        item = _Item(apply, hint)
        self._put([item], item)
        return item.future

    def submit_group(self, applies: Sequence[Apply], hints: Sequence[Any]) -> list[Future[Any]]:
        """Queue ``applies`` to be applied together, in order, in one batch (however
        many they are); each has its own future and its own outcome."""
        items = [_Item(apply, hint) for apply, hint in zip(applies, hints, strict=True)]
        self._put(items, items)
        return [item.future for item in items]

    def _put(self, items: list[_Item], queued: _Item | list[_Item]) -> None:
        with self._lock:
            if self._closed:
                raise Refusal("unavailable", "the ledger is stopping; retry")
            if self._queued + len(items) > self._queue_max and self._queued > 0:
                raise Refusal("unavailable", f"{self._queued} writes are already queued; retry")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dcc-sequencer", daemon=True)
                self._thread.start()
            self._queued += len(items)
            self._queue.put(queued)

    def close(self) -> None:
        """Apply and answer what is queued, then stop the thread; later work is refused."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)  # after everything queued: nothing can follow it
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            items, stop = self._take()
            # A future its waiter cancelled while it was queued is not applied; one taken
            # into a batch can no longer be cancelled.
            items = [item for item in items if item.future.set_running_or_notify_cancel()]
            try:
                self._apply(items)
            except BaseException as exc:  # our bug: answer the batch, keep the thread
                log.exception("the sequencer failed a batch")
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)
            if stop:
                return

    def _take(self) -> tuple[list[_Item], bool]:
        """The next batch: wait for work, then take what else is queued, up to
        ``batch_max`` items (a group is never split, and always taken whole)."""
        first = self._carried or self._queue.get()
        self._carried = None
        if first is _STOP:
            return [], True
        items, stop = _items(first), False
        while len(items) < self._batch_max:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is _STOP or len(items) + len(_items(queued)) > self._batch_max:
                self._carried = queued  # the first of the next batch
                break
            items.extend(_items(queued))
        with self._lock:
            self._queued -= len(items)
        return items, stop

    def _apply(self, items: list[_Item]) -> None:
        if not items:
            return
        try:
            outcomes = self._transaction(items)
        except Exception as exc:  # the transaction failed: nothing of it was applied
            if len(items) == 1:
                items[0].future.set_exception(exc)
                return
            log.warning("a batch of %d failed (%s); applying each alone", len(items), exc)
            for item in items:
                self._apply([item])
            return
        for item, (ok, value) in zip(items, outcomes, strict=True):
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    def _transaction(self, items: list[_Item]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._connect() as conn, conn.begin():
                repo = Repository(conn)
                head = repo.head(lock=True)
                seq = head.seq if head else 0
                batch = Batch(repo, head, self._frontier_at(seq))
                if self._begin is not None:
                    self._begin(batch, seq == self._committed_seq)
                if self._prefetch is not None:
                    self._prefetch(batch, [item.hint for item in items if item.hint is not None])
                for item in items:
                    try:
                        outcomes.append((True, item.apply(batch)))
                    except Refusal as refusal:
                        outcomes.append((False, refusal))
                batch.flush()
        except BaseException:
            self._committed_seq = None  # what ``begin`` wrote is gone: it must run again
            raise
        self._committed_seq = batch.next_seq - 1
        if batch.frontier is not None:  # committed: the tree's frontier at the new head
            self._frontier = (self._committed_seq, batch.frontier)
        return outcomes

    def _frontier_at(self, seq: int) -> dict[Node, bytes] | None:
        """A copy of the Merkle frontier the last batch committed, if the head is still
        where it left it (another process may have appended since: then it is read)."""
        if self._frontier is None or self._frontier[0] != seq:
            return None
        return dict(self._frontier[1])
