"""Netting on random small graphs, audited by independent methods.

Debt lists have up to 20 debts among up to 8 members, amounts 1..10^6 fen, and include
self-debts and repeated pairs (which ``build_graph`` drops and merges). They start with
a few overlapping cycles, because plain random lists are mostly acyclic at this size
and cycles competing for an edge are where a wrong solver or tie-break costs fen; a
few round amounts are over-represented so that equal-amount ties — the hard case for
determinism — come up often. The auditors: the remaining graph itself (nets, edges),
a HiGHS linear program (`tests/unit/test_netting_setoff.py`), and the other solver.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from unittest import mock

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import parse_amount
from netting import setoff
from netting.graph import Debt, build_graph, gross_fen, net_positions
from netting.novation import novation_plan
from netting.report import novation_report, setoff_report
from netting.setoff import SetoffPlan, remaining_graph, solve_setoff
from tests.unit.test_netting_setoff import lp_max_ranked_setoff, lp_min_remaining_fen, ranked_setoff

NAMES = "ABCDEFGH"
amounts_fen = st.one_of(st.integers(1, 10**6), st.sampled_from([100, 200, 300]))


@st.composite
def debt_lists(draw: st.DrawFn) -> list[Debt]:
    """Up to 20 debts: a few overlapping cycles (where plans compete), then random debts."""
    names = NAMES[: draw(st.integers(2, len(NAMES)))]
    member = st.sampled_from(names)
    debts: list[Debt] = []
    for cycle in draw(st.lists(st.lists(member, min_size=2, max_size=len(names), unique=True))):
        pairs = zip(cycle, cycle[1:] + cycle[:1], strict=True)
        debts += [Debt(debtor, creditor, draw(amounts_fen)) for debtor, creditor in pairs]
    debts = debts[:20]
    extra = st.lists(st.builds(Debt, member, member, amounts_fen), max_size=20 - len(debts))
    return debts + draw(extra)


def assert_is_a_setoff_of(graph: nx.DiGraph, plan: SetoffPlan) -> None:
    """No edge created or raised, none negative, every net position unchanged."""
    pairs = [(r.debtor, r.creditor) for r in plan.reductions]
    assert pairs == sorted(set(pairs))
    for reduction in plan.reductions:
        assert 0 < reduction.amount_fen <= graph[reduction.debtor][reduction.creditor]["amount_fen"]
    after = remaining_graph(graph, plan)
    for debtor, creditor, amount_fen in after.edges(data="amount_fen"):
        assert 0 < amount_fen <= graph[debtor][creditor]["amount_fen"]
    nets_after_fen = dict.fromkeys(graph.nodes, 0) | net_positions(after)
    assert nets_after_fen == net_positions(graph)
    assert after.number_of_edges() == plan.edges_after <= plan.edges_before
    assert gross_fen(after) == plan.gross_after_fen
    assert gross_fen(graph) == plan.gross_before_fen


@settings(max_examples=500, deadline=None)
@given(debt_lists())
def test_setoff_clears_the_optimum_found_by_lp_and_by_the_other_solver(debts: list[Debt]) -> None:
    graph = build_graph(debts)
    fast = solve_setoff(graph, solver="ortools")
    simplex = solve_setoff(graph, solver="networkx")
    with mock.patch.object(setoff, "TIE_BREAK_EDGES_MAX", 0):
        unranked = solve_setoff(graph)
    for plan in (fast, simplex, unranked):
        assert_is_a_setoff_of(graph, plan)
    optimum_fen = lp_min_remaining_fen(graph)
    assert (
        fast.gross_after_fen == simplex.gross_after_fen == unranked.gross_after_fen == optimum_fen
    )
    # The rank perturbation keeps the fen total exact (above) and reaches the best
    # ranked total among maximum set-offs, as a two-stage LP computes it.
    assert fast.tie_break == simplex.tie_break == "rank"
    best_ranked = lp_max_ranked_setoff(graph, fast.cleared_fen)
    assert ranked_setoff(graph, fast) == ranked_setoff(graph, simplex) == best_ranked


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_same_debts_in_any_order_give_the_same_plan(data: st.DataObject) -> None:
    debts = data.draw(debt_lists())
    shuffled = data.draw(st.permutations(debts))
    for solver in setoff.SOLVERS:
        assert solve_setoff(build_graph(shuffled), solver=solver) == solve_setoff(
            build_graph(debts), solver=solver
        )
    with mock.patch.object(setoff, "TIE_BREAK_EDGES_MAX", 0):
        assert solve_setoff(build_graph(shuffled)) == solve_setoff(build_graph(debts))
    assert novation_plan(build_graph(shuffled)) == novation_plan(build_graph(debts))


@settings(max_examples=300, deadline=None)
@given(debt_lists())
def test_novation_pays_the_sum_of_positive_nets_in_few_payments(debts: list[Debt]) -> None:
    graph = build_graph(debts)
    nets_fen = net_positions(graph)
    plan = novation_plan(graph)
    settled_fen = dict.fromkeys(nets_fen, 0)
    for payment in plan.payments:
        assert payment.amount_fen > 0
        assert nets_fen[payment.debtor] < 0 < nets_fen[payment.creditor]
        settled_fen[payment.debtor] -= payment.amount_fen
        settled_fen[payment.creditor] += payment.amount_fen
    assert settled_fen == nets_fen
    assert plan.gross_after_fen == sum(net for net in nets_fen.values() if net > 0)
    # Per group of connected members, at most k − 1 payments, none across groups.
    group_of = {
        m: i for i, group in enumerate(nx.weakly_connected_components(graph)) for m in group
    }
    for payment in plan.payments:
        assert group_of[payment.debtor] == group_of[payment.creditor], payment
    nonzero_by_group = Counter(group_of[m] for m, net in nets_fen.items() if net != 0)
    assert len(plan.payments) <= sum(max(k - 1, 0) for k in nonzero_by_group.values())
    # Novation may create debts, so it never leaves more than set-off.
    assert plan.gross_after_fen <= solve_setoff(graph).gross_after_fen


@settings(max_examples=100, deadline=None)
@given(debt_lists())
def test_reports_add_up_in_decimal_strings(debts: list[Debt]) -> None:
    graph = build_graph(debts)
    for report in (
        setoff_report(graph, solve_setoff(graph)),
        novation_report(graph, novation_plan(graph)),
    ):
        before = parse_amount(report["gross_before"], allow_zero=True)
        after = parse_amount(report["gross_after"], allow_zero=True)
        assert parse_amount(report["cleared"], allow_zero=True) == before - after
        rows = report["reductions"] if report["mode"] == "setoff" else report["payments"]
        moved = sum(parse_amount(row["amount"]) for row in rows)
        assert moved == (before - after if report["mode"] == "setoff" else after)
        assert [n["member"] for n in report["nets"]] == sorted(graph.nodes)
        assert all(n["before"] == n["after"] for n in report["nets"])
        percent = report["cleared_percent"]
        assert re.fullmatch(r"[0-9]+\.[0-9]{2}", percent) and Decimal(0) <= Decimal(percent) <= 100
