"""Novation plans checked by hand."""

from __future__ import annotations

from netting.graph import Debt, build_graph, net_positions
from netting.novation import NovationPlan, Payment, novation_plan
from netting.setoff import solve_setoff


def payments(plan: NovationPlan) -> list[tuple[str, str, int]]:
    return [(p.debtor, p.creditor, p.amount_fen) for p in plan.payments]


def test_the_three_cycle_needs_two_payments_from_its_only_debtor() -> None:
    # Nets: A −50, B +30, C +20. A pays both; 50 remains where set-off leaves 70.
    graph = build_graph([Debt("A", "B", 100), Debt("B", "C", 70), Debt("C", "A", 50)])
    plan = novation_plan(graph)
    assert payments(plan) == [("A", "B", 30), ("A", "C", 20)]
    assert (plan.gross_before_fen, plan.gross_after_fen, plan.cleared_fen) == (220, 50, 170)
    assert plan.edges_before == 3
    assert solve_setoff(graph).gross_after_fen == 70


def test_a_chain_collapses_to_one_payment() -> None:
    # A → B → C → D, 40 each: B and C only pass money on; A pays D directly.
    graph = build_graph([Debt("A", "B", 40), Debt("B", "C", 40), Debt("C", "D", 40)])
    assert novation_plan(graph).payments == (Payment("A", "D", 40),)


def test_equal_amounts_are_paired_before_the_greedy_pass() -> None:
    # Nets: P −70, Q −30, X +50, Y +30, Z +20 (worked by hand).
    # Greedy alone: P→X 50, P→Y 20, Q→Y 10, Q→Z 20 — four payments.
    # Pairing Q's 30 with Y's 30 first: Q→Y 30, then P→X 50, P→Z 20 — three.
    debts = [Debt("P", "X", 50), Debt("P", "Y", 20), Debt("Q", "Y", 10), Debt("Q", "Z", 20)]
    graph = build_graph(debts)
    assert net_positions(graph) == {"P": -70, "Q": -30, "X": 50, "Y": 30, "Z": 20}
    plan = novation_plan(graph)
    assert payments(plan) == [("P", "X", 50), ("P", "Z", 20), ("Q", "Y", 30)]
    assert plan.gross_after_fen == 100 == plan.gross_before_fen


def test_ties_between_equal_amounts_go_to_the_smaller_id() -> None:
    # Nets: A −10, B −10, C +10, D +10, all connected (A and B owe each other 5):
    # two exact pairs, smallest ids together.
    debts = [Debt("A", "D", 10), Debt("B", "C", 10), Debt("A", "B", 5), Debt("B", "A", 5)]
    assert payments(novation_plan(build_graph(debts))) == [("A", "C", 10), ("B", "D", 10)]


def test_groups_that_owe_each_other_nothing_are_planned_apart() -> None:
    # Two groups of three: {A, B, C} and {X, Y, Z}, nets A −30, B +10, C +20 and
    # X −20, Y +5, Z +15. Planned together, greedy would pay across groups (A → Z) and
    # use 5 payments; apart, each group needs at most 2, and no payment crosses.
    debts = [
        Debt("A", "B", 10),
        Debt("A", "C", 20),
        Debt("X", "Y", 5),
        Debt("X", "Z", 15),
    ]
    plan = novation_plan(build_graph(debts))
    assert payments(plan) == [("A", "B", 10), ("A", "C", 20), ("X", "Y", 5), ("X", "Z", 15)]
    three_groups = (
        [Debt(f"{g}1", f"{g}2", 7) for g in "PQR"]
        + [Debt(f"{g}2", f"{g}3", 3) for g in "PQR"]
        + [Debt(f"{g}1", f"{g}3", 2) for g in "PQR"]
    )
    plan = novation_plan(build_graph(three_groups))
    assert len(plan.payments) == 6  # 2 per group: {1: −9, 2: +4, 3: +5}
    assert all(p.debtor[0] == p.creditor[0] for p in plan.payments)


def test_a_balanced_graph_needs_no_payment() -> None:
    graph = build_graph([Debt("A", "B", 10), Debt("B", "A", 10)])
    plan = novation_plan(graph)
    assert (plan.payments, plan.gross_after_fen, plan.cleared_fen) == ((), 0, 20)
    assert novation_plan(build_graph([])).payments == ()
