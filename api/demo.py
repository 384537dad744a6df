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

With ``--keep DIR`` it keeps every party it made — each one's key (``core.key``,
``tier1.key`` … ``bank.key``, with its ``.pub``) and ``parties.json`` (ids, names, roles,
the root, the server and ledger) — so that one can go on as them with ``dcc get`` and
``dcc submit``.

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
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
    return {"bank": bank.member, "bank_party": bank, "quote": quote, "financing": financing}


def run(
    http: httpx.Client,
    operator_id: str,
    operator_key: Ed25519PrivateKey,
    state: Path | None = None,
    keep: Path | None = None,
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
    if keep is not None:
        parties = {"core": core, "tier1": tier1, "tier2": tier2, "tier3": tier3}
        keep_parties(keep, parties | {"bank": discounting["bank_party"]}, root)
    return {"tree": _ok(core.get(f"/v1/certificates/{root}/tree"))} | discounting


PARTIES_FILE = "parties.json"


def keep_parties(directory: Path, parties: dict[str, DccClient], root: str) -> None:
    """Write each party's key (NAME.key, mode 0600, never over another; NAME.pub) and
    ``parties.json``: who they are and where, to go on as them."""
    directory.mkdir(parents=True, exist_ok=True)
    shown: dict[str, Any] = {}
    for name, party in parties.items():
        key_path = directory / f"{name}.key"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_key_pem(party.private_key))
        public = public_key_b64(party.private_key.public_key())
        key_path.with_suffix(".pub").write_text(public + "\n")
        member = _ok(party.get(f"/v1/members/{party.member}"))
        shown[name] = {
            "id": party.member,
            "name": member["name"],
            "roles": member["roles"],
            "key": key_path.name,
        }
    first = next(iter(parties.values()))
    kept = {
        "url": str(first.http.base_url).rstrip("/"),
        "ledger": first.ledger,
        "root": root,
        "parties": shown,
    }
    (directory / PARTIES_FILE).write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")


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
    lines += draw_tree(tree["pieces"])
    return "\n".join(lines)


def draw_tree(pieces: list[dict[str, Any]]) -> list[str]:
    """The pieces of a root (wire form, in order of creation) drawn as a tree: each piece
    under the piece it was split from, siblings in order of creation. A piece made from
    several inputs sits under the first and names the others (``also from``).

        >>> pieces = [
        ...     {"id": "r", "parent_ids": [], "level": 1, "state": "spent", "amount": "10.00",
        ...      "holder": "A"},
        ...     {"id": "b", "parent_ids": ["r"], "level": 2, "state": "active", "amount": "4.00",
        ...      "holder": "B"},
        ...     {"id": "a", "parent_ids": ["r"], "level": 1, "state": "active", "amount": "6.00",
        ...      "holder": "A"},
        ... ]
        >>> print("\\n".join(draw_tree(pieces)))
          level 1  spent         10.00  holder A  id r
          ├─ level 2  active         4.00  holder B  id b
          └─ level 1  active         6.00  holder A  id a
    """
    present = {piece["id"] for piece in pieces}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for piece in pieces:
        parents = [parent for parent in piece["parent_ids"] if parent in present]
        children.setdefault(parents[0] if parents else None, []).append(piece)
    return [prefix + _piece_line(piece) for prefix, piece in _walk(children)]


def _walk(
    children: dict[str | None, list[dict[str, Any]]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(prefix, piece) depth first, without recursion: a root may be split deep."""
    stack: list[tuple[str, str, dict[str, Any]]] = [
        ("  ", "  ", piece) for piece in reversed(children.get(None, []))
    ]
    while stack:
        prefix, indent, piece = stack.pop()
        yield prefix, piece
        below = children.get(piece["id"], [])
        for index, child in reversed(list(enumerate(below))):
            last = index == len(below) - 1
            stack.append(
                (indent + ("└─ " if last else "├─ "), indent + ("   " if last else "│  "), child)
            )


def _piece_line(piece: dict[str, Any]) -> str:
    line = (
        f"level {piece['level']}  {piece['state']:<8} {piece['amount']:>10}  "
        f"holder {piece['holder']}  id {piece['id']}"
    )
    others = piece["parent_ids"][1:]
    return line + (f"  also from {', '.join(others)}" if others else "")


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
    return "\n".join(lines + draw_tree(tree["pieces"]))
