"""The sequencer in a process of its own, fed by the server's worker processes.

In one Python process the HTTP front and the sequencer share one interpreter lock, and
each slows the other: every call that releases the lock (a signature check, a socket
write, a database call) waits to get it back while the other runs (docs/BENCHMARKS.md).
``dcc serve`` therefore runs the ledger's one sequencer in a process of its own
(:func:`serve`), and every worker process forwards its prepared commands to it over a
local socket (:class:`RemoteSequencer`): the workers parse, verify and answer HTTP; the
sequencer process only applies batches. Its commits answer the workers, which answer
their clients.

The wire between them is ``multiprocessing.connection`` (length-prefixed pickles over a
Unix socket, with a random key both sides were given): a request is ``(id, "command",
prepared)`` or ``(id, "sweep", ids, batch_max, financing_ids)``; the answer ``(id, ok, value)``, the
receipt or the refusal. If the sequencer process goes away, every command waiting for
it is answered ``unavailable`` (nothing of it was acknowledged; a client retries the
identical envelope and gets its receipt if it was in fact committed), and the next one
connects again. The sequencer process ends with its parent; ``dcc serve`` starts
another should it end first.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from ledger.errors import Refusal

log = logging.getLogger("dcc.sequencer")

SOCKET_ENV = "DCC_SEQUENCER_SOCKET"
KEY_ENV = "DCC_SEQUENCER_KEY"
_PR_SET_PDEATHSIG = 1


class RemoteSequencer:
    """A worker's link to the sequencer process: submit, get a future."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self._address = address
        self._authkey = authkey
        self._lock = threading.Lock()  # guards what follows
        self._conn: Connection | None = None
        self._waiting: dict[int, tuple[Connection, Future[Any]]] = {}
        self._ids = itertools.count(1)

    def command(self, prepared: Any) -> Future[Any]:
        return self._send("command", prepared)

    def sweep(self, ids: Sequence[str], batch_max: int, financings: Sequence[str]) -> Future[Any]:
        return self._send("sweep", list(ids), batch_max, list(financings))

    def _send(self, kind: str, *payload: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            conn = self._connected()
            request_id = next(self._ids)
            self._waiting[request_id] = (conn, future)
            try:
                conn.send((request_id, kind, *payload))
            except OSError as exc:
                self._waiting.pop(request_id, None)
                self._conn = None
                raise Refusal("unavailable", "the sequencer cannot be reached; retry") from exc
        return future

    def _connected(self) -> Connection:
        if self._conn is None:
            try:
                self._conn = Client(self._address, family="AF_UNIX", authkey=self._authkey)
            except OSError as exc:
                raise Refusal("unavailable", "the sequencer cannot be reached; retry") from exc
            threading.Thread(
                target=self._receive, args=(self._conn,), name="dcc-sequencer-link", daemon=True
            ).start()
        return self._conn

    def _receive(self, conn: Connection) -> None:
        """Answer each waiting future as its answer comes; all of them if the link drops."""
        try:
            while True:
                request_id, ok, value = conn.recv()
                with self._lock:
                    _, future = self._waiting.pop(request_id, (None, None))
                if future is not None:
                    (future.set_result if ok else future.set_exception)(value)
        except (EOFError, OSError):
            pass
        with self._lock:
            if self._conn is conn:
                self._conn = None
            lost = [i for i, (link, _) in self._waiting.items() if link is conn]
            futures = [self._waiting.pop(i)[1] for i in lost]
        for future in futures:
            future.set_exception(Refusal("unavailable", "the sequencer went away; retry"))


def serve(url: str, address: str, authkey: bytes, ready: Any) -> None:
    """The sequencer process: a ledger on ``url`` whose sequencer applies what the
    workers send to ``address``; ``ready`` is set once it listens. Ends with its parent."""
    from ledger.db import make_engine
    from ledger.service import Ledger

    end_with_parent("dcc-sequencer")
    ledger = Ledger(make_engine(url, pool_size=1, max_overflow=0))
    if os.path.exists(address):  # left by a sequencer process that ended
        os.unlink(address)
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    ready.set()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        try:
            conn = listener.accept()
        except OSError:
            continue  # a worker that failed the key, or went away while connecting
        threading.Thread(
            target=_serve_worker, args=(ledger, conn), name="dcc-worker-link", daemon=True
        ).start()


def _serve_worker(ledger: Any, conn: Connection) -> None:
    send_lock = threading.Lock()

    def answer(request_id: int, future: Future[Any]) -> None:
        error = future.exception()
        message = (request_id, error is None, future.result() if error is None else error)
        with send_lock:
            try:
                try:
                    conn.send(message)
                except (pickle.PicklingError, TypeError, AttributeError):
                    # A failure that does not pickle (a driver's error): its text.
                    conn.send((request_id, False, RuntimeError(repr(error))))
            except OSError:
                pass  # the worker went away; its client was never answered

    try:
        while True:
            request_id, kind, *payload = conn.recv()
            submit: Callable[[], Future[Any]]
            if kind == "command":
                [prepared] = payload
                submit = partial(ledger.sequence, prepared)
            else:
                submit = partial(ledger.submit_sweep, *payload)
            try:
                future = submit()
            except Refusal as refusal:
                future = Future()
                future.set_exception(refusal)
            future.add_done_callback(partial(answer, request_id))
    except (EOFError, OSError):
        conn.close()


def end_with_parent(name: str) -> None:
    """Ask Linux to end this process when its parent ends (``prctl(PR_SET_PDEATHSIG)``),
    and name it ``name`` (its ``comm``, as ``ps`` and ``/proc`` show it)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        log.warning("cannot ask to end with the parent process")
