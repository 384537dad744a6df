"""The webhook relay: sends what the outbox holds, at least once, off the write path.

The batch writes an outbox message in the same transaction as the entry behind it
(``ledger.outbox``); this job sends them. It runs exactly once per deployment — in a
process of its own under ``dcc serve`` (:func:`serve`, supervised like the sequencer's),
whatever ``--workers`` says, and on a thread of the app when the app runs in process —
on an event loop of its own, with its own database connections: it never runs on the
sequencer's thread, never holds the chain head, and a slow or dead endpoint costs it
one of ``webhook_sends_max`` concurrent sends, never a write. (In a process of its own
it does not even share an interpreter lock with the writer: docs/BENCHMARKS.md.)

A round of the loop: read the due messages (oldest first, at most
``webhook_claim_max``), take those it has room for — ``webhook_sends_max`` in flight in
all, ``webhook_endpoint_sends_max`` per endpoint — by *claiming* each (moving its next
attempt past a lease of the timeout and a margin, so that should the process die while
sending, the message is due again once the lease ends: at least once, and two relays on
one database never send one message at the same time), then send each:

* ``POST`` the stored body to the endpoint with the Standard Webhooks headers
  (``ledger.webhooks.headers``), signed with every secret in force, within
  ``webhook_timeout_s`` for the whole exchange; redirects are not followed;
* record the attempt (status, latency, the first bytes of the answer) and what follows
  (``ledger.webhooks.next_attempt``): delivered on any 2xx; on anything else the next
  attempt of the schedule, with jitter, and ``Retry-After`` honoured on 429, 502 and
  504; failed once the schedule runs out; on 410 Gone failed and the endpoint disabled
  (its member sets it again to enable it).

A message whose endpoint was deleted, disabled, or whose host the deployment no longer
allows fails without being sent. Messages done for longer than ``webhook_retention_s``
are purged with their attempts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine

from ledger import outbox, webhooks
from ledger.db import write_transaction
from ledger.outbox import Attempt, Due
from ledger.settings import Settings
from ledger.webhooks import DeliveryState, EndpointState, Next, Outcome

log = logging.getLogger("dcc.relay")
T = TypeVar("T")
LEASE_MARGIN_S = 5  # past the timeout, before a claimed message is due again
PURGE_EVERY_S = 60
PURGE_BATCH_MAX = 1000


class Relay:
    """The relay on ``engine`` (see the module); :meth:`start` runs it on a thread."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.schedule = settings.retry_schedule_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: Counter[str] = Counter()  # endpoint id -> sends in flight
        self._database = ThreadPoolExecutor(1, thread_name_prefix="dcc-relay-db")
        self._last_purge = 0.0

    def start(self) -> Relay:
        self._thread = threading.Thread(target=self._run, name="dcc-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5) -> None:
        """Stop sending (what is in flight is abandoned: its lease brings it back)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._database.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._loop())
        except Exception:  # pragma: no cover - our bug; the log says what
            log.exception("the webhook relay stopped")

    async def _loop(self) -> None:
        settings = self.settings
        limits = httpx.Limits(
            max_connections=settings.webhook_sends_max, max_keepalive_connections=64
        )
        timeout = httpx.Timeout(float(settings.webhook_timeout_s))  # float-ok: seconds, not money
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as http:
            while not self._stop.is_set():
                try:
                    for message in await self._take():
                        task = asyncio.create_task(self._deliver(http, message))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    await self._purge_now_and_then()
                except Exception:  # a database hiccup: try again at the next round
                    log.exception("webhook relay round failed")
                await asyncio.sleep(settings.webhook_poll_ms / 1000)
            for task in tasks:
                task.cancel()

    async def _db(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a short write transaction on the relay's own connection."""

        def run() -> T:
            with write_transaction(self.engine) as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._database, run)

    async def _take(self) -> list[Due]:
        """Claim the due messages there is room for."""
        settings = self.settings
        room = settings.webhook_sends_max - sum(self._in_flight.values())
        if room <= 0:
            return []
        moment = self._now_ms()
        found = await self._db(lambda conn: outbox.due(conn, moment, settings.webhook_claim_max))
        wanted: list[Due] = []
        planned = Counter(self._in_flight)
        for message in found:
            if len(wanted) >= room:
                break
            if planned[message.endpoint_id] < settings.webhook_endpoint_sends_max:
                planned[message.endpoint_id] += 1
                wanted.append(message)
        if not wanted:
            return []
        lease_ms = moment + (settings.webhook_timeout_s + LEASE_MARGIN_S) * 1000

        def claim_all(conn: Connection) -> list[Due]:
            return [m for m in wanted if outbox.claim(conn, m, lease_ms)]

        claimed = await self._db(claim_all)
        for message in claimed:
            self._in_flight[message.endpoint_id] += 1
        return claimed

    async def _deliver(self, http: httpx.AsyncClient, message: Due) -> None:
        try:
            attempt, step = await self._attempt(http, message)
            await self._db(lambda conn: outbox.record(conn, message, attempt, step))
        except Exception:  # recorded as nothing: the lease brings the message back
            log.exception("webhook %s: the attempt was not recorded", message.id)
        finally:
            self._in_flight[message.endpoint_id] -= 1
            if self._in_flight[message.endpoint_id] <= 0:
                del self._in_flight[message.endpoint_id]

    async def _attempt(self, http: httpx.AsyncClient, message: Due) -> tuple[Attempt, Next]:
        started_s = self.clock()
        refused = self._refusal(message)
        if refused is not None:  # not sent at all
            return Attempt(int(started_s * 1000), None, 0, refused, None), Next(
                DeliveryState.FAILED, None
            )
        secrets = list(message.secrets)
        if not secrets:  # its secret row was lost: make one (its member fetches it again)
            made = await self._db(
                lambda conn: outbox.ensure_secret(conn, message.endpoint_id, message.member, 0)
            )
            secrets = [made]
        headers = webhooks.headers(secrets, message.id, int(started_s), message.body)
        status, retry_after_s, response, error = None, None, None, None
        began = time.monotonic()
        try:
            status, retry_after_s, response = await asyncio.wait_for(
                self._post(http, message, headers), self.settings.webhook_timeout_s
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        latency_ms = int((time.monotonic() - began) * 1000)
        attempt = Attempt(int(started_s * 1000), status, latency_ms, error, response)
        step = webhooks.next_attempt(
            Outcome(status, retry_after_s),
            message.round_attempts + 1,
            self.schedule,
            self.rng.uniform(-1, 1) * self.settings.webhook_jitter_pct / 100,
            self.settings.webhook_retry_after_s_max,
        )
        return attempt, step

    async def _post(
        self, http: httpx.AsyncClient, message: Due, headers: dict[str, str]
    ) -> tuple[int, float | None, str]:
        """POST the message; its status, the Retry-After it asks for and the first bytes
        of its answer (no more is read)."""
        excerpt_max = self.settings.webhook_response_excerpt_bytes_max
        body = message.body.encode()
        async with http.stream("POST", message.url, content=body, headers=headers) as answer:
            kept = b""
            async for chunk in answer.aiter_raw():
                kept += chunk
                if len(kept) >= excerpt_max:
                    break
            now = datetime.fromtimestamp(self.clock(), UTC)
            retry_after = webhooks.parse_retry_after(answer.headers.get("retry-after"), now)
            text = kept[:excerpt_max].decode("utf-8", "replace").replace("\x00", "")
            return answer.status_code, retry_after, text

    def _refusal(self, message: Due) -> str | None:
        """Why ``message`` is not to be sent at all, or None."""
        if message.endpoint_state != EndpointState.ACTIVE:
            return "the endpoint was deleted"
        if message.disabled:
            return "the endpoint is disabled (it answered 410 Gone); set it again to enable it"
        host = urlsplit(message.url).hostname or ""
        if not webhooks.host_allowed(host, self.settings.webhook_allowed_hosts):
            return f"host {host!r} is no longer among the allowed hosts"
        return None

    async def _purge_now_and_then(self) -> None:
        if self.clock() - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = self.clock()
        before_ms = self._now_ms() - self.settings.webhook_retention_s * 1000
        purged = await self._db(lambda conn: outbox.purge(conn, before_ms, PURGE_BATCH_MAX))
        if purged:
            log.info("purged %d delivered or failed webhook messages", purged)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def start(ledger: Any) -> Relay:
    """Run the relay for ``ledger`` (a ``ledger.service.Ledger``) on engines of its own."""
    return Relay(ledger.job_engine(2), ledger.settings).start()


def serve(url: str, parent_pid: int) -> None:
    """The relay's process under ``dcc serve``: the relay on ``url`` for as long as its
    parent ``parent_pid`` lives (the settings are the ``DCC_*`` environment's).

    Linux ends it with its parent (``end_with_parent``), but only from the moment it asks
    to be, and importing takes a while: a parent killed before then would leave it
    running for ever. So it also checks, now and every second, that its parent is the
    one that started it."""
    from ledger.db import make_engine
    from ledger.remote import end_with_parent

    end_with_parent("dcc-relay")
    if os.getppid() != parent_pid:
        os._exit(0)
    settings = Settings.from_env()
    Relay(make_engine(url, pool_size=2, max_overflow=0), settings).start()
    while os.getppid() == parent_pid:
        time.sleep(1)
    os._exit(0)
