"""Netting through the journal, over HTTP: three firms owing each other in a cycle."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from api.cli import app as cli_app
from tests.conftest import Actor, World, business_date
from tests.helpers import assert_problem, certs, fen, ok, refused


class Cycle:
    """A, B and C: each a core enterprise and a supplier, all consenting to netting.

    A owes B: a certificate of 100.00 (maturity in 60 days) and an obligation of 20.00
    (due in 10 days); B owes C: a certificate of 70.00; C owes A: an obligation of 50.00.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.a, self.b, self.c = (world.admit("core", "supplier", name=n) for n in "ABC")
        for firm in (self.a, self.b, self.c):
            ok(
                world.client(world.operator).submit(
                    "limit.set", {"member": firm.id, "amount": "1000.00"}
                )
            )
            ok(world.client(firm).submit("member.netting_consent", {"consent": True}))
        self.cert_ab = self.certificate(self.a, self.b, "100.00", 60)
        self.cert_bc = self.certificate(self.b, self.c, "70.00", 30)
        self.ob_ab = self.obligation(self.a, self.b, "20.00", 10)
        self.ob_ca = self.obligation(self.c, self.a, "50.00", 5)

    def certificate(self, issuer: Actor, holder: Actor, amount: str, days: int) -> str:
        body = {
            "to": holder.id,
            "amount": amount,
            "maturity": business_date(self.world.clock, days),
            "trade": {
                "contract_no": "C",
                "invoices": [{"no": f"INV{issuer.id[-6:]}{days}", "amount": amount}],
            },
        }
        root = certs(self.world.client(issuer).submit("certificate.issue", body))[0]["id"]
        ok(self.world.client(holder).submit("certificate.accept", {"id": root}))
        return str(root)

    def obligation(self, debtor: Actor, creditor: Actor, amount: str, days: int) -> str:
        body = {
            "creditor": creditor.id,
            "amount": amount,
            "due_date": business_date(self.world.clock, days),
            "reference": "PO-1",
        }
        registered = ok(self.world.client(debtor).submit("obligation.register", body))
        obligation_id = registered["effects"]["obligations"][0]["id"]
        ok(self.world.client(creditor).submit("obligation.confirm", {"id": obligation_id}))
        return str(obligation_id)

    def wallet_total(self, firm: Actor) -> int:
        wallet = ok(self.world.client(firm).get(f"/v1/wallets/{firm.id}"))
        return sum(fen(t["amount"]) for t in wallet["totals"] if t["state"] == "active")


def nets(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        row["member"]: (fen_signed(row["before"]), fen_signed(row["after"]))
        for row in report["nets"]
    }


def fen_signed(amount: str) -> int:
    return -fen(amount[1:]) if amount.startswith("-") else fen(amount)


def test_a_cycle_of_three_firms_is_netted_and_positions_are_unchanged(
    world: World, database_url: str
) -> None:
    cycle = Cycle(world)
    operator = world.client(world.operator)
    a, b, c = cycle.a.id, cycle.b.id, cycle.c.id
    expected_nets = {a: -7000, b: 5000, c: 2000}  # in 50 − out 120; in 120 − out 70; in 70 − out 50

    preview = ok(operator.get("/v1/netting/preview?mode=setoff"))
    assert (preview["gross_before"], preview["edges_before"]) == ("240.00", 3)
    assert preview["cleared"] == "150.00" and preview["gross_after"] == "90.00"
    assert {k: v[0] for k, v in nets(preview).items()} == expected_nets
    novation = ok(operator.get("/v1/netting/preview?mode=novation"))
    assert novation["gross_after"] == "70.00" and len(novation["payments"]) <= 2
    assert_problem(world.client(cycle.a).get("/v1/netting/preview"), 403, "forbidden")
    before = {firm.id: cycle.wallet_total(firm) for firm in (cycle.a, cycle.b, cycle.c)}
    assert before == {a: 0, b: 10000, c: 7000}

    receipt = ok(
        operator.submit("netting.run", {"mode": "setoff", "as_of": business_date(world.clock)})
    )
    summary = receipt["effects"]["netting"]
    assert summary["cleared"] == "150.00" and summary["edges_before"] == 3
    assert summary["edges_after"] == 2  # C→A is cleared; A→B 70.00 and B→C 20.00 remain
    assert {k: v for k, v in nets(summary).items()} == {m: (n, n) for m, n in expected_nets.items()}
    assert sorted(
        (r["debtor"], r["creditor"], r["amount"]) for r in summary["reductions"]
    ) == sorted([(a, b, "50.00"), (b, c, "50.00"), (c, a, "50.00")])

    # Earliest due first on A→B: the obligation (10 days) before the certificate (60 days).
    obligations = {o["id"]: o for o in receipt["effects"]["obligations"]}
    assert (obligations[cycle.ob_ab]["state"], obligations[cycle.ob_ab]["outstanding"]) == (
        "settled",
        "0.00",
    )
    assert obligations[cycle.ob_ca]["state"] == "settled"
    pieces = receipt["effects"]["certificates"]
    ab = [p for p in pieces if p["root_id"] == cycle.cert_ab]
    assert sorted((p["state"], p["amount"]) for p in ab) == [
        ("active", "70.00"),
        ("settled", "30.00"),
        ("spent", "100.00"),
    ]
    limits = {lim["member"]: lim["outstanding"] for lim in receipt["effects"]["limits"]}
    assert limits == {a: "70.00", b: "20.00"}

    after = {firm.id: cycle.wallet_total(firm) for firm in (cycle.a, cycle.b, cycle.c)}
    assert after == {a: 0, b: 7000, c: 2000}
    again = ok(operator.get("/v1/netting/preview?mode=setoff"))
    assert {k: v[0] for k, v in nets(again).items()} == expected_nets
    assert again["cleared"] == "0.00"

    # A second run clears zero and is still recorded.
    second = ok(
        operator.submit("netting.run", {"mode": "setoff", "as_of": business_date(world.clock)})
    )
    assert second["effects"]["netting"]["cleared"] == "0.00"
    result = CliRunner().invoke(cli_app, ["verify", "--db", database_url])
    assert result.exit_code == 0, result.output
    net_text = CliRunner().invoke(cli_app, ["net", "--db", database_url, "--mode", "novation"])
    assert net_text.exit_code == 0 and "novation" in net_text.output


def test_only_consenting_members_take_part(world: World) -> None:
    cycle = Cycle(world)
    ok(world.client(cycle.c).submit("member.netting_consent", {"consent": False}))
    preview = ok(world.client(world.operator).get("/v1/netting/preview"))
    assert preview["edges_before"] == 1 and preview["cleared"] == "0.00"  # only A→B is left


def test_a_suspended_members_debts_stay_out_of_netting(world: World) -> None:
    cycle = Cycle(world)
    full = ok(world.client(world.operator).get("/v1/netting/preview"))
    assert full["cleared"] != "0.00"
    ok(world.client(world.operator).submit("member.suspend", {"id": cycle.c.id}))
    frozen = ok(world.client(world.operator).get("/v1/netting/preview"))
    assert frozen["edges_before"] == 1 and frozen["cleared"] == "0.00"  # only A→B is left
    run = ok(
        world.client(world.operator).submit(
            "netting.run", {"mode": "setoff", "as_of": business_date(world.clock)}
        )
    )
    assert run["effects"]["netting"]["cleared"] == "0.00"
    obligation = ok(world.client(world.operator).get(f"/v1/obligations/{cycle.ob_ca}"))
    assert (obligation["state"], obligation["outstanding"]) == ("confirmed", "50.00")
    ok(world.client(world.operator).submit("member.reinstate", {"id": cycle.c.id}))
    back = ok(world.client(world.operator).get("/v1/netting/preview"))
    assert back["cleared"] == full["cleared"]


def test_a_run_must_be_for_today_and_by_the_operator(world: World) -> None:
    cycle = Cycle(world)
    body = {"mode": "setoff", "as_of": business_date(world.clock, -1)}
    late = assert_problem(
        world.client(world.operator).submit("netting.run", body), 422, "validation"
    )
    # Which "today": the business date, and the timezone it is in.
    today = business_date(world.clock)
    assert f"today is {today} in UTC+08:00 (the business timezone)" in late["detail"], late
    body["as_of"] = business_date(world.clock)
    assert_problem(world.client(cycle.a).submit("netting.run", body), 403, "forbidden")
    body["mode"] = "novation"
    assert_problem(world.client(world.operator).submit("netting.run", body), 422, "validation")


def test_obligation_lifecycle_and_visibility(world: World) -> None:
    debtor, creditor, stranger = (world.admit("supplier") for _ in range(3))
    body = {
        "creditor": creditor.id,
        "amount": "80.00",
        "due_date": business_date(world.clock, 20),
        "reference": "PO-7",
    }
    registered = ok(world.client(debtor).submit("obligation.register", body))
    shown = registered["effects"]["obligations"][0]
    assert {k: shown[k] for k in ("debtor", "creditor", "amount", "outstanding", "state")} == {
        "debtor": debtor.id,
        "creditor": creditor.id,
        "amount": "80.00",
        "outstanding": "80.00",
        "state": "pending",
    }
    oid = shown["id"]
    settle = {"id": oid, "payment_ref": "BANK-123"}
    assert_problem(
        world.client(debtor).submit("obligation.settle", settle), 409, "invalid-obligation-state"
    )
    assert_problem(world.client(debtor).submit("obligation.confirm", {"id": oid}), 403, "forbidden")
    assert_problem(
        world.client(stranger).submit("obligation.confirm", {"id": oid}),
        404,
        "obligation-not-found",
    )
    ok(world.client(creditor).submit("obligation.confirm", {"id": oid}))
    claimed = ok(world.client(debtor).submit("obligation.settle", settle))["effects"][
        "obligations"
    ][0]
    assert (claimed["state"], claimed["outstanding"], claimed["claimed"]) == (
        "settlement-claimed",
        "80.00",
        "80.00",
    )
    settled = ok(world.client(creditor).submit("obligation.confirm_settlement", {"id": oid}))[
        "effects"
    ]["obligations"][0]
    assert (settled["state"], settled["outstanding"], settled["payment_ref"]) == (
        "settled",
        "0.00",
        "BANK-123",
    )
    for viewer in (debtor, creditor, world.operator):
        assert ok(world.client(viewer).get(f"/v1/obligations/{oid}"))["state"] == "settled"
    assert_problem(world.client(stranger).get(f"/v1/obligations/{oid}"), 404, "not-found")
    self_owed = dict(body, creditor=debtor.id)
    assert_problem(world.client(debtor).submit("obligation.register", self_owed), 422, "validation")
    assert world.ledger.verify().ok


# -- settlement is a claim the creditor confirms (issue 8) ------------------------------------


def _confirmed_obligation(world: World, amount: str) -> tuple[Actor, Actor, str]:
    debtor, creditor = world.admit("supplier"), world.admit("supplier")
    body = {
        "creditor": creditor.id,
        "amount": amount,
        "due_date": business_date(world.clock, 20),
        "reference": "PO-9",
    }
    registered = ok(world.client(debtor).submit("obligation.register", body))
    oid = registered["effects"]["obligations"][0]["id"]
    ok(world.client(creditor).submit("obligation.confirm", {"id": oid}))
    return debtor, creditor, oid


def _shown(world: World, viewer: Actor, oid: str) -> tuple[str, str, str | None]:
    found = ok(world.client(viewer).get(f"/v1/obligations/{oid}"))
    return found["state"], found["outstanding"], found["claimed"]


def test_the_debtors_word_alone_settles_nothing(world: World) -> None:
    debtor, creditor, oid = _confirmed_obligation(world, "100.00")
    ok(world.client(debtor).submit("obligation.settle", {"id": oid, "payment_ref": "TX-1"}))
    assert _shown(world, creditor, oid) == ("settlement-claimed", "100.00", "100.00")
    # Only the creditor answers a claim; the debtor cannot confirm its own word.
    before = world.ledger.head()
    refused(
        world,
        world.client(debtor).submit("obligation.confirm_settlement", {"id": oid}),
        403,
        "forbidden",
    )
    refused(
        world,
        world.client(debtor).submit("obligation.settle", {"id": oid, "payment_ref": "TX-2"}),
        409,
        "invalid-obligation-state",
    )
    assert world.ledger.head() == before
    # The creditor disputes: owed as before. A partial claim, confirmed, reduces the debt.
    ok(world.client(creditor).submit("obligation.dispute_settlement", {"id": oid, "reason": "no"}))
    assert _shown(world, debtor, oid) == ("confirmed", "100.00", None)
    partial = {"id": oid, "payment_ref": "TX-3", "amount": "30.00"}
    ok(world.client(debtor).submit("obligation.settle", partial))
    ok(world.client(creditor).submit("obligation.confirm_settlement", {"id": oid}))
    assert _shown(world, debtor, oid) == ("confirmed", "70.00", None)
    too_much = {"id": oid, "payment_ref": "TX-4", "amount": "70.01"}
    refused(
        world,
        world.client(debtor).submit("obligation.settle", too_much),
        422,
        "settlement-too-large",
    )
    ok(world.client(debtor).submit("obligation.settle", {"id": oid, "payment_ref": "TX-5"}))
    paid = ok(world.client(creditor).submit("obligation.confirm_settlement", {"id": oid}))
    assert [
        (o["state"], o["outstanding"], o["payment_ref"]) for o in paid["effects"]["obligations"]
    ] == [("settled", "0.00", "TX-5")]
    assert world.ledger.verify().ok


def test_a_claimed_settlement_stays_out_of_netting_until_the_creditor_answers(
    world: World,
) -> None:
    """A owes B and B owes A: a cycle netting would clear, unless a claim is open on it."""
    a, b, a_owes_b = _confirmed_obligation(world, "50.00")
    body = {
        "creditor": a.id,
        "amount": "50.00",
        "due_date": business_date(world.clock, 20),
        "reference": "PO-10",
    }
    b_owes_a = ok(world.client(b).submit("obligation.register", body))["effects"]["obligations"][0][
        "id"
    ]
    ok(world.client(a).submit("obligation.confirm", {"id": b_owes_a}))
    for member in (a, b):
        ok(world.client(member).submit("member.netting_consent", {"consent": True}))
    ok(world.client(a).submit("obligation.settle", {"id": a_owes_b, "payment_ref": "TX-9"}))
    run = {"mode": "setoff", "as_of": business_date(world.clock)}
    report = ok(world.client(world.operator).submit("netting.run", run))["effects"]["netting"]
    assert report["cleared"] == "0.00"
    ok(world.client(b).submit("obligation.dispute_settlement", {"id": a_owes_b}))
    report = ok(world.client(world.operator).submit("netting.run", run))["effects"]["netting"]
    assert report["cleared"] == "100.00"
    assert _shown(world, a, a_owes_b) == ("settled", "0.00", None)
    assert world.ledger.verify().ok
