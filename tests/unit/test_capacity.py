"""Worker threads apart for reads and writes, and a bounded queue of writes (no database).

Writes here block on a threading.Event, as a real write blocks on the ledger's write
lock; the test releases them itself, so nothing depends on timing.
"""

from __future__ import annotations

import threading

import anyio
import pytest

from api.capacity import Capacity
from ledger.errors import Refusal
from ledger.settings import Settings


def test_reads_run_while_every_write_thread_is_stuck_and_extra_writes_are_refused() -> None:
    capacity = Capacity(
        Settings(http_write_threads_max=2, http_write_queue_max=1, http_read_threads_max=1)
    )
    lock = threading.Event()  # the write lock, held until set
    entered = threading.Semaphore(0)

    def stuck_write() -> str:
        entered.release()
        assert lock.wait(timeout=30), "the test never released the writes"
        return "written"

    async def main() -> None:
        results: list[str] = []

        async def write() -> None:
            results.append(await capacity.write(stuck_write))

        async with anyio.create_task_group() as group:
            for _ in range(3):  # two take the two write threads, one waits for a thread
                group.start_soon(write)
            for _ in range(2):
                await anyio.to_thread.run_sync(entered.acquire)
            while capacity.limiter("write", 2).statistics().tasks_waiting < 1:
                await anyio.sleep(0.01)
            with pytest.raises(Refusal) as refused:  # a fourth finds the queue full
                await capacity.write(stuck_write)
            assert refused.value.type == "unavailable"
            with anyio.fail_after(5):  # a read does not wait for any of them
                assert await capacity.read(lambda: "read") == "read"
            lock.set()
        assert results == ["written"] * 3

    anyio.run(main)


def test_a_write_queue_of_zero_still_lets_writes_take_free_threads() -> None:
    capacity = Capacity(Settings(http_write_threads_max=1, http_write_queue_max=0))

    async def main() -> None:
        assert await capacity.write(lambda: 1) == 1
        assert await capacity.write(lambda: 2) == 2

    anyio.run(main)
