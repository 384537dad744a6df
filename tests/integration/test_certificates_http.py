"""Certificates over HTTP on a real database: the lifecycle, the rules, the reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Chain, World, business_date
from tests.helpers import assert_problem, certs, fen, head, refused

SHAPE = {
    "id",
    "root_id",
    "parent_ids",
    "issuer",
    "holder",
    "amount",
    "maturity",
    "state",
    "level",
    "trade",
}


def test_issue_accept_split_two_levels_and_the_tree(chain: Chain) -> None:
    issued = chain.issue("1000.00", memo="May deliveries")
    root = certs(issued)[0]
    assert set(root) >= SHAPE
    assert (root["state"], root["holder"], root["issuer"], root["level"]) == (
        "pending",
        chain.s1.id,
        chain.core.id,
        1,
    )
    assert root["root_id"] == root["id"] and root["parent_ids"] == []
    assert root["amount"] == "1000.00" and root["trade"]["contract_no"] == "HT-2026-001"
    accepted = certs(chain.client(chain.s1).submit("certificate.accept", {"id": root["id"]}))
    assert accepted[0]["state"] == "active"

    # Level 1 → 2: 300.00 to s2, 700.00 change.
    first = certs(chain.transfer(chain.s1, [root["id"]], [(chain.s2, "300.00")]))
    by_holder = {c["holder"]: c for c in first if c["state"] != "spent"}
    assert [c["state"] for c in first if c["id"] == root["id"]] == ["spent"]
    assert by_holder[chain.s2.id]["state"] == "pending" and by_holder[chain.s2.id]["level"] == 2
    assert by_holder[chain.s1.id]["amount"] == "700.00" and by_holder[chain.s1.id]["level"] == 1
    piece = by_holder[chain.s2.id]["id"]
    assert by_holder[chain.s2.id]["parent_ids"] == [root["id"]]
    certs(chain.client(chain.s2).submit("certificate.accept", {"id": piece}))

    # Level 2 → 3: s2 splits 100.00 to s3 and 50.00 to itself.
    second = certs(chain.transfer(chain.s2, [piece], [(chain.s3, "100.00"), (chain.s2, "50.00")]))
    created = [c for c in second if c["id"] != piece]
    assert sorted((c["holder"], c["amount"], c["level"], c["state"]) for c in created) == sorted(
        [
            (chain.s3.id, "100.00", 3, "pending"),
            (chain.s2.id, "50.00", 2, "active"),
            (chain.s2.id, "150.00", 2, "active"),
        ]
    )

    tree = chain.client(chain.core).get(f"/v1/certificates/{root['id']}/tree")
    assert tree.status_code == 200, tree.text
    body = tree.json()
    assert body["root_id"] == root["id"] and body["face_amount"] == "1000.00"
    live = [p for p in body["pieces"] if p["state"] in ("pending", "active")]
    assert sum(fen(p["amount"]) for p in live) == 100000
    assert {p["level"] for p in body["pieces"]} == {1, 2, 3}
    assert chain.ledger.verify().ok


def test_issuance_limit_is_consumed_and_restored(chain: Chain) -> None:
    limit_body = {"member": chain.core.id, "amount": "1500.00"}
    assert chain.client(chain.operator).submit("limit.set", limit_body).status_code == 201
    first = certs(chain.issue("1000.00"))[0]
    before = head(chain)
    refused(chain, chain.issue("500.01"), 422, "issuance-limit-exceeded")
    assert head(chain) == before
    cancelled = chain.client(chain.core).submit("certificate.cancel", {"id": first["id"]})
    assert certs(cancelled)[0]["state"] == "cancelled"
    assert cancelled.json()["effects"]["limits"][0]["outstanding"] == "0.00"
    second = certs(chain.issue("1500.00"))[0]
    rejected = chain.client(chain.s1).submit("certificate.reject", {"id": second["id"]})
    assert [c["state"] for c in certs(rejected)] == ["rejected"]  # a voided root returns nothing
    assert rejected.json()["effects"]["limits"][0]["outstanding"] == "0.00"
    accepted = chain.issued("1500.00")
    refused(
        chain,
        chain.client(chain.core).submit("certificate.cancel", {"id": accepted}),
        409,
        "not-pending",
    )


def test_a_core_without_a_limit_cannot_issue_and_limits_are_for_cores(chain: Chain) -> None:
    other_core = chain.admit("core")
    response = chain.client(other_core).submit(
        "certificate.issue",
        {
            "to": chain.s1.id,
            "amount": "1.00",
            "maturity": business_date(chain.clock, 30),
            "trade": {"contract_no": "C", "invoices": [chain.new_invoice("1.00")]},
        },
    )
    refused(chain, response, 422, "issuance-limit-exceeded")
    refused(
        chain,
        chain.client(chain.operator).submit("limit.set", {"member": chain.s1.id, "amount": "5.00"}),
        422,
        "role-mismatch",
    )
    refused(
        chain,
        chain.client(chain.s1).submit(
            "certificate.issue",
            {
                "to": chain.s2.id,
                "amount": "1.00",
                "maturity": business_date(chain.clock, 30),
                "trade": {"contract_no": "C", "invoices": []},
            },
        ),
        403,
        "forbidden",
    )


@pytest.mark.parametrize(
    ("days", "ok"), [(-1, False), (0, False), (1, True), (365, True), (366, False)]
)
def test_maturity_window(chain: Chain, days: int, ok: bool) -> None:
    response = chain.issue("10.00", days=days)
    if ok:
        assert response.status_code == 201, response.text
    else:
        refused(chain, response, 422, "maturity-out-of-range")


def test_long_tenor_is_accepted_but_flagged(chain: Chain) -> None:
    long = chain.issue("10.00", days=181)
    assert long.json()["effects"]["flags"] == ["long-tenor"]
    assert certs(long)[0]["flags"] == ["long-tenor"]
    short = chain.issue("10.00", days=180)
    assert short.json()["effects"]["flags"] == []


def test_recipient_rules(chain: Chain) -> None:
    from tests.conftest import new_actor

    refused(chain, chain.issue("1.00", to=new_actor()), 422, "recipient-not-admitted")
    refused(chain, chain.issue("1.00", to=chain.core), 422, "recipient-is-issuer")
    suspended = chain.client(chain.operator).submit("member.suspend", {"id": chain.s3.id})
    assert suspended.status_code == 201, suspended.text
    refused(chain, chain.issue("1.00", to=chain.s3), 422, "recipient-suspended")
    root = chain.issued("100.00")
    refused(
        chain, chain.transfer(chain.s1, [root], [(chain.s3, "1.00")]), 422, "recipient-suspended"
    )
    refused(
        chain, chain.transfer(chain.s1, [root], [(chain.core, "1.00")]), 422, "recipient-is-issuer"
    )


def test_transfer_refusals_each_have_their_type(chain: Chain) -> None:
    root = chain.issued("100.00")
    other = chain.issued("50.00")
    before = head(chain)
    # The issuer sees the piece but does not hold it; a stranger is told it does not exist.
    refused(chain, chain.transfer(chain.core, [root], [(chain.s3, "1.00")]), 403, "not-holder")
    refused(
        chain,
        chain.transfer(chain.s2, [root], [(chain.s3, "1.00")]),
        404,
        "certificate-not-found",
    )
    refused(
        chain, chain.transfer(chain.s1, [root, root], [(chain.s2, "1.00")]), 422, "duplicate-input"
    )
    refused(
        chain, chain.transfer(chain.s1, [root, other], [(chain.s2, "1.00")]), 422, "mixed-roots"
    )
    refused(
        chain, chain.transfer(chain.s1, [root], [(chain.s2, "100.01")]), 422, "insufficient-amount"
    )
    refused(
        chain,
        chain.transfer(chain.s1, ["0" * 32], [(chain.s2, "1.00")]),
        404,
        "certificate-not-found",
    )
    many = [(chain.s2, "0.01")] * 101
    refused(chain, chain.transfer(chain.s1, [root], many), 422, "too-many-outputs")
    assert head(chain) == before
    spent = certs(chain.transfer(chain.s1, [root], [(chain.s2, "10.00")]))
    refused(chain, chain.transfer(chain.s1, [root], [(chain.s2, "1.00")]), 409, "not-spendable")
    pending = next(c["id"] for c in spent if c["holder"] == chain.s2.id)
    refused(chain, chain.transfer(chain.s2, [pending], [(chain.s3, "1.00")]), 409, "not-spendable")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (12.5, "decimal string"),
        ("12.505", "two decimals"),
        ("-1.00", "negative"),
        ("0.00", "greater than zero"),
        (1250, "decimal string"),
        ("1e3", "two decimals"),
    ],
)
def test_bad_amounts_are_invalid_amount_refusals(chain: Chain, amount: Any, message: str) -> None:
    root = chain.issued("100.00")
    body = {
        "inputs": [root],
        "outputs": [{"to": chain.s2.id, "amount": amount}],
        "trade": {"contract_no": "C", "invoices": [chain.new_invoice("1.00")]},
    }
    response = chain.client(chain.s1).submit("certificate.transfer", body)
    problem = refused(chain, response, 422, "invalid-amount")
    assert message in problem["detail"], problem
    assert problem["errors"][0]["field"] == "command.body.outputs.0.amount"


def test_minimum_piece_and_maximum_level_are_configurable(chain: Chain) -> None:
    strict = Ledger(chain.ledger.engine, Settings(piece_fen_min=100, level_max=2), chain.clock)
    with TestClient(create_app(strict)) as http:
        world = World(http, strict, chain.operator, chain.clock)
        root = chain.issued("100.00")
        s1 = world.client(chain.s1)
        body = {
            "inputs": [root],
            "outputs": [{"to": chain.s2.id, "amount": "0.50"}],
            "trade": {"contract_no": "C", "invoices": [chain.new_invoice("0.50")]},
        }
        refused(world, s1.submit("certificate.transfer", body), 422, "piece-too-small")
        body["outputs"] = [{"to": chain.s2.id, "amount": "99.50"}]  # change of 0.50 too small
        body["trade"]["invoices"] = [chain.new_invoice("99.50")]
        refused(world, s1.submit("certificate.transfer", body), 422, "piece-too-small")
        step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "10.00")]))
        piece = next(c["id"] for c in step if c["holder"] == chain.s2.id)
        accepted = chain.client(chain.s2).submit("certificate.accept", {"id": piece})
        assert accepted.status_code == 201, accepted.text
        body = {
            "inputs": [piece],
            "outputs": [{"to": chain.s3.id, "amount": "1.00"}],
            "trade": {"contract_no": "C", "invoices": [chain.new_invoice("1.00")]},
        }
        refused(
            world,
            world.client(chain.s2).submit("certificate.transfer", body),
            422,
            "max-level-exceeded",
        )
        body["outputs"] = [{"to": chain.s2.id, "amount": "1.00"}]  # a pure split stays at level 2
        assert world.client(chain.s2).submit("certificate.transfer", body).status_code == 201


def test_only_the_recipient_may_accept_a_pending_piece(chain: Chain) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]))
    piece = next(c for c in step if c["holder"] == chain.s2.id)
    for party in (chain.s1, chain.core):  # the sender and the issuer
        accepted = chain.client(party).submit("certificate.accept", {"id": piece["id"]})
        refused(chain, accepted, 403, "not-holder")
    for stranger in (chain.s3, chain.bank):  # the same answer as for no such piece
        accepted = chain.client(stranger).submit("certificate.accept", {"id": piece["id"]})
        refused(chain, accepted, 404, "certificate-not-found")
    accepted = chain.client(chain.s2).submit("certificate.accept", {"id": piece["id"]})
    assert accepted.status_code == 201, accepted.text
    assert (certs(accepted)[0]["holder"], certs(accepted)[0]["state"]) == (chain.s2.id, "active")


def test_reject_returns_the_value_to_the_sender(chain: Chain) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]))
    piece = next(c for c in step if c["holder"] == chain.s2.id)
    refused(  # its sender may know it, but only its recipient answers it
        chain,
        chain.client(chain.s1).submit("certificate.reject", {"id": piece["id"]}),
        403,
        "not-holder",
    )
    refused(  # a stranger hears what it would of an unknown id
        chain,
        chain.client(chain.s3).submit("certificate.reject", {"id": piece["id"]}),
        404,
        "certificate-not-found",
    )
    back = certs(chain.client(chain.s2).submit("certificate.reject", {"id": piece["id"]}))
    assert back[0]["id"] == piece["id"] and back[0]["state"] == "rejected"
    assert (back[1]["holder"], back[1]["state"], back[1]["amount"], back[1]["level"]) == (
        chain.s1.id,
        "active",
        "40.00",
        1,
    )
    assert back[1]["parent_ids"] == [piece["id"]]
    refused(
        chain,
        chain.client(chain.s2).submit("certificate.accept", {"id": piece["id"]}),
        409,
        "not-pending",
    )
    wallet = chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}").json()
    assert [t["amount"] for t in wallet["totals"]] == ["100.00"]


def test_certificates_past_maturity_cannot_move(chain: Chain) -> None:
    root = chain.issued("100.00")
    chain.clock.advance(days=91)
    refused(
        chain, chain.transfer(chain.s1, [root], [(chain.s2, "1.00")]), 409, "certificate-matured"
    )


def test_a_pending_piece_expires_when_touched_or_swept(chain: Chain, database_url: str) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "30.00"), (chain.s3, "20.00")]))
    to_s2 = next(c["id"] for c in step if c["holder"] == chain.s2.id)
    to_s3 = next(c["id"] for c in step if c["holder"] == chain.s3.id)
    chain.clock.advance(days=7, seconds=1)
    before = head(chain)
    refused(
        chain,
        chain.client(chain.s2).submit("certificate.accept", {"id": to_s2}),
        409,
        "certificate-expired",
    )
    assert head(chain) == before + 1  # the expiry itself was recorded, the accept was not
    expired = chain.client(chain.s1).get(f"/v1/certificates/{to_s2}")  # s1 sent it
    assert expired.status_code == 200 and expired.json()["state"] == "expired", expired.text
    assert_problem(chain.client(chain.s3).get(f"/v1/certificates/{to_s2}"), 404, "not-found")
    seen = chain.client(chain.s2).get(f"/v1/certificates/{to_s2}").json()
    assert seen["state"] == "expired"
    # The other one goes at the next sweep.
    assert chain.ledger.sweep_all() == 1
    assert chain.ledger.sweep_all() == 0
    assert chain.client(chain.s3).get(f"/v1/certificates/{to_s3}").json()["state"] == "expired"
    wallet = chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}").json()
    assert sum(fen(t["amount"]) for t in wallet["totals"]) == 10000
    assert all(c["state"] == "active" for c in wallet["certificates"])
    assert chain.ledger.verify().ok


def test_wallet_totals_pending_both_ways_and_pagination(chain: Chain) -> None:
    roots = [chain.issued(f"{10 + i}.00") for i in range(5)]
    certs(chain.transfer(chain.s1, [roots[0]], [(chain.s2, "3.00")]))
    incoming = certs(chain.issue("7.00", to=chain.s1))[0]
    client = chain.client(chain.s1)
    pages, cursor = [], None
    while True:
        response = client.get(
            f"/v1/wallets/{chain.s1.id}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["certificates"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    seen = [c for page in pages for c in page]
    assert all(len(page) <= 2 for page in pages)
    assert len({c["id"] for c in seen}) == len(seen) == 7  # 4 roots, change, outgoing, incoming
    outgoing = [c for c in seen if c["sender"] == chain.s1.id and c["state"] == "pending"]
    assert [c["amount"] for c in outgoing] == ["3.00"]
    assert incoming["id"] in {c["id"] for c in seen}
    totals = {(t["state"], t["amount"]) for t in body["totals"]}
    assert totals == {("active", f"{(10 + 11 + 12 + 13 + 14 - 3)}.00"), ("pending", "7.00")}

    history = client.get(f"/v1/wallets/{chain.s1.id}/history?limit=3").json()
    seqs = [e["seq"] for e in history["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3
    rest = client.get(f"/v1/wallets/{chain.s1.id}/history?cursor={history['next_cursor']}").json()
    assert max(e["seq"] for e in rest["entries"]) < min(seqs)
    assert history["entries"][0]["type"] == "certificate.issue"


def test_nobody_else_sees_a_certificate_tree_or_wallet(chain: Chain) -> None:
    root = chain.issued("100.00")
    for outsider in (chain.s2, chain.bank):
        c = chain.client(outsider)
        assert_problem(c.get(f"/v1/certificates/{root}"), 404, "not-found")
        assert_problem(c.get(f"/v1/certificates/{root}/tree"), 404, "not-found")
        assert_problem(c.get(f"/v1/wallets/{chain.s1.id}"), 404, "not-found")
        assert_problem(c.get(f"/v1/wallets/{chain.s1.id}/history"), 404, "not-found")
    assert_problem(chain.client(chain.s1).get(f"/v1/certificates/{root}/tree"), 404, "not-found")
    assert chain.client(chain.s1).get(f"/v1/certificates/{root}").status_code == 200
    assert chain.client(chain.core).get(f"/v1/certificates/{root}").status_code == 200
    assert chain.client(chain.operator).get(f"/v1/certificates/{root}/tree").status_code == 200
    assert chain.client(chain.operator).get(f"/v1/wallets/{chain.s1.id}").status_code == 200
    assert_problem(
        chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}?cursor=%%%"), 422, "validation"
    )


def test_dcc_sweep_expires_due_pieces(chain: Chain, database_url: str) -> None:
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    # `dcc sweep` reads the real clock; the test's frozen clock stands months before it,
    # so the pending piece issued now is past its seven-day deadline for the CLI.
    issued = chain.issue("5.00")
    root = certs(issued)[0]["id"]
    deadline = datetime.fromisoformat(certs(issued)[0]["expires_at"])
    assert deadline < datetime.now(UTC), deadline
    result = CliRunner().invoke(cli_app, ["sweep", "--db", database_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 expiry entries")
    piece = chain.client(chain.core).get(f"/v1/certificates/{root}").json()
    assert piece["state"] == "expired"
    limits = chain.client(chain.core).get(f"/v1/wallets/{chain.s1.id}")  # not the core's wallet
    assert limits.status_code == 404
    assert chain.ledger.verify().ok
