"""``dcc bank-sim``: a small, real bank that hears the ledger's webhooks and answers.

It is what a bank's integration does, in one process, for demos and end-to-end tests:

1. serve HTTP on ``127.0.0.1:PORT`` at ``/webhook``, then register that URL with a signed
   ``webhook.set`` (retried until the service answers) and fetch the endpoint's secret
   with a signed read — a delivery that comes before then is answered ``503`` and comes
   again;
2. verify every delivery with the published ``standardwebhooks`` package (a bad
   signature, or a timestamp more than five minutes off, is refused ``401``; the secret is
   fetched again once first, in case it was rotated);
3. deduplicate by ``webhook-id`` in a file that survives its own restart (``SEEN``: one id
   a line, appended and synced before the answer), so the bank's logic handles each
   event once however often the ledger sends it;
4. decide: a ``financing.requested`` up to ``--approve-up-to`` is approved with a
   registration reference it makes up, one above is rejected, by a signed
   ``financing.decide``; a ``certificate.received`` (a piece sent to the bank) is
   accepted with a signed ``certificate.accept``. Each command's nonce is derived from
   the webhook-id, so should the bank die between acting and recording the id, the
   command sent again is recognised by the ledger (``replayed-nonce``: already done) —
   acted on once either way.

Every event handled is also appended to ``HANDLED`` (JSON lines: ``webhook_id``,
``type``, ``id``, ``outcome``), which is what the tests read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.client import DccClient
from ledger.money import parse_amount

log = logging.getLogger("dcc.banksim")
EVENTS = ["financing.requested", "certificate.received"]
REGISTER_RETRY_S = 0.5
ALREADY_DONE = "replayed-nonce"  # the command this webhook-id derives was applied before


class Unavailable(Exception):
    """The ledger could not be reached or was busy: the delivery is to come again."""


@dataclass
class Ledgered:
    """What the bank needs of the ledger: its signing client and the endpoint's secrets."""

    client: DccClient
    url: str
    secrets: list[str] = field(default_factory=list)

    def register(self) -> None:
        answer = self.client.submit("webhook.set", {"url": self.url, "events": EVENTS})
        if answer.status_code not in (200, 201):
            raise Unavailable(f"webhook.set answered {answer.status_code}: {answer.text}")
        self.fetch_secrets()

    def fetch_secrets(self) -> None:
        answer = self.client.get(f"/v1/webhooks/{self.client.member}/secret")
        if answer.status_code != 200:
            raise Unavailable(f"the secret read answered {answer.status_code}")
        self.secrets = [e["secret"] for e in answer.json()["endpoints"] if e["url"] == self.url]

    def submit(self, command_type: str, body: dict[str, Any], webhook_id: str) -> str:
        """Submit the command this webhook leads to, with a nonce derived from it; the
        outcome in a word (``applied``, ``already-done`` or the refusal's type)."""
        nonce = hashlib.sha256(f"{command_type}:{webhook_id}".encode()).hexdigest()[:32]
        try:
            answer = self.client.submit(command_type, body, nonce=nonce)
        except httpx.HTTPError as exc:
            raise Unavailable(str(exc)) from exc
        if answer.status_code in (200, 201):
            return "applied"
        if answer.status_code >= 500:
            raise Unavailable(f"{command_type} answered {answer.status_code}")
        problem = answer.json().get("type", str(answer.status_code))
        return "already-done" if problem == ALREADY_DONE else f"refused:{problem}"


class Journal:
    """The ids already handled (``SEEN``) and what was done (``HANDLED``), on disk."""

    def __init__(self, seen: Path, handled: Path) -> None:
        self.seen_path, self.handled_path = seen, handled
        self.seen = set(seen.read_text().split()) if seen.exists() else set()

    def record(self, webhook_id: str, entry: dict[str, Any]) -> None:
        _append(self.handled_path, json.dumps(entry, sort_keys=True))
        _append(self.seen_path, webhook_id)
        self.seen.add(webhook_id)


def _append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def decision(data: dict[str, Any], approve_up_to_fen: int) -> dict[str, Any]:
    """The bank's policy on a financing request: approve up to an amount, with a
    registration reference it makes up; reject above.

    >>> decision({"id": "f1", "face": "900.00"}, 1000_00)["approve"]
    True
    >>> decision({"id": "f1", "face": "1000.01"}, 1000_00)
    {'id': 'f1', 'approve': False, 'reason': 'above what this bank finances'}
    """
    face_fen = parse_amount(data["face"])
    if face_fen <= approve_up_to_fen:
        reference = "BANKSIM-" + hashlib.sha256(data["id"].encode()).hexdigest()[:12].upper()
        return {"id": data["id"], "approve": True, "registration_ref": reference}
    return {"id": data["id"], "approve": False, "reason": "above what this bank finances"}


@dataclass
class Bank:
    ledger: Ledgered
    journal: Journal
    approve_up_to_fen: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: threading.Event = field(default_factory=threading.Event)

    def verify(self, body: str, headers: dict[str, str]) -> dict[str, Any]:
        """The event, if some secret in force signed it; the secrets are fetched again
        once before a delivery is refused (they may have been rotated)."""
        for fetch_first in (False, True):
            if fetch_first:
                self.ledger.fetch_secrets()
            for secret in self.ledger.secrets:
                try:
                    event: dict[str, Any] = Webhook(secret).verify(body, headers)
                    return event
                except (WebhookVerificationError, ValueError):
                    continue
        raise WebhookVerificationError("no secret of this endpoint signed it")

    def handle(self, webhook_id: str, event: dict[str, Any]) -> str:
        """Act on ``event`` once: ``handled``, or ``duplicate`` if it was before."""
        with self.lock:
            if webhook_id in self.journal.seen:
                return "duplicate"
            data, kind = event["data"], event["type"]
            outcome = self.act(kind, data, webhook_id)
            entry = {"webhook_id": webhook_id, "type": kind, "id": data.get("id")}
            self.journal.record(webhook_id, entry | {"outcome": outcome})
            return "handled"

    def act(self, kind: str, data: dict[str, Any], webhook_id: str) -> str:
        me = self.ledger.client.member
        if kind == "financing.requested" and data.get("bank") == me:
            body = decision(data, self.approve_up_to_fen)
            return self.ledger.submit("financing.decide", body, webhook_id)
        if kind == "certificate.received" and data.get("holder") == me:
            return self.ledger.submit("certificate.accept", {"id": data["id"]}, webhook_id)
        return "ignored"


def _handler(bank: Bank) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            headers = {name.lower(): value for name, value in self.headers.items()}
            if self.path != "/webhook":
                return self.answer(404, {"error": "no such path"})
            if not bank.ready.is_set():
                return self.answer(503, {"error": "not registered yet"}, retry_after=1)
            try:
                event = bank.verify(body, headers)
                outcome = bank.handle(headers["webhook-id"], event)
            except WebhookVerificationError as exc:
                return self.answer(401, {"error": str(exc)})
            except Unavailable as exc:
                return self.answer(503, {"error": str(exc)}, retry_after=1)
            return self.answer(200, {"outcome": outcome})

        def answer(self, status: int, payload: dict[str, Any], retry_after: int = 0) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if retry_after:
                self.send_header("retry-after", str(retry_after))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return Handler


def register_until_ready(bank: Bank, stop: Callable[[], bool]) -> None:
    while not stop():
        try:
            bank.ledger.register()
            bank.ready.set()
            log.info("registered %s", bank.ledger.url)
            return
        except (Unavailable, httpx.HTTPError) as exc:
            log.info("registering failed (%s); trying again", exc)
            time.sleep(REGISTER_RETRY_S)


def run(
    member: str,
    key: Ed25519PrivateKey,
    service: str,
    port: int,
    approve_up_to_fen: int,
    state_dir: Path,
) -> None:
    """Serve until interrupted (see the module)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(state_dir / f"banksim-{member}.seen", state_dir / f"banksim-{member}.handled")
    http = httpx.Client(base_url=service, timeout=30)
    client = DccClient(http, member, key)
    bank = Bank(Ledgered(client, f"http://127.0.0.1:{port}/webhook"), journal, approve_up_to_fen)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(bank))
    stopped = threading.Event()
    threading.Thread(
        target=register_until_ready, args=(bank, stopped.is_set), name="register", daemon=True
    ).start()
    print(f"bank-sim {member} listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        stopped.set()
        server.server_close()
        http.close()
