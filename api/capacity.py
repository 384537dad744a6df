"""Worker threads, apart for reads, writes and the health check.

Every database call of a request runs in a worker thread. With one shared pool of
threads, writes queued behind the ledger's write lock could take every thread and
every pooled connection, and reads (even ``/healthz``) would wait behind them. So reads
and writes each get their own threads here and their own connection pool in
:class:`~ledger.service.Ledger`; a write that finds ``http_write_queue_max`` others
already waiting for a thread is refused at once (``503 unavailable``) rather than
queued without bound. ``/healthz`` has a thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
from anyio import CapacityLimiter

from ledger.errors import Refusal
from ledger.service import Ledger
from ledger.settings import Settings

T = TypeVar("T")


class Capacity:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._limiters: dict[str, CapacityLimiter] = {}

    def reset(self) -> None:
        """Forget the limiters (they belong to one event loop; a new one makes its own)."""
        self._limiters = {}

    def limiter(self, kind: str, tokens: int) -> CapacityLimiter:
        # Created lazily: a limiter needs a running event loop.
        limiter = self._limiters.get(kind)
        if limiter is None:
            limiter = self._limiters[kind] = CapacityLimiter(tokens)
        return limiter

    async def read(self, function: Callable[..., T], *args: Any) -> T:
        limiter = self.limiter("read", self.settings.http_read_threads_max)
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=limiter)

    async def write(self, function: Callable[..., T], *args: Any) -> T:
        limiter = self.limiter("write", self.settings.http_write_threads_max)
        waiting = limiter.statistics().tasks_waiting
        if limiter.available_tokens < 1 and waiting >= self.settings.http_write_queue_max:
            raise Refusal("unavailable", f"{waiting} writes are already waiting; retry")
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=limiter)

    async def health(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` on the health check's own thread, for at most
        ``health_check_s_max``; :class:`TimeoutError` past it (the thread is abandoned,
        and the health check's single connection keeps the next from piling up)."""
        limiter = self.limiter("health", 1)
        with anyio.fail_after(self.settings.health_check_s_max):
            return await anyio.to_thread.run_sync(
                partial(function, *args), limiter=limiter, abandon_on_cancel=True
            )


def capacity_of(app_state: Any) -> Capacity:
    capacity: Capacity = app_state.capacity
    return capacity


async def read_view(
    request: Any, view: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """``view(repo, *args)`` on a read thread, over the ledger of ``request``'s app: how a
    route reads (``Ledger.read``)."""
    ledger = request.app.state.ledger
    answer: dict[str, Any] = await capacity_of(request.app.state).read(ledger.read, view, *args)
    return answer


async def read_touching(
    app_state: Any, view: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """:meth:`Ledger.read_touching`, with the read on a read thread and the expiry of
    the due pieces it found (a write, for the sequencer) awaited on the event loop:
    however long that wait, it holds no thread and no connection."""
    ledger: Ledger = app_state.ledger
    capacity = capacity_of(app_state)
    result: dict[str, Any] = await capacity.read(ledger.read, view, *args)
    due = ledger.due_ids(result)
    if due:  # re-read even if a concurrent sweep expired them first
        await asyncio.wrap_future(ledger.submit_sweep(due))
        result = await capacity.read(ledger.read, view, *args)
    return result
