"""``dcc demo``: a walk through the life of a certificate against a running server.

It plays every party with keys it generates on the spot (the operator's key is the
one ``make run`` created), and signs every command and read on the client side:

1. the operator admits a core enterprise and three suppliers and sets the core's limit;
2. the core issues 1000.00 to its tier-1 supplier, who accepts;
3. tier 1 pays 300.00 to tier 2 (keeping 700.00 change); tier 2 accepts and pays
   120.00 to tier 3, who accepts;
4. the core looks at the whole tree of its promise (穿透).
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.client import DccClient
from ledger.certificates import CertificateState
from ledger.keys import generate_private_key, public_key_b64
from ledger.uscc import make_uscc

_serial = itertools.count(1)


def _new_id() -> str:
    return make_uscc(f"9135{secrets.randbelow(10**9):09d}{next(_serial):04d}")


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def _admit(operator: DccClient, name: str, role: str) -> DccClient:
    key = generate_private_key()
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


def run(http: httpx.Client, operator_id: str, operator_key: Ed25519PrivateKey) -> dict[str, Any]:
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
    _pay(tier2, piece2, tier3, "120.00")
    return _ok(core.get(f"/v1/certificates/{root}/tree"))


def render(tree: dict[str, Any]) -> str:
    lines = [f"root {tree['root_id']}  face {tree['face_amount']}  matures {tree['maturity']}"]
    for piece in tree["pieces"]:
        lines.append(
            f"  level {piece['level']}  {piece['state']:<8} {piece['amount']:>10}  "
            f"holder {piece['holder']}  id {piece['id']}"
        )
    return "\n".join(lines)
