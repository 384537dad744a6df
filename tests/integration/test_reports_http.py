"""Settlement reads over HTTP on a real database: the clearing list, the reports, who
may read them, and that they agree with each other and with the journal.

Calendar facts written out (independent of ``ledger.calendar``): the frozen today is
Monday 2026-03-02 (China Standard Time). A 90-day piece matures on Sunday 2026-05-31 and
is paid on Monday 2026-06-01; on Thursday 2026-06-04 it is 3 days late. Late interest is
figured here with ``Fraction`` at the default 0.0005 a day.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.conftest import Chain, business_date
from tests.helpers import assert_problem, certs, fen, ok
from tests.integration.test_settlement_http import at_business_date, half_up, pay

MATURITY, PAYMENT_DATE, LATE_DAY = "2026-05-31", "2026-06-01", "2026-06-04"
RATE = Fraction("0.0005")
ACCOUNT = {"bank_name": "ICBC Fuzhou", "account_no": "6222020200112233"}


def interest(amount_fen: int, days: int) -> int:
    return half_up(amount_fen * RATE * days)


def accept(chain: Chain, moved: list[dict[str, Any]]) -> None:
    for piece in moved:
        if piece["state"] == "pending":
            who = next(a for a in (chain.s1, chain.s2, chain.s3) if a.id == piece["holder"])
            ok(chain.client(who).submit("certificate.accept", {"id": piece["id"]}))


def history(chain: Chain) -> dict[str, str]:
    """Two roots of 1,000.00 and 600.00 split to s2 and s3; on the payment date one piece
    of the first is paid in full and 300.00 of the second pro rata; three days later the
    sweep marks the rest overdue and the first root's other piece is paid late. Left
    overdue: the second root's 250.00 (s1) and 50.00 (s3)."""
    ok(chain.client(chain.s3).submit("member.set_payout_account", ACCOUNT))
    a = chain.issued("1000.00")
    moved_a = certs(chain.transfer(chain.s1, [a], [(chain.s2, "300.00")]))
    accept(chain, moved_a)
    b = chain.issued("600.00")
    accept(chain, certs(chain.transfer(chain.s1, [b], [(chain.s3, "100.00")])))
    a_s2 = next(p["id"] for p in moved_a if p["holder"] == chain.s2.id)
    a_s1 = next(p["id"] for p in moved_a if p["holder"] == chain.s1.id and p["id"] != a)
    at_business_date(chain, PAYMENT_DATE)
    ok(pay(chain, {"pieces": [a_s2], "payment_ref": "P-on-time"}))
    ok(pay(chain, {"root": b, "amount": "300.00", "payment_ref": "P-part"}))
    at_business_date(chain, LATE_DAY)
    chain.ledger.sweep_all()
    ok(pay(chain, {"pieces": [a_s1], "payment_ref": "P-late"}))
    return {"a": a, "b": b}


def all_pages(chain: Chain, who: Any, path: str, key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        page = ok(chain.client(who).get(path + (f"{sep}cursor={cursor}" if cursor else "")))
        rows.extend(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def test_the_clearing_list_and_its_csv(chain: Chain) -> None:
    roots = history(chain)
    path = f"/v1/settlements/due?issuer={chain.core.id}&on={LATE_DAY}"
    listed = ok(chain.client(chain.core).get(path))
    expected = sorted(
        [(chain.s1.id, 25_000, None), (chain.s3.id, 5_000, ACCOUNT)], key=lambda r: r[0]
    )
    rows = listed["pieces"]
    assert [(r["holder"], fen(r["amount"]), r["payout_account"]) for r in rows] == expected
    for row in rows:
        assert row["root_id"] == roots["b"] and row["state"] == "overdue"
        assert (row["maturity"], row["payment_date"]) == (MATURITY, PAYMENT_DATE)
        assert row["days_late"] == 3
        assert fen(row["late_interest"]) == interest(fen(row["amount"]), 3)
        assert fen(row["amount"]) + fen(row["paid"]) in (50_000, 10_000)
    assert listed["totals"] == {
        "count": 2,
        "amount": "300.00",
        "late_interest": f"{(interest(25_000, 3) + interest(5_000, 3)) / 100:.2f}",
    }
    assert listed["next_cursor"] is None
    # Page by page, the same rows; in CSV, the same rows again.
    assert all_pages(chain, chain.core, path + "&limit=1", "pieces") == rows
    parsed = csv_rows(chain.client(chain.core).get(path, accept="text/csv"))
    assert parsed == [{k: as_text(v) for k, v in row.items()} for row in rows]
    # Before maturity nothing is due; the operator reads the same list.
    early = ok(chain.client(chain.core).get(path.replace(LATE_DAY, "2026-05-30")))
    assert early["pieces"] == [] and early["totals"]["amount"] == "0.00"
    assert ok(chain.client(chain.operator).get(path)) == listed


def test_who_may_read_settlement_reports(chain: Chain) -> None:
    history(chain)
    other = chain.admit("core", name="Other Core")
    issuer = chain.core.id
    own = [
        f"/v1/settlements/due?issuer={issuer}&on={LATE_DAY}",
        f"/v1/reports/roots?issuer={issuer}",
        f"/v1/reports/issuer/{issuer}",
    ]
    for path in own:
        ok(chain.client(chain.core).get(path))
        ok(chain.client(chain.operator).get(path))
        for who in (chain.s1, chain.s3, chain.bank, other):
            assert_problem(chain.client(who).get(path), 404, "not-found")
            assert_problem(chain.client(who).get(path, accept="text/csv"), 404, "not-found")
    overdue = f"/v1/reports/overdue?issuer={issuer}"
    assert_problem(chain.client(other).get(overdue), 404, "not-found")
    assert_problem(chain.client(chain.s1).get("/v1/reports/overdue"), 404, "not-found")
    assert ok(chain.client(other).get("/v1/reports/overdue"))["pieces"] == []  # its own: none
    assert len(ok(chain.client(chain.core).get("/v1/reports/overdue"))["pieces"]) == 2
    for who in (chain.core, chain.s1):
        assert_problem(chain.client(who).get("/v1/reports/splitting"), 403, "forbidden")
    # The operator naming no such member, or a malformed date, is told so.
    assert_problem(
        chain.client(chain.operator).get(f"/v1/reports/roots?issuer={chain.s1.id}"),
        404,
        "not-found",
    )
    assert_problem(
        chain.client(chain.core).get(f"/v1/settlements/due?issuer={issuer}&on=June"),
        422,
        "validation",
    )


def test_a_payout_account_is_shown_to_its_member_and_the_operator(chain: Chain) -> None:
    ok(chain.client(chain.s3).submit("member.set_payout_account", ACCOUNT))
    path = f"/v1/members/{chain.s3.id}"
    for who in (chain.s3, chain.operator):
        assert ok(chain.client(who).get(path))["payout_account"] == ACCOUNT
    for who in (chain.core, chain.s1, chain.bank):
        assert "payout_account" not in ok(chain.client(who).get(path))


def journal_payments(chain: Chain) -> dict[str, list[int]]:
    """(paid, late interest) fen by root, from the journal's settlement.pay entries."""
    from ledger.repository import Repository

    def walk(repo: Repository) -> dict[str, list[int]]:
        sums: dict[str, list[int]] = {}
        for stored in repo.entries():
            if stored.type != "settlement.pay":
                continue
            for payment in stored.entry.effects["payments"]:
                row = sums.setdefault(payment["root_id"], [0, 0])
                row[0] += fen(payment["amount"])
                row[1] += fen(payment["late_interest"])
        return sums

    return chain.ledger.read(walk)


def test_the_reports_agree_with_each_other_and_with_the_journal(chain: Chain) -> None:
    roots = history(chain)
    journal = journal_payments(chain)
    # What the test itself knows: A paid 300 on time and 700 three days late; B 300.
    assert journal == {roots["a"]: [100_000, interest(70_000, 3)], roots["b"]: [30_000, 0]}

    report = ok(chain.client(chain.core).get(f"/v1/reports/roots?issuer={chain.core.id}"))
    by_root = {r["id"]: r for r in report["roots"]}
    assert set(by_root) == set(roots.values())
    accrued_b = interest(25_000, 3) + interest(5_000, 3)
    for root_id, (paid, recorded) in journal.items():
        row = by_root[root_id]
        assert fen(row["paid"]) == paid
        assert fen(row["paid"]) + fen(row["outstanding"]) == fen(row["face"])
        assert fen(row["late_interest"]) == recorded + (accrued_b if root_id == roots["b"] else 0)
    b = by_root[roots["b"]]
    assert (b["outstanding"], b["overdue"], b["pieces"], b["holders"]) == ("300.00", "300.00", 2, 2)
    assert (
        by_root[roots["a"]]["pieces"] == 0 and by_root[roots["a"]]["level"] == 2
    )  # the root is level 1
    totals = report["totals"]
    assert fen(totals["paid"]) == sum(p for p, _ in journal.values())
    recorded_fen = sum(i for _, i in journal.values())
    assert fen(totals["late_interest"]) == recorded_fen + accrued_b
    assert (totals["roots"], totals["face"]) == (2, "1600.00")

    period = f"/v1/reports/issuer/{chain.core.id}?from=2026-03-01&to=2026-06-30"
    [issuer] = ok(chain.client(chain.core).get(period))["period"]
    assert fen(issuer["paid"]) == fen(totals["paid"])
    assert fen(issuer["late_interest"]) == recorded_fen  # recorded, not accrued
    assert issuer["outstanding"] == totals["outstanding"] == "300.00"
    assert issuer["overdue"] == totals["overdue"] == "300.00"
    assert (issuer["issued_count"], issuer["issued"]) == (2, "1600.00")
    # A period after the payments: nothing paid, issued or falling due in it.
    [later] = ok(chain.client(chain.core).get(period.replace("03-01", "06-05")))["period"]
    assert (later["paid"], later["issued"], later["overdue"]) == ("0.00", "0.00", "0.00")
    # The default period is the current month (June 2026).
    [june] = ok(chain.client(chain.core).get(f"/v1/reports/issuer/{chain.core.id}"))["period"]
    assert (june["from"], june["to"], june["paid"]) == ("2026-06-01", "2026-06-30", "1300.00")

    overdue = ok(chain.client(chain.operator).get("/v1/reports/overdue"))
    assert overdue["totals"]["amount"] == b["overdue"]
    assert fen(overdue["totals"]["late_interest"]) == accrued_b
    due = ok(chain.client(chain.core).get(
        f"/v1/settlements/due?issuer={chain.core.id}&on={LATE_DAY}"
    ))  # fmt: skip
    assert due["totals"] == overdue["totals"]
    csv_roots = csv_rows(chain.client(chain.core).get(
        f"/v1/reports/roots?issuer={chain.core.id}", accept="text/csv"
    ))  # fmt: skip
    assert csv_roots == [{k: as_text(v) for k, v in r.items()} for r in report["roots"]]


def test_splitting_flags_fine_paper(chain: Chain) -> None:
    fine = chain.issued("5000.00")
    accept(chain, certs(chain.transfer(chain.s1, [fine], [(chain.s2, "300.00")])))
    whole = chain.issued("5000.00")
    listed = ok(chain.client(chain.operator).get("/v1/reports/splitting"))["roots"]
    by_root = {r["id"]: r for r in listed}
    assert by_root[fine]["flagged"] is True and by_root[fine]["reasons"] == ["smallest"]
    assert (by_root[fine]["pieces"], by_root[fine]["holders"]) == (2, 2)
    assert by_root[fine]["smallest"] == "300.00"
    assert by_root[whole]["flagged"] is False and by_root[whole]["reasons"] == []
    flagged = ok(chain.client(chain.operator).get("/v1/reports/splitting?flagged=true"))
    assert [r["id"] for r in flagged["roots"]] == [fine]
    paged = all_pages(chain, chain.operator, "/v1/reports/splitting?limit=1", "roots")
    assert paged == listed


def test_dcc_report_reads_the_database(chain: Chain, database_url: str) -> None:
    history(chain)
    runner = CliRunner()
    due_args = ["--issuer", chain.core.id, "--on", LATE_DAY, "--db", database_url]
    printed = runner.invoke(cli_app, ["report", "due", *due_args, "--csv"])
    assert printed.exit_code == 0, printed.output
    http = chain.client(chain.core).get(
        f"/v1/settlements/due?issuer={chain.core.id}&on={LATE_DAY}", accept="text/csv"
    )
    assert printed.output == http.text
    table = runner.invoke(cli_app, ["report", "due", *due_args])
    assert table.exit_code == 0, table.output
    assert "totals: count 2, amount 300.00" in table.output
    period = ["--from", "2026-03-01", "--to", "2026-06-30", "--db", database_url]
    issuer = runner.invoke(cli_app, ["report", "issuer", "--issuer", chain.core.id, *period])
    assert issuer.exit_code == 0 and "1600.00" in issuer.output, issuer.output
    refused = runner.invoke(
        cli_app, ["report", "roots", "--issuer", chain.s1.id, "--db", database_url]
    )
    assert refused.exit_code == 2 and "not-found" in refused.output


def test_a_piece_still_pending_is_owed_to_its_sender_not_its_recipient(chain: Chain) -> None:
    """The recipient of a pending piece never accepted it: at maturity it goes back to
    its sender, whom the issuer pays — and whose account, not the recipient's, it sees."""
    ok(chain.client(chain.s2).submit("member.set_payout_account", ACCOUNT))
    sender_account = {"bank_name": "Bank of Fuzhou", "account_no": "6222000011112222"}
    ok(chain.client(chain.s1).submit("member.set_payout_account", sender_account))
    root = chain.issued("500.00")
    chain.transfer(chain.s1, [root], [(chain.s2, "300.00")])  # s2 does not accept
    on = business_date(chain.clock, 200)
    listed = ok(chain.client(chain.core).get(f"/v1/settlements/due?issuer={chain.core.id}&on={on}"))
    rows = {(r["state"], r["amount"]): r for r in listed["pieces"]}
    pending = rows[("pending", "300.00")]
    assert (pending["holder"], pending["payee"]) == (chain.s2.id, chain.s1.id)
    assert pending["payout_account"] == sender_account
    assert ACCOUNT not in [r["payout_account"] for r in listed["pieces"]]


@pytest.mark.parametrize("query", ["from=0001-01-01", "from=9999-12-15", "to=9999-12-31"])
def test_a_period_at_the_ends_of_the_calendar_is_refused(chain: Chain, query: str) -> None:
    path = f"/v1/reports/issuer/{chain.core.id}?{query}"
    assert_problem(chain.client(chain.core).get(path), 422, "validation")
