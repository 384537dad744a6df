"""Set-off against hand-worked numbers and an independent linear program.

The oracles here (`lp_min_remaining_fen`, `lp_max_ranked_setoff`) share nothing with the
engine: they solve the textbook formulation with HiGHS over *every* edge, without the
engine's SCC step, its canonical arrays or its solvers. The property tests reuse them.
"""

from __future__ import annotations

import random
from unittest import mock

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import csr_array, vstack

from netting import setoff
from netting.graph import Debt, build_graph, debts_of, gross_fen, net_positions
from netting.novation import novation_plan
from netting.setoff import Reduction, SetoffPlan, remaining_graph, solve_setoff

SOLVERS = ["ortools", "networkx"]


def _incidence(graph: nx.DiGraph) -> tuple[list[tuple[str, str, int]], csr_array]:
    """Edges sorted, and the node × edge matrix with +1 where an edge enters, −1 leaves."""
    edges = sorted(graph.edges(data="amount_fen"))
    row = {member: i for i, member in enumerate(sorted(graph.nodes))}
    rows = [row[v] for _, v, _ in edges] + [row[u] for u, _, _ in edges]
    signs = [1] * len(edges) + [-1] * len(edges)
    columns = list(range(len(edges))) * 2
    return edges, csr_array((signs, (rows, columns)), shape=(len(row), len(edges)))


def _integral(value: float) -> int:
    # The constraint matrix of a network problem is totally unimodular, so with integer
    # data the LP optimum is an integer; anything else means the oracle itself is off.
    optimum = round(value)
    assert abs(value - optimum) < 1e-3, value
    return optimum


def lp_min_remaining_fen(graph: nx.DiGraph) -> int:
    """min Σ x subject to 0 ≤ x ≤ a on every edge and inflow − outflow = b_i at every node."""
    edges, incidence = _incidence(graph)
    if not edges:
        return 0
    nets_fen = net_positions(graph)
    result = linprog(
        c=np.ones(len(edges)),
        A_eq=incidence,
        b_eq=[nets_fen[member] for member in sorted(graph.nodes)],
        bounds=[(0, amount_fen) for _, _, amount_fen in edges],
        method="highs",
    )
    assert result.status == 0, result.message
    return _integral(result.fun)


def ranks_of(graph: nx.DiGraph) -> dict[tuple[str, str], int]:
    """Rule 2 of the tie-break, restated: cyclic edges ranked m..1 in (debtor, creditor) order."""
    component = {}
    for label, members in enumerate(nx.strongly_connected_components(graph)):
        component.update(dict.fromkeys(members, label))
    cyclic = sorted((u, v) for u, v in graph.edges if component[u] == component[v])
    return {edge: len(cyclic) - i for i, edge in enumerate(cyclic)}


def lp_max_ranked_setoff(graph: nx.DiGraph, cleared_fen: int) -> int:
    """max Σ rank·c over circulations 0 ≤ c ≤ a that clear exactly ``cleared_fen``."""
    edges, incidence = _incidence(graph)
    if not edges:
        return 0
    ranks = ranks_of(graph)
    result = linprog(
        c=[-ranks.get((u, v), 0) for u, v, _ in edges],
        A_eq=vstack([incidence, csr_array(np.ones((1, len(edges))))]),
        b_eq=[0] * incidence.shape[0] + [cleared_fen],
        bounds=[(0, amount_fen) for _, _, amount_fen in edges],
        method="highs",
    )
    assert result.status == 0, result.message
    return -_integral(result.fun)


def ranked_setoff(graph: nx.DiGraph, plan: SetoffPlan) -> int:
    ranks = ranks_of(graph)
    return sum(ranks[r.debtor, r.creditor] * r.amount_fen for r in plan.reductions)


def triples(plan: SetoffPlan) -> list[tuple[str, str, int]]:
    return [(r.debtor, r.creditor, r.amount_fen) for r in plan.reductions]


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_three_cycle_clears_its_smallest_edge_all_round(solver: str) -> None:
    # By hand: the cycle A → B → C → A can carry at most min(100, 70, 50) = 50.
    graph = build_graph([Debt("A", "B", 100), Debt("B", "C", 70), Debt("C", "A", 50)])
    plan = solve_setoff(graph, solver=solver)
    assert triples(plan) == [("A", "B", 50), ("B", "C", 50), ("C", "A", 50)]
    assert debts_of(remaining_graph(graph, plan)) == [Debt("A", "B", 50), Debt("B", "C", 20)]
    assert (plan.gross_before_fen, plan.gross_after_fen, plan.cleared_fen) == (220, 70, 150)
    assert (plan.edges_before, plan.edges_after, plan.edges_in_cycles) == (3, 2, 3)
    assert net_positions(remaining_graph(graph, plan)) == {"A": -50, "B": 30, "C": 20}
    assert (plan.solver, plan.tie_break) == (solver, "rank")


def worked_example_debts() -> list[Debt]:
    """20 members, 80 obligations between random distinct pairs: cycles everywhere."""
    rng = random.Random(20261122)
    members = [f"M{i:02d}" for i in range(1, 21)]
    debts = []
    for _ in range(80):
        debtor, creditor = rng.sample(members, 2)
        debts.append(Debt(debtor, creditor, rng.randint(1, 100_000) * 100))
    return debts


def test_worked_example_of_twenty_members() -> None:
    debts = worked_example_debts()
    graph = build_graph(debts)
    plan = solve_setoff(graph)
    after = remaining_graph(graph, plan)
    novation = novation_plan(graph)
    print(
        f"\n{len(debts)} obligations among {graph.number_of_nodes()} members"
        f"\nbefore: {plan.edges_before} edges, {plan.gross_before_fen} fen"
        f"\nafter:  {plan.edges_after} edges, {plan.gross_after_fen} fen"
        f"\ncleared {plan.cleared_fen} fen in {len(plan.reductions)} reductions"
        f" ({plan.edges_in_cycles} edges on cycles)"
        f"\nnovation: {len(novation.payments)} payments, {novation.gross_after_fen} fen"
    )
    # Novation (a plan only) needs at most n − 1 payments and leaves the positive nets.
    positive_fen = sum(b for b in net_positions(graph).values() if b > 0)
    assert novation.gross_after_fen == positive_fen <= plan.gross_after_fen
    assert len(novation.payments) <= graph.number_of_nodes() - 1
    # Independent computations: the remaining graph itself, an LP, the other solver.
    assert after.number_of_edges() == plan.edges_after < plan.edges_before
    assert sum(a for _, _, a in after.edges(data="amount_fen")) == plan.gross_after_fen
    assert net_positions(after) == {m: b for m, b in net_positions(graph).items() if m in after}
    assert all(b == 0 for m, b in net_positions(graph).items() if m not in after)
    assert plan.gross_after_fen == lp_min_remaining_fen(graph)
    assert solve_setoff(graph, solver="networkx").cleared_fen == plan.cleared_fen
    assert ranked_setoff(graph, plan) == lp_max_ranked_setoff(graph, plan.cleared_fen)
    # Pinned so that a change of behaviour shows up here, after the checks above agreed.
    # 80 obligations fall on 69 ordered pairs: build_graph merged the repeats.
    assert (len(debts), graph.number_of_nodes()) == (80, 20)
    assert (plan.edges_before, plan.edges_after) == (69, 37)
    assert (plan.gross_before_fen, plan.gross_after_fen) == (389_881_100, 210_017_900)


# Two triangles share the bottleneck A → B (5): routing it via C or via D clears 15 either
# way. Rule 2 prefers the edges that come first in (debtor, creditor) order: B → C before
# B → D, so the route via C — whichever structure the member named C has.
TIE = [
    Debt("A", "B", 5),
    Debt("B", "C", 5),
    Debt("C", "A", 7),
    Debt("B", "D", 9),
    Debt("D", "A", 5),
]
# The same structure with the names C and D swapped: the route via C still wins.
TIE_SWAPPED = [
    Debt("A", "B", 5),
    Debt("B", "D", 5),
    Debt("D", "A", 7),
    Debt("B", "C", 9),
    Debt("C", "A", 5),
]


@pytest.mark.parametrize("solver", SOLVERS)
def test_ties_go_to_the_edges_first_in_debtor_creditor_order(solver: str) -> None:
    plan = solve_setoff(build_graph(TIE), solver=solver)
    assert triples(plan) == [("A", "B", 5), ("B", "C", 5), ("C", "A", 5)]
    renamed = solve_setoff(build_graph(TIE_SWAPPED), solver=solver)
    assert triples(renamed) == [("A", "B", 5), ("B", "C", 5), ("C", "A", 5)]
    assert renamed.cleared_fen == plan.cleared_fen == 15


@pytest.mark.parametrize("solver", SOLVERS)
def test_the_plan_does_not_depend_on_the_order_of_the_debts(solver: str) -> None:
    debts = worked_example_debts()
    plan = solve_setoff(build_graph(debts), solver=solver)
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(debts)
        assert solve_setoff(build_graph(debts), solver=solver) == plan


def test_above_the_threshold_ties_follow_the_canonical_order() -> None:
    with mock.patch.object(setoff, "TIE_BREAK_EDGES_MAX", 0):
        plan = solve_setoff(build_graph(TIE))
        for order in (TIE[::-1], TIE[2:] + TIE[:2]):
            assert solve_setoff(build_graph(order)) == plan
    assert (plan.tie_break, plan.cleared_fen) == ("canonical-order", 15)


def _random_debts(seed: int, members_count: int, debts_count: int) -> list[Debt]:
    rng = random.Random(seed)
    members = [f"9135{i:014d}" for i in range(members_count)]
    return [Debt(*rng.sample(members, 2), rng.randint(1, 10**8)) for _ in range(debts_count)]


@pytest.mark.parametrize("solver", SOLVERS)
def test_canonical_order_plans_are_exact_and_deterministic(solver: str) -> None:
    debts = _random_debts(3, 300, 1_500)
    graph = build_graph(debts)
    with mock.patch.object(setoff, "TIE_BREAK_EDGES_MAX", 100):
        plan = solve_setoff(graph, solver=solver)
        random.Random(4).shuffle(debts)
        assert solve_setoff(build_graph(debts), solver=solver) == plan
    assert plan.tie_break == "canonical-order"
    assert plan.gross_after_fen == lp_min_remaining_fen(graph)


def test_a_large_graph_is_deterministic_without_patching_the_threshold() -> None:
    debts = _random_debts(5, 6_000, 40_000)
    plan = solve_setoff(build_graph(debts))
    assert plan.tie_break == "canonical-order"
    assert plan.edges_in_cycles > setoff.TIE_BREAK_EDGES_MAX
    random.Random(6).shuffle(debts)
    assert solve_setoff(build_graph(debts)) == plan


def test_acyclic_and_empty_graphs_clear_nothing() -> None:
    chain = build_graph([Debt("A", "B", 5), Debt("B", "C", 5), Debt("A", "C", 1)])
    plan = solve_setoff(chain)
    assert (plan.reductions, plan.cleared_fen, plan.edges_after) == ((), 0, 3)
    empty = solve_setoff(build_graph([]))
    assert (empty.reductions, empty.gross_before_fen, empty.edges_before) == ((), 0, 0)


def test_cross_component_edges_are_never_touched() -> None:
    # Two 2-cycles joined by B → C: that edge lies on no cycle.
    debts = [Debt("A", "B", 9), Debt("B", "A", 4), Debt("B", "C", 3), Debt("C", "D", 2)]
    plan = solve_setoff(build_graph([*debts, Debt("D", "C", 6)]))
    assert plan.reductions == (
        Reduction("A", "B", 4),
        Reduction("B", "A", 4),
        Reduction("C", "D", 2),
        Reduction("D", "C", 2),
    )
    assert plan.edges_in_cycles == 4


def test_an_unknown_solver_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown solver"):
        solve_setoff(build_graph(TIE), solver="greedy")


def test_a_gross_beyond_the_limit_is_refused() -> None:
    debts = [Debt("A", "B", 2**61), Debt("B", "C", 2**61), Debt("C", "A", 2**61)]
    with pytest.raises(ValueError, match="netting limit"):
        solve_setoff(build_graph(debts))


def _shortest_cycle_first(graph: nx.DiGraph) -> int:
    """Greedy cycle cancelling: clear the shortest cycle's minimum, repeat. Not optimal."""
    graph = graph.copy()
    cleared_fen = 0
    while cycles := sorted(nx.simple_cycles(graph), key=lambda c: (len(c), c)):
        cycle = cycles[0]
        edges = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        amount_fen = min(graph.edges[e]["amount_fen"] for e in edges)
        for edge in edges:
            graph.edges[edge]["amount_fen"] -= amount_fen
            if graph.edges[edge]["amount_fen"] == 0:
                graph.remove_edge(*edge)
        cleared_fen += amount_fen * len(edges)
    return cleared_fen


def test_greedy_cycle_cancelling_can_clear_strictly_less() -> None:
    # The 2-cycle A ⇄ B and the triangle A → B → C → A compete for A → B. Greedy takes
    # the short cycle first (clears 10); the engine routes A → B's 5 round the triangle.
    graph = build_graph(
        [Debt("A", "B", 5), Debt("B", "A", 5), Debt("B", "C", 5), Debt("C", "A", 5)]
    )
    assert _shortest_cycle_first(graph) == 10
    assert solve_setoff(graph).cleared_fen == 15 == gross_fen(graph) - lp_min_remaining_fen(graph)


def test_a_long_ring_is_not_ranked_however_few_its_edges() -> None:
    """n·m bounds the ranks too: a ring of 6,000 members has n·m = 3.6·10^7."""
    members = [f"9135{i:014d}" for i in range(6_000)]
    ring = [Debt(members[i], members[(i + 1) % 6_000], 100 + i % 7) for i in range(6_000)]
    plan = solve_setoff(build_graph(ring))
    assert plan.edges_in_cycles == 6_000 <= setoff.TIE_BREAK_EDGES_MAX
    assert plan.tie_break == "canonical-order"
    assert plan.cleared_fen == 6_000 * 100  # the ring's smallest debt, all the way round
    short = [Debt(members[i], members[(i + 1) % 50], 100 + i % 7) for i in range(50)]
    assert solve_setoff(build_graph(short)).tie_break == "rank"
