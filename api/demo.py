"""``dcc demo``: a walk through the life of a certificate against a running server.

It plays every party with keys it generates on the spot (the operator's key is the
one ``make run`` created), and signs every command and read on the client side:

1. the operator admits a core enterprise and three suppliers and sets the core's limit;
2. the core issues 1000.00 to its tier-1 supplier, who accepts;
3. tier 1 pays 300.00 to tier 2 (keeping 700.00 change); tier 2 accepts and pays
   120.00 to tier 3, who accepts;
4. discounting: a bank sets a credit line for the core's paper, and ``dcc bank-sim``
   plays it (a separate process that hears webhooks and answers with signed decisions);
   tier 3 asks for a quote, then for 100.00 of its 120.00 to be financed, and the bank
   approves — it now holds that piece;
5. the core looks at the whole tree of its promise (穿透), the bank among its holders.

With ``--state FILE`` it keeps what the second act needs (the core's key, the root, the
bank's id and key: a demo's throwaway keys). ``dcc demo --settle --state FILE``, against
the server restarted on the maturity date (``DCC_CLOCK_OFFSET_S``, for tests and demos
only), plays maturity:

6. the core pays every piece still holding value — the bank's among them — in full
   (``settlement.pay``); its issuance limit and the bank's line are restored; it prints
   each payment and the root closing to the fen.
"""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.client import DccClient
from ledger.certificates import CertificateState
from ledger.keys import (
    generate_private_key,
    load_private_key_pem,
    private_key_pem,
    public_key_b64,
)
from ledger.money import format_fen, parse_amount
from ledger.uscc import make_uscc

_serial = itertools.count(1)


def _new_id() -> str:
    return make_uscc(f"9135{secrets.randbelow(10**9):09d}{next(_serial):04d}")


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def _admit(
    operator: DccClient, name: str, role: str, key: Ed25519PrivateKey | None = None
) -> DccClient:
    key = key or generate_private_key()
    member = _new_id()
    body = {
        "id": member,
        "name": name,
        "roles": [role],
        "public_key": public_key_b64(key.public_key()),
    }
    _ok(operator.submit("member.admit", body))
    return DccClient(operator.http, member, key, ledger=operator.ledger)


def _invoice(amount: str) -> dict[str, str]:
    return {"no": f"{secrets.randbelow(10**20):020d}", "amount": amount}


def _pay(payer: DccClient, piece: str, to: DccClient, amount: str) -> tuple[str, str]:
    """Transfer ``amount`` of ``piece`` to ``to``; returns (their piece, payer's change)."""
    receipt = _ok(
        payer.submit(
            "certificate.transfer",
            {
                "inputs": [piece],
                "outputs": [{"to": to.member, "amount": amount}],
                "trade": {"contract_no": "HT-DEMO", "invoices": [_invoice(amount)]},
            },
        )
    )
    created = [
        c for c in receipt["effects"]["certificates"] if c["state"] != CertificateState.SPENT
    ]
    theirs = next(c["id"] for c in created if c["holder"] == to.member)
    change = next(c["id"] for c in created if c["holder"] == payer.member)
    _ok(to.submit("certificate.accept", {"id": theirs}))
    return theirs, change


BANK_SIM_WAIT_S = 30


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + BANK_SIM_WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _discount(
    operator: DccClient, core: DccClient, holder: DccClient, piece: str, today: Any
) -> dict[str, Any]:
    """A bank played by ``dcc bank-sim`` finances 100.00 of ``piece``: the quote and the
    financing as decided."""
    bank_key = generate_private_key()
    bank = _admit(operator, "Demo Bank", "bank", bank_key)
    line = {
        "core": core.member,
        "amount": "1000000.00",
        "annual_rate": "0.0385",
        "expires_on": (today + timedelta(days=365)).isoformat(),
    }
    _ok(bank.submit("credit_line.set", line))
    with tempfile.TemporaryDirectory() as state:
        key_file = Path(state) / "bank.key"
        key_file.write_bytes(private_key_pem(bank_key))
        command = [
            *(sys.executable, "-m", "api.cli", "bank-sim", "--member", bank.member),
            *("--key", str(key_file), "--service", str(operator.http.base_url)),
            *("--port", str(_free_port()), "--state-dir", state, "--approve-up-to", "1000.00"),
        ]
        sim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _until(
                lambda: _ok(bank.get(f"/v1/webhooks/{bank.member}"))["endpoints"],
                "the bank simulator to register its webhook",
            )
            path = f"/v1/financing/quote?certificate={piece}&bank={bank.member}&amount=100.00"
            quote = _ok(holder.get(path))
            body = {"certificate": piece, "bank": bank.member, "amount": "100.00"}
            applied = _ok(holder.submit("financing.apply", body))
            financing_id = applied["effects"]["financings"][0]["id"]

            def decided() -> dict[str, Any] | None:
                shown = _ok(holder.get(f"/v1/financings/{financing_id}"))
                return shown if shown["state"] != "requested" else None

            financing = _until(decided, "the bank's decision")
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    return {"bank": bank.member, "quote": quote, "financing": financing}


def run(
    http: httpx.Client,
    operator_id: str,
    operator_key: Ed25519PrivateKey,
    state: Path | None = None,
) -> dict[str, Any]:
    operator = DccClient(http, operator_id, operator_key)  # asks the server its ledger id
    core = _admit(operator, "Core Builder Group", "core")
    tier1, tier2, tier3 = (_admit(operator, f"Tier {n} Supplier", "supplier") for n in (1, 2, 3))
    _ok(operator.submit("limit.set", {"member": core.member, "amount": "5000000.00"}))

    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
    issued = _ok(
        core.submit(
            "certificate.issue",
            {
                "to": tier1.member,
                "amount": "1000.00",
                "maturity": (today + timedelta(days=90)).isoformat(),
                "trade": {"contract_no": "HT-2026-001", "invoices": [_invoice("1000.00")]},
            },
        )
    )
    root = issued["effects"]["certificates"][0]["id"]
    _ok(tier1.submit("certificate.accept", {"id": root}))
    piece2, _ = _pay(tier1, root, tier2, "300.00")
    piece3, _ = _pay(tier2, piece2, tier3, "120.00")
    discounting = _discount(operator, core, tier3, piece3, today)
    if state is not None:
        kept = {
            "core": core.member,
            "core_key": private_key_pem(core.private_key).decode(),
            "root": root,
            "bank": discounting["bank"],
        }
        state.write_text(json.dumps(kept, indent=2))
    return {"tree": _ok(core.get(f"/v1/certificates/{root}/tree"))} | discounting


def settle(http: httpx.Client, state: Path) -> dict[str, Any]:
    """The second act, on the maturity date: the core pays every piece of its root that
    still holds value, in full; the payments and the tree as they end."""
    kept = json.loads(state.read_text())
    core = DccClient(http, kept["core"], load_private_key_pem(kept["core_key"].encode()))
    root = kept["root"]
    tree = _ok(core.get(f"/v1/certificates/{root}/tree"))
    holding = [p["id"] for p in tree["pieces"] if p["state"] in _PAYABLE]
    paid = _ok(core.submit("settlement.pay", {"pieces": holding, "payment_ref": "DEMO-PAY-1"}))
    return {
        "payments": paid["effects"]["payments"],
        "limits": paid["effects"]["limits"],
        "lines": paid["effects"].get("credit_lines", []),
        "tree": _ok(core.get(f"/v1/certificates/{root}/tree")),
    }


_PAYABLE = (CertificateState.ACTIVE, CertificateState.OVERDUE)


def render_settlement(settled: dict[str, Any]) -> str:
    lines = [
        f"paid       {p['amount']:>10}  to {p['holder']}  late {p['days_late']} days  "
        f"interest {p['late_interest']}  ref {p['payment_ref']}"
        for p in settled["payments"]
    ]
    (limit,) = settled["limits"]
    lines.append(f"limit      outstanding {limit['outstanding']} of {limit['limit']}")
    lines += [f"line       {line['bank']}  used {line['used']}" for line in settled["lines"]]
    tree = settled["tree"]
    paid_fen = sum(parse_amount(p.get("paid", "0.00"), allow_zero=True) for p in tree["pieces"])
    lines.append(f"root {tree['root_id']}  face {tree['face_amount']}  paid {format_fen(paid_fen)}")
    for piece in tree["pieces"]:
        lines.append(
            f"  level {piece['level']}  {piece['state']:<8} {piece['amount']:>10}  "
            f"holder {piece['holder']}  id {piece['id']}"
        )
    return "\n".join(lines)


def render(walked: dict[str, Any]) -> str:
    tree, quote, financing = walked["tree"], walked["quote"], walked["financing"]
    terms = financing["terms"] or {}
    lines = [
        f"quote      {quote['face']} at {quote['rate']} for {quote['days']} days to "
        f"{quote['payment_date']}: interest {quote['interest']}, fee {quote['fee']}, "
        f"disbursement {quote['disbursement']}",
        f"financing  {financing['id']}  {financing['state']}  registration "
        f"{financing['registration_ref']}  disbursement {terms.get('disbursement')}",
        f"root {tree['root_id']}  face {tree['face_amount']}  matures {tree['maturity']}",
    ]
    for piece in tree["pieces"]:
        lines.append(
            f"  level {piece['level']}  {piece['state']:<8} {piece['amount']:>10}  "
            f"holder {piece['holder']}  id {piece['id']}"
        )
    return "\n".join(lines)
