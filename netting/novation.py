"""Novation: what would remain if final debtors paid final creditors directly.

Set-off (:mod:`netting.setoff`) may only shrink debts that exist. Novation — replacing
the debts by new ones, with every party's consent — may also create them, so nothing
but the net positions ``b_i = inflow − outflow`` has to survive: each member with
``b_i < 0`` pays ``−b_i`` in total and each member with ``b_i > 0`` receives ``b_i``.
The least that can remain is therefore the sum of the positive net positions, and at
most ``k − 1`` payments are needed for ``k`` members with a nonzero net. This module
only *plans*; a plan is never applied to the ledger.

Members connected by debts (a weakly connected component of the graph) net to zero
among themselves, so each such group is planned on its own: no payment ever crosses
between firms that had nothing to do with each other, and ``g`` groups with ``k_1 …
k_g`` members of nonzero net need at most ``Σ (k_j − 1)`` payments — ``g − 1`` fewer
than planning them together could promise. Within a group, two deterministic passes:

1. **Exact pairs.** A debtor whose net debt equals a creditor's net claim pays it in one
   payment that settles both (a group of two netting to zero). Debtors are taken by
   decreasing amount then id, each paired with the smallest-id creditor of that amount.
2. **Greedy.** The largest remaining debtor pays the largest remaining creditor as much
   as both allow (ties by id); whoever reaches zero leaves, the other goes back. Every
   payment settles at least one member and the last settles two, so ``k`` members need
   at most ``k − 1`` payments. Finding *every* group that nets to zero would need fewer
   still, but that is subset-sum (NP-hard), and the total is the same either way.

Worked example: A owes B 100, B owes C 70, C owes A 50 (nets A −50, B +30, C +20)::

    >>> from netting.graph import Debt, build_graph
    >>> plan = novation_plan(build_graph([
    ...     Debt("A", "B", 100), Debt("B", "C", 70), Debt("C", "A", 50),
    ... ]))
    >>> [(p.debtor, p.creditor, p.amount_fen) for p in plan.payments]
    [('A', 'B', 30), ('A', 'C', 20)]
    >>> plan.gross_before_fen, plan.gross_after_fen
    (220, 50)

Set-off leaves 70 fen on that graph (A → B 50, B → C 20); novation leaves 50.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import networkx as nx

from netting.graph import edge_count, gross_fen, net_positions, paused_gc


@dataclass(frozen=True, slots=True)
class Payment:
    """``debtor`` pays ``creditor`` ``amount_fen`` (> 0) under the novation plan."""

    debtor: str
    creditor: str
    amount_fen: int


@dataclass(frozen=True)
class NovationPlan:
    """Payments from final debtors to final creditors, sorted by (debtor, creditor)."""

    payments: tuple[Payment, ...]
    gross_before_fen: int
    edges_before: int
    elapsed_s: float = field(compare=False)  # timing is not part of the plan

    @property
    def gross_after_fen(self) -> int:
        return sum(payment.amount_fen for payment in self.payments)

    @property
    def cleared_fen(self) -> int:
        return self.gross_before_fen - self.gross_after_fen


def novation_plan(graph: nx.DiGraph) -> NovationPlan:
    """The payments that settle every net position of ``graph``; deterministic."""
    started_s = time.perf_counter()
    with paused_gc():  # many small objects next to a large graph: see paused_gc
        nets_fen = net_positions(graph)
        payments: list[Payment] = []
        payments_max = 0
        for group in nx.weakly_connected_components(graph):
            owed_fen = {m: -nets_fen[m] for m in group if nets_fen[m] < 0}
            claims_fen = {m: nets_fen[m] for m in group if nets_fen[m] > 0}
            payments_max += max(len(owed_fen) + len(claims_fen) - 1, 0)
            payments += _exact_pairs(owed_fen, claims_fen)
            payments += _greedy(owed_fen, claims_fen)
        payments.sort(key=lambda payment: (payment.debtor, payment.creditor))
        _assert_settles(nets_fen, payments, payments_max)
    return NovationPlan(
        payments=tuple(payments),
        gross_before_fen=gross_fen(graph),
        edges_before=edge_count(graph),
        elapsed_s=time.perf_counter() - started_s,
    )


def _exact_pairs(owed_fen: dict[str, int], claims_fen: dict[str, int]) -> list[Payment]:
    """Pass 1: settle debtor/creditor pairs of equal amounts; removes them from both maps."""
    creditors_by_amount: dict[int, list[str]] = {}
    for creditor in sorted(claims_fen, reverse=True):  # so that pop() gives the smallest id
        creditors_by_amount.setdefault(claims_fen[creditor], []).append(creditor)
    payments: list[Payment] = []
    for debtor in sorted(owed_fen, key=lambda member: (-owed_fen[member], member)):
        candidates = creditors_by_amount.get(owed_fen[debtor])
        if candidates:
            creditor = candidates.pop()
            payments.append(Payment(debtor, creditor, owed_fen.pop(debtor)))
            del claims_fen[creditor]
    return payments


def _greedy(owed_fen: dict[str, int], claims_fen: dict[str, int]) -> list[Payment]:
    """Pass 2: largest debtor pays largest creditor until every balance is zero."""
    debtors = [(-amount_fen, member) for member, amount_fen in owed_fen.items()]
    creditors = [(-amount_fen, member) for member, amount_fen in claims_fen.items()]
    heapq.heapify(debtors)
    heapq.heapify(creditors)
    payments: list[Payment] = []
    while debtors:
        owed, debtor = heapq.heappop(debtors)
        claim, creditor = heapq.heappop(creditors)  # totals balance: never empty here
        amount_fen = min(-owed, -claim)
        payments.append(Payment(debtor, creditor, amount_fen))
        if -owed > amount_fen:
            heapq.heappush(debtors, (owed + amount_fen, debtor))
        if -claim > amount_fen:
            heapq.heappush(creditors, (claim + amount_fen, creditor))
    assert not creditors, "net positions did not sum to zero"
    return payments


def _assert_settles(nets_fen: dict[str, int], payments: list[Payment], payments_max: int) -> None:
    """Our invariants: the payments reproduce every net position, in at most k − 1 steps
    per group of connected members."""
    settled_fen = dict.fromkeys(nets_fen, 0)
    for payment in payments:
        assert payment.amount_fen > 0 and payment.debtor != payment.creditor, payment
        settled_fen[payment.debtor] -= payment.amount_fen
        settled_fen[payment.creditor] += payment.amount_fen
    assert settled_fen == nets_fen, "payments do not reproduce the net positions"
    assert len(payments) <= payments_max, (len(payments), payments_max)
