"""Certificates over HTTP at their edges: hostile reads, free text, boundaries, touching
a piece past its deadline, invoices given back, and the long-tenor report."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Chain, World, business_date, new_actor
from tests.helpers import assert_problem, certs, fen, head, refused


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Cursors that decode but are not ours: digits that str.isdigit() takes but int() or a
# 64-bit column does not, ids that are not ids, and a NUL.
BAD_WALLET_CURSORS = [
    b64("²:" + "a" * 32),
    b64("9" * 40 + ":" + "a" * 32),
    b64(str(2**63) + ":" + "a" * 32),
    b64("٣:" + "a" * 32),
    b64("3:\x00"),
    b64("3:"),
    b64("-1:" + "a" * 32),
    "%%%",
]
BAD_SEQ_CURSORS = [b64("²"), b64("9" * 40), b64(str(2**63)), b64("٣"), b64("\x00"), b64("0")]


def test_malformed_cursors_are_validation_refusals_never_500(chain: Chain) -> None:
    client = chain.client(chain.s1)
    for cursor in BAD_WALLET_CURSORS:
        response = client.get(f"/v1/wallets/{chain.s1.id}?cursor={cursor}")
        assert_problem(response, 422, "validation")
    for cursor in BAD_SEQ_CURSORS:
        response = client.get(f"/v1/wallets/{chain.s1.id}/history?cursor={cursor}")
        assert_problem(response, 422, "validation")
        report = chain.client(chain.operator).get(f"/v1/reports/long-tenor?cursor={cursor}")
        assert_problem(report, 422, "validation")


def test_ids_that_cannot_exist_are_not_found_before_any_query(chain: Chain) -> None:
    root = chain.issued("10.00")
    operator = chain.client(chain.operator)
    for path in (
        "/v1/certificates/ab%00cd",
        "/v1/certificates/ab%00cd/tree",
        f"/v1/certificates/{root.upper()}",
        "/v1/wallets/ab%00cd",
        "/v1/wallets/ab%00cd/history",
        "/v1/obligations/ab%00cd",
        "/v1/members/ab%00cd",
    ):
        assert_problem(operator.get(path), 404, "not-found")
    # The operator asking for the wallet of a member that was never admitted: not found,
    # rather than an empty wallet that suggests the member exists.
    stranger = new_actor().id
    assert_problem(operator.get(f"/v1/wallets/{stranger}"), 404, "not-found")
    assert_problem(operator.get(f"/v1/wallets/{stranger}/history"), 404, "not-found")


@pytest.mark.parametrize("memo", ["nul\x00here", "bell\x07", "del\x7f"])
def test_control_characters_in_free_text_are_refused(chain: Chain, memo: str) -> None:
    response = chain.issue("10.00", memo=memo)
    problem = refused(chain, response, 422, "validation")
    assert problem["errors"][0]["field"] == "command.body.memo"
    name = chain.client(chain.operator).submit(
        "member.admit",
        {"id": new_actor().id, "name": f"Acme{memo}", "roles": ["supplier"], "public_key": ""},
    )
    fields = {error["field"] for error in assert_problem(name, 422, "validation")["errors"]}
    assert "command.body.name" in fields
    contract = chain.issue(
        "10.00", trade={"contract_no": f"HT{memo}", "invoices": [chain.new_invoice("10.00")]}
    )
    assert refused(chain, contract, 422, "validation")["errors"][0]["field"] == (
        "command.body.trade.contract_no"
    )


def test_a_memo_may_span_lines(chain: Chain) -> None:
    issued = certs(chain.issue("10.00", memo="May deliveries\n\tbatch 7"))
    assert issued[0]["memo"] == "May deliveries\n\tbatch 7"


def test_minimum_piece_size_applies_to_issuance(chain: Chain) -> None:
    strict = Ledger(chain.ledger.engine, Settings(piece_fen_min=100), chain.clock)
    with TestClient(create_app(strict)) as http:
        world = World(http, strict, chain.operator, chain.clock)
        body = {
            "to": chain.s1.id,
            "amount": "0.99",
            "maturity": business_date(chain.clock, 30),
            "trade": {"contract_no": "C", "invoices": [chain.new_invoice("0.99")]},
        }
        core = world.client(chain.core)
        refused(world, core.submit("certificate.issue", body), 422, "piece-too-small")
        body["amount"] = "1.00"
        body["trade"]["invoices"] = [chain.new_invoice("1.00")]
        assert core.submit("certificate.issue", body).status_code == 201


def test_a_lower_maturity_ceiling_and_tenor_flag_are_configurable(chain: Chain) -> None:
    strict = Ledger(
        chain.ledger.engine, Settings(maturity_days_max=90, long_tenor_days=30), chain.clock
    )
    with TestClient(create_app(strict)) as http:
        world = World(http, strict, chain.operator, chain.clock)
        core = world.client(chain.core)

        def issue(days: int) -> Any:
            body = {
                "to": chain.s1.id,
                "amount": "1.00",
                "maturity": business_date(chain.clock, days),
                "trade": {"contract_no": "C", "invoices": [chain.new_invoice("1.00")]},
            }
            return core.submit("certificate.issue", body)

        refused(world, issue(91), 422, "maturity-out-of-range")
        assert issue(90).json()["effects"]["flags"] == ["long-tenor"]
        assert issue(30).json()["effects"]["flags"] == []


def test_transfers_stop_on_the_maturity_date_itself(chain: Chain) -> None:
    root = chain.issued("100.00", days=10)
    chain.clock.advance(days=9)  # the day before maturity: still transferable
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "10.00")]))
    change = next(c["id"] for c in step if c["holder"] == chain.s1.id and c["state"] == "active")
    chain.clock.advance(days=1)
    refused(
        chain, chain.transfer(chain.s1, [change], [(chain.s2, "1.00")]), 409, "certificate-matured"
    )


def test_transfer_to_someone_not_admitted_is_refused(chain: Chain) -> None:
    root = chain.issued("100.00")
    outsider = new_actor()
    refused(
        chain,
        chain.transfer(chain.s1, [root], [(outsider, "1.00")]),  # type: ignore[list-item]
        422,
        "recipient-not-admitted",
    )


def test_a_sender_cannot_spend_what_it_has_sent(chain: Chain) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]))
    sent = next(c["id"] for c in step if c["holder"] == chain.s2.id)
    refused(chain, chain.transfer(chain.s1, [sent], [(chain.s3, "1.00")]), 409, "not-spendable")
    # Past its deadline, touching it with a transfer expires it (recorded as a system
    # entry), and the transfer itself is refused.
    chain.clock.advance(days=7, seconds=1)
    before = head(chain)
    refused(
        chain, chain.transfer(chain.s1, [sent], [(chain.s3, "1.00")]), 409, "certificate-expired"
    )
    assert head(chain) == before + 1
    wallet = chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}").json()
    assert sum(fen(t["amount"]) for t in wallet["totals"] if t["state"] == "active") == 10000


def test_reading_a_piece_past_its_deadline_expires_it(chain: Chain) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "40.00"), (chain.s3, "5.00")]))
    to_s2 = next(c["id"] for c in step if c["holder"] == chain.s2.id)
    chain.clock.advance(days=7, seconds=1)
    before = head(chain)
    seen = chain.client(chain.s2).get(f"/v1/certificates/{to_s2}")
    assert seen.status_code == 200 and seen.json()["state"] == "expired", seen.text
    assert head(chain) == before + 1  # one expiry entry, for the piece that was read
    again = chain.client(chain.s2).get(f"/v1/certificates/{to_s2}")
    assert again.json()["state"] == "expired" and head(chain) == before + 1
    # The wallet of the sender shows no stale outgoing piece: the other one expires too.
    wallet = chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}").json()
    assert all(c["state"] == "active" for c in wallet["certificates"]), wallet
    assert sum(fen(c["amount"]) for c in wallet["certificates"]) == 10000
    assert head(chain) == before + 2
    tree = chain.client(chain.core).get(f"/v1/certificates/{root}/tree").json()
    assert not [p for p in tree["pieces"] if p["state"] == "pending"]
    assert chain.ledger.verify().ok


def test_the_sender_reading_its_piece_past_the_deadline_sees_it_expired(chain: Chain) -> None:
    root = chain.issued("100.00")
    step = certs(chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]))
    sent = next(c["id"] for c in step if c["holder"] == chain.s2.id)
    assert chain.client(chain.s1).get(f"/v1/certificates/{sent}").json()["state"] == "pending"
    chain.clock.advance(days=7, seconds=1)
    before = head(chain)
    seen = chain.client(chain.s1).get(f"/v1/certificates/{sent}")
    assert seen.status_code == 200 and seen.json()["state"] == "expired", seen.text
    assert head(chain) == before + 1
    # A piece rejected back to its sender stays visible to it, as the returned piece's parent.
    change = next(c["id"] for c in step if c["holder"] == chain.s1.id and c["state"] == "active")
    again = certs(chain.transfer(chain.s1, [change], [(chain.s3, "5.00")]))
    to_s3 = next(c["id"] for c in again if c["holder"] == chain.s3.id)
    back = certs(chain.client(chain.s3).submit("certificate.reject", {"id": to_s3}))
    assert back[1]["parent_ids"] == [to_s3]
    parent = chain.client(chain.s1).get(f"/v1/certificates/{to_s3}")
    assert parent.status_code == 200 and parent.json()["state"] == "rejected", parent.text
    assert_problem(chain.client(chain.s2).get(f"/v1/certificates/{to_s3}"), 404, "not-found")


def test_cancel_and_expiry_give_the_invoices_back(chain: Chain) -> None:
    invoice = chain.new_invoice("100.00")
    trade = {"contract_no": "HT-1", "invoices": [invoice]}
    first = certs(chain.issue("100.00", trade=trade))[0]
    refused(chain, chain.issue("0.01", trade=trade), 422, "invoice-overused")
    cancelled = chain.client(chain.core).submit("certificate.cancel", {"id": first["id"]})
    assert [i["used"] for i in cancelled.json()["effects"]["invoices"]] == ["0.00"]
    certs(chain.issue("100.00", trade=trade))  # the whole invoice is free again
    refused(chain, chain.issue("0.01", trade=trade), 422, "invoice-overused")
    chain.clock.advance(days=7, seconds=1)
    assert chain.ledger.sweep_all() == 1
    certs(chain.issue("100.00", trade=trade))  # and again after the expiry gave it back


def test_long_tenor_paper_carries_its_flag_and_is_reported(chain: Chain) -> None:
    long_root = chain.issued("500.00", days=200)
    chain.issued("70.00", days=30)
    step = certs(chain.transfer(chain.s1, [long_root], [(chain.s2, "120.00")]))
    assert all(c["flags"] == ["long-tenor"] for c in step)
    voided = certs(chain.issue("9.00", days=300))[0]
    cancelled = chain.client(chain.core).submit("certificate.cancel", {"id": voided["id"]})
    assert cancelled.status_code == 201, cancelled.text

    report = chain.client(chain.operator).get("/v1/reports/long-tenor")
    assert report.status_code == 200, report.text
    roots = report.json()["roots"]
    assert [(r["root_id"], r["face_amount"], r["outstanding"]) for r in roots] == [
        (long_root, "500.00", "500.00")
    ]
    assert roots[0]["issuer"] == chain.core.id
    assert report.json()["next_cursor"] is None
    assert_problem(chain.client(chain.core).get("/v1/reports/long-tenor"), 403, "forbidden")


def test_long_tenor_report_pages(chain: Chain) -> None:
    issued = [chain.issued("1.00", days=181 + i) for i in range(5)]
    operator = chain.client(chain.operator)
    seen, cursor = [], None
    while True:
        response = operator.get(
            "/v1/reports/long-tenor?limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        body = response.json()
        seen.extend(r["root_id"] for r in body["roots"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == issued
