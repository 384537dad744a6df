"""The checkpointer: sign a checkpoint of the tree whenever one is due.

Due means ``checkpoint_entries`` entries since the latest checkpoint, or any entry and
``checkpoint_interval_s`` seconds (``ledger.transparency.checkpoint_due``); the job
looks every few seconds. Without a log key it does nothing (and says so once): the
checkpoint routes answer ``unavailable`` and everything else works as before.
"""

from __future__ import annotations

import logging
import threading

from ledger.errors import Refusal
from ledger.limits import CHECKPOINT_POLL_S_MAX
from ledger.service import Ledger

log = logging.getLogger("dcc.checkpointer")


def run(ledger: Ledger, poll_s: float, stop: threading.Event) -> None:
    """Look every ``poll_s`` until ``stop`` is set."""
    told = False
    while not stop.wait(poll_s):
        try:
            size = ledger.checkpoint()
            if size is not None:
                log.info("checkpoint signed at size %d", size)
        except Refusal as refusal:  # no log key: nothing to sign with
            if not told:
                log.warning("checkpoints are not signed: %s", refusal.detail)
                told = True
        except Exception:  # retried at the next tick; the server stays up
            log.exception("checkpoint failed")


def start(ledger: Ledger) -> threading.Event:
    """Run the checkpointer on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    poll_s = min(CHECKPOINT_POLL_S_MAX, ledger.settings.checkpoint_interval_s)
    threading.Thread(
        target=run, args=(ledger, poll_s, stop), name="dcc-checkpointer", daemon=True
    ).start()
    return stop
