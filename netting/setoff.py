"""Set-off: clear the most debt possible without creating or raising any debt.

This is multilateral trade-credit set-off (MTCS). Let ``a_uv`` be what ``u`` owes ``v``
and ``b_i = inflow − outflow`` member ``i``'s net position. Set-off chooses new amounts
``x_uv`` for the *existing* edges that

    minimise  Σ x_uv
    subject to  0 ≤ x_uv ≤ a_uv                     (no edge created, raised or negative)
                inflow_i(x) − outflow_i(x) = b_i    (every net position unchanged)

and the plan is the reduction ``c = a − x``. Equivalently, ``c`` is the largest
*circulation* under the capacities ``a``: debt cleared around cycles, every member
paying out exactly as much as it is paid. So only an edge on a cycle can be reduced —
an edge between two strongly connected components (SCCs) never lies on one — and the
engine drops those edges before solving.

Worked example, a 3-cycle::

    >>> from netting.graph import Debt, build_graph
    >>> plan = solve_setoff(build_graph([
    ...     Debt("A", "B", 100), Debt("B", "C", 70), Debt("C", "A", 50),
    ... ]))
    >>> [(r.debtor, r.creditor, r.amount_fen) for r in plan.reductions]
    [('A', 'B', 50), ('B', 'C', 50), ('C', 'A', 50)]
    >>> plan.gross_before_fen, plan.gross_after_fen, plan.cleared_fen, plan.edges_after
    (220, 70, 150, 2)

What remains is A → B 50 and B → C 20; A still owes 50 net, B is owed 30, C 20.

**Solving.** The problem is a min-cost flow with integer data, so it has an integral
optimum and network algorithms find it exactly, in fen. OR-Tools' cost-scaling
``SimpleMinCostFlow`` (the default, ``solver="ortools"``) solves the circulation form:
capacity ``a_uv``, cost ``−w_uv`` per fen cleared, no supplies. networkx's
``network_simplex`` (``solver="networkx"``, slow beyond 10^4 edges) solves the
remaining-debt form above, with demands ``b_i`` — a different formulation and a
different algorithm, which is what makes it a useful cross-check.

**Tie-break rule.** The maximum total is unique; the plan reaching it usually is not
(two cycles sharing a bottleneck edge can each take the whole of it). The plan is made a
function of the *set* of debts only:

1. Members on cycles are numbered in order of id, edges sorted by (debtor, creditor); the
   solvers receive nodes and arcs in that canonical order, so neither the order of the
   debts nor the graph's insertion order can change the plan.
2. When at most ``TIE_BREAK_EDGES_MAX`` edges lie on cycles and ``n·m`` is at most
   ``TIE_BREAK_COST_MAX`` (``n``, ``m`` as below), the ``m`` cyclic edges get
   ranks ``m, m−1, …, 1`` in canonical order and each fen cleared on an edge is worth
   ``w = W + rank`` with ``W = n·m + 1`` (``n``: nodes of the largest SCC). Among all
   maximum set-offs the solver then picks one maximising ``Σ rank·c``: it clears the
   edges that come first in (debtor, creditor) order first. The primary objective stays
   exact: a plan is optimal for ``w`` iff no cycle of its residual graph gains. A simple
   cycle has at most ``n`` arcs, so its rank part is at most ``n·m < W`` in size, and a
   cycle that would clear ``k ≥ 1`` more fen per unit sent round it gains at least
   ``W − n·m > 0``. So a ``w``-optimal plan admits no such cycle: it clears the maximum.
3. Above the threshold, and where the ranked sums still tie, the plan is the one the
   solver finds from the canonical input. OR-Tools is deterministic, so the same debts
   give the same plan for a given version of this engine and of OR-Tools; only the
   cleared total is promised across solvers and versions. The threshold exists
   because ranks cost time: cost scaling runs ``O(log(n·C))`` refinement phases, and
   ranks raise the largest cost ``C`` from 1 to about ``n·m`` — measured 2.5–3× slower
   at 10^5 and 10^6 debts (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from operator import itemgetter

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from netting.graph import AMOUNT_ATTR, GROSS_FEN_MAX, paused_gc

SOLVERS = ("ortools", "networkx")

# Ranked tie-breaking up to this many edges on cycles, and while the largest cost it
# creates (n·m, see the module docstring) stays below the second bound: cost scaling runs
# O(log(n·C)) phases, and on long rings each phase is slow. Measured on this machine: a
# ring of 5,000 members with chords, n·m ≈ 2.6·10^7, solves in 0.6 s ranked (0.3 s not);
# one of 19,000, n·m ≈ 3.7·10^8, took 5.7 s ranked (1.9 s not) — so that one is not ranked.
TIE_BREAK_EDGES_MAX = 20_000
TIE_BREAK_COST_MAX = 30_000_000

# OR-Tools refuses a cost above int64_max / (2·(nodes + 1)) (BAD_COST_RANGE).
_INT64_MAX = 2**63 - 1

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Reduction:
    """Reduce what ``debtor`` owes ``creditor`` by ``amount_fen`` (> 0)."""

    debtor: str
    creditor: str
    amount_fen: int


@dataclass(frozen=True)
class SetoffPlan:
    """The reductions of a maximum set-off, sorted by (debtor, creditor), and its totals.

    ``tie_break`` says which rule picked this plan among equal maxima: ``"rank"`` (rule 2
    of the module docstring) or ``"canonical-order"`` (rule 3). ``elapsed_s`` is the wall
    time of :func:`solve_setoff`, from graph to plan; it is left out of ``==``, so the same
    debts give equal plans.
    """

    reductions: tuple[Reduction, ...]
    gross_before_fen: int
    gross_after_fen: int
    edges_before: int
    edges_after: int
    edges_in_cycles: int
    solver: str
    tie_break: str
    elapsed_s: float = field(compare=False)  # timing is not part of the plan

    @property
    def cleared_fen(self) -> int:
        return self.gross_before_fen - self.gross_after_fen


@dataclass(frozen=True)
class _Canonical:
    """The graph as arrays, members numbered by id and edges sorted by (debtor, creditor)."""

    members: list[str]
    tails: NDArray[np.int32]
    heads: NDArray[np.int32]
    amounts_fen: IntArray


def solve_setoff(graph: nx.DiGraph, *, solver: str = "ortools") -> SetoffPlan:
    """The maximum set-off of ``graph`` (edges ``amount_fen``), exact in fen and deterministic."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    started_s = time.perf_counter()
    # Millions of short-lived objects on top of a large graph: see paused_gc.
    with paused_gc():
        canon = _canonical(graph)
        cyclic, largest_scc = _cyclic_edges(graph, canon)
        tails, heads = canon.tails[cyclic], canon.heads[cyclic]
        amounts_fen = canon.amounts_fen[cyclic]
        arc_tails, arc_heads, nodes = _compact(tails, heads)
        weights, tie_break = _weights(len(tails), largest_scc, nodes)
        if len(tails) == 0:
            setoff_fen = np.zeros(0, dtype=np.int64)
        elif solver == "ortools":
            setoff_fen = _setoff_ortools(arc_tails, arc_heads, amounts_fen, weights)
        else:
            setoff_fen = _setoff_networkx(arc_tails, arc_heads, amounts_fen, weights)
        _assert_circulation(arc_tails, arc_heads, amounts_fen, setoff_fen, nodes)
        cleared = np.flatnonzero(setoff_fen)
        reductions = tuple(
            Reduction(canon.members[tail], canon.members[head], amount_fen)
            for tail, head, amount_fen in zip(
                tails[cleared].tolist(),
                heads[cleared].tolist(),
                setoff_fen[cleared].tolist(),
                strict=True,
            )
        )
    gross_before_fen = int(canon.amounts_fen.sum())
    edges_before = len(canon.amounts_fen)
    return SetoffPlan(
        reductions=reductions,
        gross_before_fen=gross_before_fen,
        gross_after_fen=gross_before_fen - int(setoff_fen.sum()),
        edges_before=edges_before,
        edges_after=edges_before - int(np.count_nonzero(setoff_fen == amounts_fen)),
        edges_in_cycles=len(tails),
        solver=solver,
        tie_break=tie_break,
        elapsed_s=time.perf_counter() - started_s,
    )


def remaining_graph(graph: nx.DiGraph, plan: SetoffPlan) -> nx.DiGraph:
    """A new graph: ``graph`` after ``plan``, fully cleared edges removed (for checks)."""
    remaining = nx.DiGraph()
    remaining.add_edges_from(graph.edges(data=True))
    for reduction in plan.reductions:
        edge = remaining.edges[reduction.debtor, reduction.creditor]
        left_fen = edge[AMOUNT_ATTR] - reduction.amount_fen
        assert 0 <= left_fen < edge[AMOUNT_ATTR], (reduction, edge)
        if left_fen == 0:
            remaining.remove_edge(reduction.debtor, reduction.creditor)
        else:
            remaining.add_edge(reduction.debtor, reduction.creditor, **{AMOUNT_ATTR: left_fen})
    remaining.remove_nodes_from([node for node in graph if remaining.degree(node) == 0])
    return remaining


def _canonical(graph: nx.DiGraph) -> _Canonical:
    members: list[str] = sorted(graph.nodes)
    index = {member: i for i, member in enumerate(members)}.__getitem__
    amount_of = itemgetter(AMOUNT_ATTR)
    tails: list[int] = []
    heads: list[int] = []
    amounts_fen: list[int] = []
    # One pass per debtor, with the inner loops in C (extend/map): 10^6 edges in ~1 s.
    for debtor, creditors in graph.adjacency():
        tails.extend([index(debtor)] * len(creditors))
        heads.extend(map(index, creditors))
        amounts_fen.extend(map(amount_of, creditors.values()))
    gross_fen = sum(amounts_fen)
    if gross_fen > GROSS_FEN_MAX:
        raise ValueError(f"gross {gross_fen} fen exceeds the netting limit {GROSS_FEN_MAX}")
    assert all(type(a) is int and a > 0 for a in amounts_fen), "amount_fen must be int > 0"
    tails_array = np.array(tails, dtype=np.int32)
    heads_array = np.array(heads, dtype=np.int32)
    order = np.lexsort((heads_array, tails_array))
    return _Canonical(
        members=members,
        tails=tails_array[order],
        heads=heads_array[order],
        amounts_fen=np.array(amounts_fen, dtype=np.int64)[order],
    )


def _cyclic_edges(graph: nx.DiGraph, canon: _Canonical) -> tuple[NDArray[np.bool_], int]:
    """Which canonical edges lie inside an SCC, and the node count of the largest SCC."""
    index = {member: i for i, member in enumerate(canon.members)}
    component = np.full(len(canon.members), -1, dtype=np.int64)
    largest = 0
    for label, members in enumerate(nx.strongly_connected_components(graph)):
        if len(members) > 1:  # a lone member has no edge to itself: nothing to clear
            component[[index[member] for member in members]] = label
            largest = max(largest, len(members))
    tail_component = component[canon.tails]
    return (tail_component >= 0) & (tail_component == component[canon.heads]), largest


def _compact(
    tails: NDArray[np.int32], heads: NDArray[np.int32]
) -> tuple[NDArray[np.int32], NDArray[np.int32], int]:
    """Renumber the members on cyclic edges 0..k−1, keeping their (canonical) order.

    The solver then never sees the members that lie on no cycle: at 10^6 debts that is
    half of them, and OR-Tools ran 10-20 % faster without them.
    """
    nodes = np.union1d(tails, heads)
    arc_tails = np.searchsorted(nodes, tails).astype(np.int32)
    return arc_tails, np.searchsorted(nodes, heads).astype(np.int32), len(nodes)


def _weights(edges: int, largest_scc: int, nodes: int) -> tuple[IntArray, str]:
    """Worth of one fen cleared on each cyclic edge, in canonical order (rules 2 and 3)."""
    if edges > TIE_BREAK_EDGES_MAX or largest_scc * edges > TIE_BREAK_COST_MAX:
        return np.ones(edges, dtype=np.int64), "canonical-order"
    primary = largest_scc * edges + 1
    assert (primary + edges) * 2 * (nodes + 1) <= _INT64_MAX, (edges, largest_scc, nodes)
    return primary + np.arange(edges, 0, -1, dtype=np.int64), "rank"


def _setoff_ortools(
    tails: NDArray[np.int32], heads: NDArray[np.int32], amounts_fen: IntArray, weights: IntArray
) -> IntArray:
    """Maximum-worth circulation: capacity ``a``, cost ``−w`` per fen, no supplies."""
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, amounts_fen, -weights)
    status = flow.solve()
    # Zero is always a feasible circulation and _weights keeps costs in range, so any
    # other status means this module built a wrong problem.
    assert status == flow.OPTIMAL, status
    arcs = np.arange(len(tails), dtype=np.int32)
    return np.asarray(flow.flows(arcs), dtype=np.int64)


def _setoff_networkx(
    tails: NDArray[np.int32], heads: NDArray[np.int32], amounts_fen: IntArray, weights: IntArray
) -> IntArray:
    """Minimum-cost remaining debt ``x`` with demands ``b_i``; the set-off is ``a − x``."""
    nets_fen = np.zeros(int(max(tails.max(), heads.max())) + 1, dtype=np.int64)
    np.add.at(nets_fen, heads, amounts_fen)
    np.subtract.at(nets_fen, tails, amounts_fen)
    flow_graph = nx.DiGraph()
    nodes = np.union1d(tails, heads).tolist()
    flow_graph.add_nodes_from((node, {"demand": int(nets_fen[node])}) for node in nodes)
    edges = zip(tails.tolist(), heads.tolist(), amounts_fen.tolist(), weights.tolist(), strict=True)
    flow_graph.add_edges_from(
        (tail, head, {"capacity": amount_fen, "weight": weight})
        for tail, head, amount_fen, weight in edges
    )
    _, flow = nx.network_simplex(flow_graph)
    remaining_fen = np.array(
        [flow[tail][head] for tail, head in zip(tails.tolist(), heads.tolist(), strict=True)],
        dtype=np.int64,
    )
    return amounts_fen - remaining_fen


def _assert_circulation(
    tails: NDArray[np.int32],
    heads: NDArray[np.int32],
    amounts_fen: IntArray,
    setoff_fen: IntArray,
    nodes: int,
) -> None:
    """Our invariants on any solver's answer: within capacity, nets unchanged."""
    assert setoff_fen.shape == amounts_fen.shape
    assert bool(((setoff_fen >= 0) & (setoff_fen <= amounts_fen)).all()), "set-off out of range"
    balance_fen = np.zeros(nodes, dtype=np.int64)
    np.add.at(balance_fen, tails, setoff_fen)
    np.subtract.at(balance_fen, heads, setoff_fen)
    assert not balance_fen.any(), "set-off changed a net position"
