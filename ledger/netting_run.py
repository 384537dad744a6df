"""Netting through the journal: compute a set-off plan and apply it to what is owed.

The debt graph comes from the ledger state: an edge debtor → creditor for every
certificate piece (``active`` or ``overdue``, what it has outstanding; not paper a
bank financed, which its issuer's payment settles, restoring the bank's line) issued by
the debtor and held by the creditor, and every ``confirmed`` obligation with something
outstanding (one with a settlement claim awaiting its creditor is not:
``ledger.obligations``) — only where both parties consented to netting and are active
(a suspended member's debts are frozen with it). ``netting.setoff`` finds the maximum
set-off; this module applies each reduction to the items on its edge:

* items on an edge are consumed **earliest due first** — a certificate is due at its
  maturity, an obligation at its due date; on the same day certificates go before
  obligations, then by id — each up to what it holds;
* an obligation is reduced; at zero outstanding it is ``settled``;
* a certificate piece reduced in full becomes ``settled``; a piece reduced in part is
  split: it becomes ``spent`` and gives two children of the same holder and level, a
  ``settled`` one for the cleared part and an ``active`` one for the rest;
* the cleared part of a certificate restores its issuer's issuance limit, as a
  settlement would.

The plan and its summary are recorded in the entry's effects (``effects.netting``), so
a replay applies the recorded outcome and never re-solves.

**Components, and what is left out.** Members connected by debts (a weakly connected
component of the graph) are netted on their own: no reduction ever crosses between
components, so each component's reductions keep its members' nets by themselves. A
component beyond ``netting_component_members_max``, ``netting_component_edges_max`` or
``netting_component_gross_fen_max`` (at most the solvers' int64 range; a deployment may
set it lower, to keep implausible debts out), is left out of the run and listed in
``effects.netting.excluded`` with its reason, and every other component is netted.

**The ledger is held for a bounded time.** Solving can take seconds on a large graph,
so a run is planned before the ledger lock, on one snapshot of the ledger
(:func:`plan`), and applied in the lock (:func:`apply`) only to components of which
nothing changed: every piece and obligation the plan consumes is reloaded by id and
must be as planned, and every member on a reduction must still consent and be active;
a component that changed is left out (``changed``) for the next run. The entry holds
at most ``entry_bytes_max`` bytes: components are taken largest cleared first while
they fit; the first that does not fit whole is netted in part — whole cycles of its
set-off and part of one, which keeps every net — (``partly-deferred``), and the rest
wait for the next run (counted in ``deferred``). So the work in the lock — a few
``IN (…)`` queries, the pure apply, the append — is bounded by that setting whatever
the size of the graph. A report lists at most EXCLUDED_LISTED_MAX exclusions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any, Literal

import networkx as nx

from ledger import credit, obligations
from ledger.canonical import canonical_bytes
from ledger.certificates import SETTLED, SPENT, Certificate, business_today, today_in_zone
from ledger.commands import Date, WireModel
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.limits import NETTING_COMPONENT_GROSS_FEN_MAX
from ledger.money import format_fen
from ledger.obligations import Obligation
from ledger.settings import Settings
from netting.graph import AMOUNT_ATTR, GROSS_FEN_MAX, Debt, build_graph, net_positions
from netting.novation import novation_plan
from netting.report import novation_report, setoff_report_of_nets
from netting.setoff import Reduction, SetoffPlan, solve_setoff


class RunBody(WireModel):
    mode: Literal["setoff"]
    as_of: Date


# Room kept in a run's entry beside its components (and the command): the summary and
# the ten largest reductions, about 2 KiB.
REPORT_RESERVE_BYTES = 8 * 1024
EXCLUDED_SAMPLE_MAX = 10  # members named per excluded component
EXCLUDED_LISTED_MAX = 20  # exclusions listed in a report; the rest are counted
NETS_LISTED_MEMBERS_MAX = 1_000  # a larger component lists the nets of its reductions' parties
PREVIEW_TIME = datetime(2000, 1, 1, tzinfo=UTC)
assert NETTING_COMPONENT_GROSS_FEN_MAX <= GROSS_FEN_MAX, "a component must fit the solvers"


@dataclass(frozen=True)
class NettingState:
    pieces: Sequence[Certificate]  # live pieces between consenting members
    obligations: Sequence[Obligation]  # confirmed, outstanding, between consenting members
    limits: Mapping[str, IssuanceLimit]  # of the pieces' issuers


@dataclass(frozen=True)
class Exclusion:
    """A component left out of a run, and why."""

    reason: str
    members: tuple[str, ...]  # sorted
    edges: int
    gross_fen: int

    def wire(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "members": len(self.members),
            "sample": list(self.members[:EXCLUDED_SAMPLE_MAX]),
            "edges": self.edges,
            "gross": format_fen(self.gross_fen),
        }


@dataclass(frozen=True)
class Component:
    """A component with its part of the plan, and what applying it consumes."""

    members: tuple[str, ...]  # sorted
    edges_before: int
    edges_after: int
    gross_fen: int
    nets_fen: Mapping[str, int]
    reductions: tuple[Reduction, ...]
    pieces: tuple[Certificate, ...]  # consumed, as planned from
    obligations: tuple[Obligation, ...]  # consumed, as planned from
    entry_bytes: int  # what it adds to the run's entry

    @property
    def cleared_fen(self) -> int:
        return sum(reduction.amount_fen for reduction in self.reductions)

    def excluded(self, reason: str) -> Exclusion:
        return Exclusion(reason, self.members, self.edges_before, self.gross_fen)


@dataclass(frozen=True)
class Plan:
    components: tuple[Component, ...]  # to apply, in this order
    excluded: tuple[Exclusion, ...]
    deferred: tuple[Exclusion, ...]  # with something to clear, but no room in this run
    solver_elapsed_s: float
    # The seq of the last entry in the ledger it was planned on (re-execution plans there).
    planned_on: int = 0


# What can change of a live piece or a confirmed obligation: everything else of them is
# fixed when they are created, so comparing these tells whether a plan still holds.
PieceState = tuple[str, str, int]  # state, holder, outstanding_fen
ObligationState = tuple[str, int]  # state, outstanding_fen


def piece_state(piece: Certificate) -> PieceState:
    return (piece.state, piece.holder, piece.outstanding_fen)


def obligation_state(obligation: Obligation) -> ObligationState:
    return (obligation.state, obligation.outstanding_fen)


@dataclass(frozen=True)
class Current:
    """What the plan's components touch, as it is in the lock."""

    pieces: Mapping[str, PieceState]  # by id
    obligations: Mapping[str, ObligationState]  # by id
    parties: frozenset[str]  # of the plan's parties, those who consent and are active
    limits: Mapping[str, IssuanceLimit]


def check_as_of(body: RunBody, ctx: Context) -> None:
    today = business_today(ctx)
    if body.as_of != today:
        raise Refusal(
            "validation",
            f"as_of {body.as_of.isoformat()} is not today ({today_in_zone(ctx)}): a run "
            "applies to the ledger as it is now",
        )


def debts_of(state: NettingState) -> list[Debt]:
    debts = [Debt(p.issuer, p.holder, p.outstanding_fen) for p in state.pieces]
    debts += [Debt(o.debtor, o.creditor, o.outstanding_fen) for o in state.obligations]
    return debts


def _too_large(members: int, edges: int, gross: int, settings: Settings) -> str | None:
    if members > settings.netting_component_members_max:
        return "members-beyond-limit"
    if edges > settings.netting_component_edges_max:
        return "edges-beyond-limit"
    if gross > settings.netting_component_gross_fen_max:
        return "gross-beyond-limit"
    return None


_Group = tuple[tuple[str, ...], int, int]  # members, edges, gross


def _components(graph: nx.DiGraph, settings: Settings) -> tuple[list[_Group], list[Exclusion]]:
    """The components within bounds, and the others as exclusions; by smallest member."""
    groups = sorted(tuple(sorted(group)) for group in nx.weakly_connected_components(graph))
    within: list[_Group] = []
    excluded: list[Exclusion] = []
    for members in groups:
        edges = sum(graph.out_degree(member) for member in members)
        gross = sum(amount for m in members for _, _, amount in graph.out_edges(m, AMOUNT_ATTR))
        reason = _too_large(len(members), edges, gross, settings)
        if reason is None:
            within.append((members, edges, gross))
        else:
            excluded.append(Exclusion(reason, members, edges, gross))
    return within, excluded


def _solve(graph: nx.DiGraph, groups: list[_Group]) -> tuple[dict[str, list[Reduction]], float]:
    """Reductions by the smallest member of their component. Components are solved
    together while their gross stays in the solvers' range (one call for most graphs)."""
    by_group: dict[str, list[Reduction]] = {members[0]: [] for members, _, _ in groups}
    first_of = {member: members[0] for members, _, _ in groups for member in members}
    elapsed_s = 0.0
    batch: list[str] = []
    batch_fen = 0
    for index, (members, _, gross) in enumerate(groups):
        batch += members
        batch_fen += gross
        last = index == len(groups) - 1
        if last or batch_fen + groups[index + 1][2] > GROSS_FEN_MAX:
            whole = len(batch) == graph.number_of_nodes()
            setoff = solve_setoff(graph if whole else graph.subgraph(batch).copy())
            elapsed_s += setoff.elapsed_s
            for reduction in setoff.reductions:
                by_group[first_of[reduction.debtor]].append(reduction)
            batch, batch_fen = [], 0
    return by_group, elapsed_s


def plan(state: NettingState, ctx: Context, room_bytes: int) -> Plan:
    """Plan a set-off run of ``state``: the components to apply, in order, within
    ``room_bytes`` of entry, and the ones left out. Pure; run before the lock.

    Components are taken largest cleared first while they fit. The first that does not
    fit whole is cut down to the room left (a part of its set-off: whole cycles of it,
    and part of one, which keeps every net position); the rest wait for the next run.
    """
    graph = build_graph(debts_of(state))
    groups, excluded = _components(graph, ctx.settings)
    reductions, elapsed_s = _solve(graph, groups)
    nets_fen = net_positions(graph)
    items = _items_by_edge(state)
    cleared_fen = {g[0][0]: sum(r.amount_fen for r in reductions[g[0][0]]) for g in groups}
    chosen: list[Component] = []
    deferred: list[Exclusion] = []
    left_bytes = room_bytes - REPORT_RESERVE_BYTES
    for group in sorted(groups, key=lambda g: (-cleared_fen[g[0][0]], g[0][0])):
        found = reductions[group[0][0]]
        if left_bytes <= 0:  # the entry is full: the rest wait, and are not even built
            deferred += [Exclusion("deferred", *group)] if found else []
            continue
        component = _component(graph, group, found, nets_fen, items, ctx)
        if component.entry_bytes <= left_bytes:
            chosen.append(component)
            left_bytes -= component.entry_bytes
            continue
        fixed_bytes = _fixed_bytes(component)
        if chosen or fixed_bytes > left_bytes:
            if chosen:
                deferred += [component.excluded("deferred")] if found else []
            else:
                excluded.append(component.excluded("entry-too-large"))
            continue
        part = _within(found, items, left_bytes - fixed_bytes)
        chosen.append(_component(graph, group, part, nets_fen, items, ctx))
        excluded.append(component.excluded("partly-deferred"))
        left_bytes = 0
    return Plan(tuple(chosen), tuple(excluded), tuple(deferred), elapsed_s)


def _fixed_bytes(component: Component) -> int:
    """What a component adds to an entry whatever it clears: its nets and reductions."""
    return len(canonical_bytes(_nets_rows(component.nets_fen))) + len(
        canonical_bytes(_reduction_rows(component.reductions))
    )


def _nets_rows(nets_fen: Mapping[str, int]) -> list[dict[str, str]]:
    return [
        {"member": m, "before": format_fen(n), "after": format_fen(n)} for m, n in nets_fen.items()
    ]


def _reduction_rows(reductions: Sequence[Reduction]) -> list[dict[str, str]]:
    return [
        {"debtor": r.debtor, "creditor": r.creditor, "amount": format_fen(r.amount_fen)}
        for r in reductions
    ]


def _cycles(reductions: Sequence[Reduction]) -> list[tuple[list[tuple[str, str]], int]]:
    """A circulation as simple cycles ``(edges, amount)``, deterministic: a walk always
    takes its member's first edge (by creditor) with flow left. Every cycle empties at
    least one edge, so there are at most as many cycles as edges."""
    flow: dict[tuple[str, str], int] = {(r.debtor, r.creditor): r.amount_fen for r in reductions}
    out: dict[str, list[str]] = defaultdict(list)
    for debtor, creditor in sorted(flow):
        out[debtor].append(creditor)
    first: dict[str, int] = defaultdict(int)  # per member: its edges before this are empty

    def next_member(member: str) -> str:
        while flow[(member, out[member][first[member]])] == 0:
            first[member] += 1
        return out[member][first[member]]

    cycles: list[tuple[list[tuple[str, str]], int]] = []
    for start in sorted(flow):
        while flow[start] > 0:
            # Every member a walk reaches was paid into, so it pays out: the walk goes on
            # until it meets itself.
            path, seen = [start[0]], {start[0]: 0}
            member = start[1]
            while member not in seen:
                seen[member] = len(path)
                path.append(member)
                member = next_member(member)
            loop = [*path[seen[member] :], member]
            edges = list(pairwise(loop))
            amount_fen = min(flow[edge] for edge in edges)
            for edge in edges:
                flow[edge] -= amount_fen
            cycles.append((edges, amount_fen))
    assert not any(flow.values()), "a circulation decomposes into cycles with nothing left"
    return cycles


def _within(
    reductions: Sequence[Reduction],
    items: Mapping[tuple[str, str], list[_Item]],
    room_bytes: int,
) -> list[Reduction]:
    """The largest part of a component's set-off, cycle by cycle, whose consumed items
    fit in ``room_bytes``."""
    costs = {
        (r.debtor, r.creditor): _prefix_costs(items[(r.debtor, r.creditor)]) for r in reductions
    }
    taken: dict[tuple[str, str], int] = defaultdict(int)
    used_bytes = 0

    def more_bytes(edges: list[tuple[str, str]], extra_fen: int) -> int:
        return sum(
            _cost_upto(costs[edge], taken[edge] + extra_fen) - _cost_upto(costs[edge], taken[edge])
            for edge in edges
        )

    for edges, amount_fen in _cycles(reductions):
        low, high = 0, amount_fen  # the most of this cycle that fits, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            if used_bytes + more_bytes(edges, middle) <= room_bytes:
                low = middle
            else:
                high = middle - 1
        used_bytes += more_bytes(edges, low)
        for edge in edges:
            taken[edge] += low
        if low < amount_fen:
            break
    return [Reduction(d, c, fen) for (d, c), fen in sorted(taken.items()) if fen > 0]


_Costs = tuple[list[int], list[int], list[int]]


def _prefix_costs(edge_items: list[_Item]) -> _Costs:
    """Running totals of amount and of entry bytes over an edge's items, in order, and
    what splitting each item would add (two more rows for a piece cleared in part)."""
    amounts, sizes, split_bytes = [0], [0], [0]
    for _due, _kind, _id, item in edge_items:
        if isinstance(item, Obligation):
            amount_fen, size, split = item.outstanding_fen, len(canonical_bytes(item.wire())), 0
        else:
            amount_fen, size = item.amount_fen, len(canonical_bytes(item.wire()))
            split = 2 * size
        amounts.append(amounts[-1] + amount_fen)
        sizes.append(sizes[-1] + size)
        split_bytes.append(split)
    return amounts, sizes, split_bytes


def _cost_upto(costs: _Costs, upto_fen: int) -> int:
    """Bytes of the items consumed to clear ``upto_fen`` of an edge."""
    if upto_fen == 0:
        return 0
    amounts, sizes, split_bytes = costs
    last = bisect_left(amounts, upto_fen)
    return sizes[last] + (split_bytes[last] if amounts[last] > upto_fen else 0)


def _component(
    graph: nx.DiGraph,
    group: _Group,
    reductions: list[Reduction],
    nets_fen: Mapping[str, int],
    items: Mapping[tuple[str, str], list[_Item]],
    ctx: Context,
) -> Component:
    members, edges, gross = group
    applied = _apply(items, reductions, ctx, 0)
    cleared_edges = sum(
        1 for r in reductions if r.amount_fen == graph[r.debtor][r.creditor][AMOUNT_ATTR]
    )
    # Every member's net is listed for a small component; in a large one, those on a
    # reduction (the others' debts do not move, so neither do their nets).
    listed = members
    if len(members) > NETS_LISTED_MEMBERS_MAX:
        listed = tuple(sorted({r.debtor for r in reductions} | {r.creditor for r in reductions}))
    component_nets = {member: nets_fen[member] for member in listed}
    # What the component adds to the entry: its rows, its reductions and its nets.
    entry_bytes = sum(
        len(canonical_bytes(rows))
        for rows in (
            [piece.wire() for piece in applied.certificates],
            [obligation.wire() for obligation in applied.obligations],
            [
                {"debtor": r.debtor, "creditor": r.creditor, "amount": format_fen(r.amount_fen)}
                for r in reductions
            ],
            [
                {"member": m, "before": format_fen(n), "after": format_fen(n)}
                for m, n in component_nets.items()
            ],
        )
    )
    return Component(
        members=members,
        edges_before=edges,
        edges_after=edges - cleared_edges,
        gross_fen=gross,
        nets_fen=component_nets,
        reductions=tuple(reductions),
        pieces=applied.consumed_pieces,
        obligations=applied.consumed_obligations,
        entry_bytes=entry_bytes + len(applied.restored_fen) * 100,
    )


def touched(planned: Plan) -> tuple[set[str], set[str], set[str], set[str]]:
    """Ids the lock must reload: pieces, obligations, parties, issuers."""
    pieces: set[str] = set()
    obligations: set[str] = set()
    parties: set[str] = set()
    issuers: set[str] = set()
    for component in planned.components:
        pieces.update(piece.id for piece in component.pieces)
        issuers.update(piece.issuer for piece in component.pieces)
        obligations.update(obligation.id for obligation in component.obligations)
        parties.update(r.debtor for r in component.reductions)
        parties.update(r.creditor for r in component.reductions)
    return pieces, obligations, parties, issuers


def _unchanged(component: Component, current: Current) -> bool:
    return (
        all(current.pieces.get(piece.id) == piece_state(piece) for piece in component.pieces)
        and all(current.obligations.get(o.id) == obligation_state(o) for o in component.obligations)
        and all(
            r.debtor in current.parties and r.creditor in current.parties
            for r in component.reductions
        )
    )


def apply(planned: Plan, current: Current, body: RunBody, ctx: Context) -> Effects:
    """Apply the components of ``planned`` of which nothing changed (in the lock)."""
    check_as_of(body, ctx)
    excluded = list(planned.excluded)
    applied_components: list[Component] = []
    for component in planned.components:
        if not _unchanged(component, current):
            excluded.append(component.excluded("changed"))
        else:
            applied_components.append(component)
    certificates: list[Certificate] = []
    changed_obligations: list[Obligation] = []
    restored_fen: dict[str, int] = defaultdict(int)
    index = 0
    for component in applied_components:
        items = _items_by_edge(NettingState(component.pieces, component.obligations, {}))
        applied = _apply(items, component.reductions, ctx, index)
        index = applied.next_index
        certificates += applied.certificates
        changed_obligations += applied.obligations
        for issuer, amount_fen in applied.restored_fen.items():
            restored_fen[issuer] += amount_fen
    limits = [
        credit.restore(current.limits[issuer], restored_fen[issuer]).wire()
        for issuer in sorted(restored_fen)
    ]
    report = _report(applied_components, excluded, planned)
    report["as_of"] = body.as_of.isoformat()
    report["planned_on"] = planned.planned_on
    return {
        "netting": report,
        "certificates": [piece.wire() for piece in certificates],
        "obligations": [obligation.wire() for obligation in changed_obligations],
        "limits": limits,
    }


def _report(
    components: Sequence[Component], excluded: Sequence[Exclusion], planned: Plan
) -> dict[str, Any]:
    """The set-off report of the applied ``components``, with what was left out: up to
    EXCLUDED_LISTED_MAX exclusions (the rest counted) and a total of the deferred."""
    nets_fen: dict[str, int] = {}
    for component in components:
        nets_fen.update(component.nets_fen)
    reductions = sorted(
        (r for c in components for r in c.reductions), key=lambda r: (r.debtor, r.creditor)
    )
    gross_before_fen = sum(c.gross_fen for c in components)
    cleared_fen = sum(c.cleared_fen for c in components)
    merged = SetoffPlan(
        reductions=tuple(reductions),
        gross_before_fen=gross_before_fen,
        gross_after_fen=gross_before_fen - cleared_fen,
        edges_before=sum(c.edges_before for c in components),
        edges_after=sum(c.edges_after for c in components),
        edges_in_cycles=0,  # not reported
        solver="ortools",
        tie_break="",  # not reported
        elapsed_s=planned.solver_elapsed_s,
    )
    report: dict[str, Any] = dict(setoff_report_of_nets(nets_fen, merged))
    report["excluded"] = [exclusion.wire() for exclusion in excluded[:EXCLUDED_LISTED_MAX]]
    report["excluded_unlisted"] = max(len(excluded) - EXCLUDED_LISTED_MAX, 0)
    report["deferred"] = {
        "components": len(planned.deferred),
        "edges": sum(d.edges for d in planned.deferred),
        "gross": format_fen(sum(d.gross_fen for d in planned.deferred)),
    }
    return report


def current_of(state: NettingState) -> Current:
    """The state as its own current view: for a plan applied where it was made."""
    members = {p.issuer for p in state.pieces} | {p.holder for p in state.pieces}
    members |= {o.debtor for o in state.obligations} | {o.creditor for o in state.obligations}
    return Current(
        pieces={piece.id: piece_state(piece) for piece in state.pieces},
        obligations={o.id: obligation_state(o) for o in state.obligations},
        parties=frozenset(members),
        limits=state.limits,
    )


def run(state: NettingState, body: RunBody, ctx: Context) -> Effects:
    """Plan and apply in one step, on one state (the pure rule, for tests and tools)."""
    check_as_of(body, ctx)
    planned = replace(plan(state, ctx, ctx.settings.entry_bytes_max), planned_on=ctx.seq - 1)
    return apply(planned, current_of(state), body, ctx)


def preview(state: NettingState, mode: str, settings: Settings) -> dict[str, Any]:
    """What a run would do now (set-off), or the novation plan of the components within
    bounds; either way with the components left out."""
    ctx = Context(0, PREVIEW_TIME, "0" * 64, settings)  # what it creates is never written
    if mode == "novation":
        graph = build_graph(debts_of(state))
        groups, excluded = _components(graph, settings)
        kept = graph
        if excluded:
            kept = graph.subgraph([m for members, _, _ in groups for m in members]).copy()
        report: dict[str, Any] = dict(novation_report(kept, novation_plan(kept)))
        report["excluded"] = [exclusion.wire() for exclusion in excluded[:EXCLUDED_LISTED_MAX]]
        report["excluded_unlisted"] = max(len(excluded) - EXCLUDED_LISTED_MAX, 0)
        return report
    planned = plan(state, ctx, settings.entry_bytes_max)
    return _report(planned.components, planned.excluded, planned)


_Item = tuple[date, int, str, Certificate | Obligation]


def _items_by_edge(state: NettingState) -> dict[tuple[str, str], list[_Item]]:
    edges: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for piece in state.pieces:
        edges[(piece.issuer, piece.holder)].append((piece.maturity, 0, piece.id, piece))
    for obligation in state.obligations:
        edges[(obligation.debtor, obligation.creditor)].append(
            (obligation.due_date, 1, obligation.id, obligation)
        )
    for items in edges.values():
        items.sort(key=lambda item: item[:3])
    return edges


@dataclass(frozen=True)
class _Applied:
    certificates: list[Certificate]  # changed and created
    obligations: list[Obligation]  # changed
    consumed_pieces: tuple[Certificate, ...]  # as they were
    consumed_obligations: tuple[Obligation, ...]  # as they were
    restored_fen: dict[str, int]  # issuer -> cleared certificate value
    next_index: int


def _apply(
    edges: Mapping[tuple[str, str], list[_Item]],
    reductions: Sequence[Reduction],
    ctx: Context,
    index: int,
) -> _Applied:
    """Clear each reduction from the items on its edge, earliest due first."""
    certificates: list[Certificate] = []
    changed_obligations: list[Obligation] = []
    consumed_pieces: list[Certificate] = []
    consumed_obligations: list[Obligation] = []
    restored_fen: dict[str, int] = defaultdict(int)
    for reduction in reductions:
        left_fen = reduction.amount_fen
        for _due, _kind, _id, item in edges[(reduction.debtor, reduction.creditor)]:
            if left_fen == 0:
                break
            if isinstance(item, Obligation):
                take = min(left_fen, item.outstanding_fen)
                consumed_obligations.append(item)
                changed_obligations.append(obligations.reduce(item, take))
            else:
                take = min(left_fen, item.outstanding_fen)
                consumed_pieces.append(item)
                pieces, index = _settle_piece(item, take, ctx, index)
                certificates.extend(pieces)
                restored_fen[item.issuer] += take
            left_fen -= take
        assert left_fen == 0, ("the plan reduced an edge beyond its items", reduction)
    return _Applied(
        certificates,
        changed_obligations,
        tuple(consumed_pieces),
        tuple(consumed_obligations),
        dict(restored_fen),
        index,
    )


def _settle_piece(
    piece: Certificate, take_fen: int, ctx: Context, index: int
) -> tuple[list[Certificate], int]:
    """Settle ``take_fen`` of ``piece`` by set-off; returns the changed pieces. A split
    replaces one live piece with one (the settled part carries no value), so its root
    never gains a live piece and needs no room (``certificates.root_piece_fen_min``)."""
    if take_fen == piece.outstanding_fen:  # paid in part before: the rest is set off
        return [replace(piece, state=SETTLED)], index
    child = replace(
        piece,
        parent_ids=(piece.id,),
        invoice_uses=(),
        memo=None,
        created_seq=ctx.seq,
        sender=None,
        expires_at=None,
        paid_fen=0,  # what was paid of the piece stays recorded on it
    )
    cleared = replace(child, id=ctx.derive_id(index), amount_fen=take_fen, state=SETTLED)
    rest = replace(child, id=ctx.derive_id(index + 1), amount_fen=piece.outstanding_fen - take_fen)
    return [replace(piece, state=SPENT), cleared, rest], index + 2
