"""The sweep: every ``sweep_interval_s``, write every system entry the clock makes due
(``Ledger.submit_sweep``: expiries, maturity, overdue marks, settlement notices)."""

from __future__ import annotations

import logging
import threading

from ledger.service import Ledger

log = logging.getLogger("dcc.sweeper")


def run(ledger: Ledger, interval_s: float, stop: threading.Event) -> None:
    """Sweep every ``interval_s`` until ``stop`` is set."""
    while not stop.wait(interval_s):
        try:
            written = ledger.sweep_all()
            if written:
                log.info("sweep wrote %d expiry entries", written)
        except Exception:  # a failed sweep is retried at the next tick; the server stays up
            log.exception("sweep failed")


def start(ledger: Ledger) -> threading.Event:
    """Run the sweep on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    if ledger.settings.sweep_interval_s > 0:
        threading.Thread(
            target=run,
            args=(ledger, ledger.settings.sweep_interval_s, stop),
            name="dcc-sweeper",
            daemon=True,
        ).start()
    return stop
