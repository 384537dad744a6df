"""`dcc serve` runs the sequencer in a process of its own: killed, it is started again,
and no acknowledged command is lost."""

from __future__ import annotations

import os
import signal
import time

import httpx

from api.client import DccClient
from tests.conftest import Chain, business_date
from tests.e2e.conftest import process_name, running
from tests.e2e.test_workers import _cmdline

RECOVERY_S_MAX = 30


def test_a_killed_sequencer_process_is_replaced_and_loses_nothing_acknowledged(
    chain: Chain, database_url: str
) -> None:
    with running(database_url, ("--workers", "1")) as server:
        http = httpx.Client(base_url=f"http://{server.host}:{server.port}", timeout=30)
        client = DccClient(http, chain.core.id, chain.core.key, ledger=chain.ledger.ledger_id())
        acknowledged = [_issue(chain, client, n) for n in range(3)]
        assert all(answer.status_code == 201 for answer in acknowledged)
        first = _sequencer_pid(server.pid)
        os.kill(first, signal.SIGKILL)
        deadline, statuses = time.monotonic() + RECOVERY_S_MAX, []
        while time.monotonic() < deadline:
            answer = _issue(chain, client, 100 + len(statuses))
            statuses.append(answer.status_code)
            if answer.status_code == 201:
                break
            assert answer.status_code == 503, answer.text  # refused, retry: never a 500
            assert answer.json()["type"] == "unavailable"
            time.sleep(0.2)
        assert statuses[-1] == 201, statuses
        assert _sequencer_pid(server.pid) != first
        http.close()
    for answer in acknowledged:  # durable: what was acknowledged is in the journal
        entry = chain.ledger.read(lambda repo, seq: repo.entry(seq), answer.json()["seq"])
        assert entry is not None and entry.entry.entry_hash == answer.json()["entry_hash"]
    assert chain.ledger.verify().ok


def _issue(chain: Chain, client: DccClient, n: int) -> httpx.Response:
    body = {
        "to": chain.s1.id,
        "amount": "10.00",
        "maturity": business_date(chain.clock, 60),
        "trade": {"contract_no": f"K{n}", "invoices": [chain.new_invoice("10.00")]},
    }
    return client.submit("certificate.issue", body)


def _sequencer_pid(server_pid: int) -> int:
    """The server's sequencer child: with one worker, uvicorn serves in the server's
    own process; its spawned children are the sequencer and the webhook relay, each
    named (``ledger.remote.end_with_parent``)."""
    pids = []
    for task in os.listdir(f"/proc/{server_pid}/task"):  # a restart is another thread's child
        with open(f"/proc/{server_pid}/task/{task}/children") as children:
            pids += [int(child) for child in children.read().split()]
    found = [
        pid
        for pid in pids
        if b"spawn_main" in _cmdline(pid) and process_name(pid) == "dcc-sequencer"
    ]
    assert len(found) == 1, found
    return found[0]
