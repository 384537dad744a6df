"""Netting within bounds: planned before the ledger lock, applied only where nothing
changed, and one oversized group of firms never blocks the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.catalog import CommandType
from ledger.commands import Command
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import World, business_date
from tests.helpers import ok
from tests.integration.test_netting_http import Cycle


class Interleaved(Ledger):
    """A ledger that lets another write land between planning a command and applying
    it — what any member may do while a long netting run is being planned."""

    between: Callable[[], None] | None = None

    def _plan(self, cmd: Command, kind: CommandType, command_hash: str) -> Any:
        planned = super()._plan(cmd, kind, command_hash)
        if self.between is not None:
            self.between()
        return planned


def pair(world: World, cycle: Cycle) -> tuple[str, str]:
    """D and E, consenting, owing each other 30.00 both ways: a second group of firms."""
    d, e = (world.admit("core", "supplier", name=n) for n in "DE")
    for firm in (d, e):
        ok(
            world.client(world.operator).submit(
                "limit.set", {"member": firm.id, "amount": "100.00"}
            )
        )
        ok(world.client(firm).submit("member.netting_consent", {"consent": True}))
    cycle.certificate(d, e, "30.00", 20)
    cycle.obligation(e, d, "30.00", 20)
    return d.id, e.id


def run_body(world: World) -> dict[str, str]:
    return {"mode": "setoff", "as_of": business_date(world.clock)}


def test_a_group_that_changed_while_the_run_was_planned_is_left_for_the_next_run(
    world: World,
) -> None:
    cycle = Cycle(world)
    d, e = pair(world, cycle)
    ledger = Interleaved(world.ledger.engine, world.ledger.settings, world.clock)

    def b_splits_the_piece_the_plan_clears() -> None:
        body = {
            "inputs": [cycle.cert_ab],
            "outputs": [{"to": cycle.b.id, "amount": "60.00"}],
            "trade": {"contract_no": "C", "invoices": []},
        }
        ok(world.client(cycle.b).submit("certificate.transfer", body))
        ledger.between = None

    ledger.between = b_splits_the_piece_the_plan_clears
    with TestClient(create_app(ledger), raise_server_exceptions=False) as http:
        operator = World(http, ledger, world.operator, world.clock).client(world.operator)
        receipt = ok(operator.submit("netting.run", run_body(world)))
        first = receipt["effects"]
        report = first["netting"]
        assert [(x["reason"], x["members"]) for x in report["excluded"]] == [("changed", 3)]
        assert report["planned_on"] == receipt["seq"] - 2
        assert {(r["debtor"], r["creditor"]) for r in report["reductions"]} == {(d, e), (e, d)}
        assert report["cleared"] == "60.00"
        assert all(c["root_id"] != cycle.cert_ab for c in first["certificates"])
        # The next run plans from the ledger as it is now, and nets the first group.
        second = ok(operator.submit("netting.run", run_body(world)))["effects"]["netting"]
        assert second["excluded"] == [] and second["cleared"] == "150.00"
    # The run records the seq it was planned on (before B's transfer): re-execution plans
    # it on the ledger as it was then, and applies it at its own seq, as the service did.
    assert world.ledger.verify().ok


def test_an_oversized_group_is_left_out_and_reported_and_the_others_are_netted(
    world: World,
) -> None:
    """Two firms pile absurd obligations on each other, beyond the gross one group may
    have; the platform's other group is netted all the same."""
    cycle = Cycle(world)
    squat_a, squat_b = (world.admit("supplier", name=n) for n in ("X", "Y"))
    for firm in (squat_a, squat_b):
        ok(world.client(firm).submit("member.netting_consent", {"consent": True}))
    for debtor, creditor in [(squat_a, squat_b), (squat_b, squat_a)] * 2:
        cycle.obligation(debtor, creditor, "9999999999.00", 30)
    strict = Ledger(
        world.ledger.engine, Settings(netting_component_gross_fen_max=10**10), world.clock
    )
    with TestClient(create_app(strict), raise_server_exceptions=False) as http:
        operator = World(http, strict, world.operator, world.clock).client(world.operator)
        preview = ok(operator.get("/v1/netting/preview"))
        assert preview["cleared"] == "150.00"
        [left_out] = preview["excluded"]
        assert left_out["reason"] == "gross-beyond-limit"
        assert sorted(left_out["sample"]) == sorted([squat_a.id, squat_b.id])
        assert left_out["edges"] == 2 and left_out["gross"] == "39999999996.00"
        report = ok(operator.submit("netting.run", run_body(world)))["effects"]["netting"]
        assert report["cleared"] == "150.00" and report["excluded"] == [left_out]
    # The strict deployment recorded its settings before its first entry: the run
    # re-executes under them, whichever deployment's environment verifies.
    assert strict.verify().ok and world.ledger.verify().ok


@pytest.mark.tampers
def test_a_run_recorded_before_runs_named_their_snapshot_still_re_executes(
    world: World, engine: Any
) -> None:
    """A run written before ``planned_on`` existed has none: it is planned at its own
    seq, and its effects compared without the field."""
    import json

    from tests.integration.test_audit import rehash_from
    from tests.integration.test_journal import _drop_trigger, stored_rows

    cycle = Cycle(world)
    pair(world, cycle)
    receipt = ok(world.client(world.operator).submit("netting.run", run_body(world)))
    assert receipt["effects"]["netting"]["cleared"] == "210.00"
    _drop_trigger(engine)
    effects = json.loads(stored_rows(engine)[receipt["seq"] - 1].effects)
    del effects["netting"]["planned_on"]
    legacy = json.dumps(effects, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rehash_from(engine, receipt["seq"], {"effects": legacy})
    report = world.ledger.verify()
    assert report.ok, report.problems
