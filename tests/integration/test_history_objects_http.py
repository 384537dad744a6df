"""A history row names the objects its entry touched, and every seq an answer names
opens with ``GET /v1/ledger/entries/{seq}`` (for a party to that entry), over HTTP."""

from __future__ import annotations

from typing import Any

from tests.conftest import Actor, Chain, business_date
from tests.helpers import assert_problem, certs, ok


def history(chain: Chain, member: Actor) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = ok(chain.client(member).get(f"/v1/wallets/{member.id}/history{query}"))
        entries += page["entries"]
        if (cursor := page["next_cursor"]) is None:
            return entries


def owe(chain: Chain, debtor: Actor, creditor: Actor, amount: str) -> str:
    body = {
        "creditor": creditor.id,
        "amount": amount,
        "due_date": business_date(chain.clock, 30),
        "reference": "PO-1",
    }
    oid: str = ok(chain.client(debtor).submit("obligation.register", body))["effects"][
        "obligations"
    ][0]["id"]
    ok(chain.client(creditor).submit("obligation.confirm", {"id": oid}))
    return oid


class Netted:
    """s1 holds a certificate and paid part of it to s2; s1 and s2 owe each other, and
    a netting run cleared what they owe both ways."""

    def __init__(self, chain: Chain) -> None:
        self.root = chain.issued("100.00")
        moved = certs(chain.transfer(chain.s1, [self.root], [(chain.s2, "40.00")]))
        self.pieces = {p["id"] for p in moved}
        for firm in (chain.s1, chain.s2):
            ok(chain.client(firm).submit("member.netting_consent", {"consent": True}))
        self.owed = owe(chain, chain.s1, chain.s2, "50.00")
        self.owing = owe(chain, chain.s2, chain.s1, "30.00")
        run = {"mode": "setoff", "as_of": business_date(chain.clock)}
        self.run_seq: int = ok(chain.client(chain.operator).submit("netting.run", run))["seq"]


def test_every_history_row_names_the_objects_it_touched(chain: Chain) -> None:
    netted = Netted(chain)
    rows = {row["seq"]: row for row in history(chain, chain.s1)}
    assert all(row["objects"] for row in rows.values()), rows
    by_type = {row["type"]: row["objects"] for row in rows.values()}
    assert by_type["netting.run"] == [
        {"kind": "netting-run", "id": str(netted.run_seq)},
        {"kind": "obligation", "id": netted.owed},
        {"kind": "obligation", "id": netted.owing},
    ]
    assert by_type["certificate.issue"] == [{"kind": "certificate", "id": netted.root}]
    transferred = {o["id"] for o in by_type["certificate.transfer"]}
    assert transferred == netted.pieces | {netted.root}  # the input spent, the outputs
    assert by_type["member.netting_consent"] == [{"kind": "member", "id": chain.s1.id}]
    admitted = by_type["member.admit"]
    assert admitted[0] == {"kind": "member", "id": chain.s1.id} and admitted[1]["kind"] == "key"
    assert (
        admitted[1]["id"] == ok(chain.client(chain.s1).get(f"/v1/members/{chain.s1.id}"))["key_id"]
    )
    confirmed = [r["objects"] for r in rows.values() if r["type"] == "obligation.confirm"]
    assert confirmed == [  # newest first: s1 confirmed what it is owed, s2 what s1 owes
        [{"kind": "obligation", "id": netted.owing}],
        [{"kind": "obligation", "id": netted.owed}],
    ]
    # The operator signed the run: the run itself, not the thousands it may clear.
    operator = ok(chain.client(chain.operator).get(f"/v1/wallets/{chain.operator.id}/history"))
    run = next(r for r in operator["entries"] if r["seq"] == netted.run_seq)
    assert run["objects"] == [{"kind": "netting-run", "id": str(netted.run_seq)}]
    limit = next(r for r in operator["entries"] if r["type"] == "limit.set")
    assert limit["objects"] == [{"kind": "limit", "id": chain.core.id}]


def test_every_seq_an_answer_names_opens_for_its_party(chain: Chain) -> None:
    netted = Netted(chain)
    s1 = chain.client(chain.s1)
    named: dict[str, int] = {}
    for row in history(chain, chain.s1):
        named[f"history {row['type']} {row['seq']}"] = row["seq"]
        for touched in row["objects"]:
            if touched["kind"] == "netting-run":  # a run's id is its entry's seq
                named["netting run"] = int(touched["id"])
    root = ok(s1.get(f"/v1/certificates/{netted.root}"))
    named["root created_seq"] = root["created_seq"]
    member = ok(s1.get(f"/v1/members/{chain.s1.id}"))
    named["admitted_seq"] = member["admitted_seq"]
    for obligation in ok(s1.get("/v1/obligations"))["obligations"]:
        named[f"{obligation['id']} created_seq"] = obligation["created_seq"]
        named[f"{obligation['id']} updated_seq"] = obligation["updated_seq"]
    for piece in ok(s1.get(f"/v1/wallets/{chain.s1.id}"))["certificates"]:
        named[f"{piece['id']} created_seq"] = piece["created_seq"]
    opened = {what: s1.get(f"/v1/ledger/entries/{seq}") for what, seq in named.items()}
    assert {what: r.status_code for what, r in opened.items() if r.status_code != 200} == {}

    # The entry that cleared an obligation by set-off is its updated_seq, whose effects
    # hold the plan (docs/api.md, "Obligations and netting").
    listed = ok(s1.get("/v1/obligations?role=creditor"))["obligations"]
    cleared = next(o for o in listed if o["id"] == netted.owing)
    assert cleared["state"] == "settled" and cleared["payment_ref"] is None
    assert cleared["updated_seq"] == netted.run_seq
    entry = ok(s1.get(f"/v1/ledger/entries/{cleared['updated_seq']}"))
    assert entry["effects"]["netting"]["cleared"] == "60.00"
    # A piece cleared by the run: the history row naming it with the run.
    run_row = next(r for r in history(chain, chain.s1) if r["seq"] == netted.run_seq)
    assert {"kind": "netting-run", "id": str(netted.run_seq)} in run_row["objects"]
    # A seq is the entry's parties' and the operator's alone.
    assert_problem(
        chain.client(chain.s3).get(f"/v1/ledger/entries/{netted.run_seq}"), 404, "not-found"
    )
