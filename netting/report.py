"""Netting reports: a plan and its graph as a wire-shaped dict, and as a text table.

Both modes give the same shape, so a client draws one table. Every amount is a decimal
string of yuan (:func:`ledger.money.format_fen`); counts are integers::

    {"mode": "setoff" | "novation",
     "gross_before": "2.20", "gross_after": "0.70", "cleared": "1.50",
     "cleared_percent": "68.18", "edges_before": 3, "edges_after": 2,
     "reductions": [{"debtor", "creditor", "amount"}, ...],   # sorted by (debtor, creditor)
     "largest_reductions": [...],                              # top 10 by amount
     "payments": [{"debtor", "creditor", "amount"}, ...],     # novation only; [] for set-off
     "nets": [{"member", "before", "after"}, ...],            # sorted by member id
     "solver": "ortools", "solver_elapsed_ms": 3}

In **set-off** mode ``reductions`` lists what each existing edge is reduced by and
``payments`` is ``[]``. In **novation** mode the whole graph is replaced, so there are no
per-edge reductions: ``reductions`` and ``largest_reductions`` are ``[]``, ``payments``
lists the new payments, ``gross_after`` is their sum and ``edges_after`` their count.
``nets`` shows that no member's net position moved: ``after`` is recomputed from the
plan (what remains after set-off; the payments under novation), not copied.
``cleared_percent`` is ``cleared / gross_before`` rounded half-up to 0.01 %, in integer
arithmetic (``"0.00"`` for an empty graph).
"""

from __future__ import annotations

from typing import Literal, TypedDict

import networkx as nx

from ledger.money import format_fen
from netting.graph import net_positions
from netting.novation import NovationPlan
from netting.setoff import SetoffPlan

LARGEST_REDUCTIONS_MAX = 10


class EdgeAmount(TypedDict):
    debtor: str
    creditor: str
    amount: str


class NetRow(TypedDict):
    member: str
    before: str
    after: str


class NettingReport(TypedDict):
    mode: Literal["setoff", "novation"]
    gross_before: str
    gross_after: str
    cleared: str
    cleared_percent: str
    edges_before: int
    edges_after: int
    reductions: list[EdgeAmount]
    largest_reductions: list[EdgeAmount]
    payments: list[EdgeAmount]
    nets: list[NetRow]
    solver: str
    solver_elapsed_ms: int


def setoff_report(graph: nx.DiGraph, plan: SetoffPlan) -> NettingReport:
    """The report of a set-off ``plan`` computed from ``graph``."""
    return setoff_report_of_nets(net_positions(graph), plan)


def setoff_report_of_nets(nets_before_fen: dict[str, int], plan: SetoffPlan) -> NettingReport:
    """The report of a set-off ``plan`` over members with net positions ``nets_before_fen``
    (for a plan of some components of a graph, whose nets are known without the graph)."""
    nets_after_fen = dict(nets_before_fen)
    for reduction in plan.reductions:
        # The debtor now pays less and the creditor receives less, by the same amount.
        nets_after_fen[reduction.debtor] += reduction.amount_fen
        nets_after_fen[reduction.creditor] -= reduction.amount_fen
    assert nets_after_fen == nets_before_fen, "set-off moved a net position"
    edges = [(r.debtor, r.creditor, r.amount_fen) for r in plan.reductions]
    largest = sorted(edges, key=lambda edge: (-edge[2], edge[0], edge[1]))
    return NettingReport(
        mode="setoff",
        gross_before=format_fen(plan.gross_before_fen),
        gross_after=format_fen(plan.gross_after_fen),
        cleared=format_fen(plan.cleared_fen),
        cleared_percent=percent(plan.cleared_fen, plan.gross_before_fen),
        edges_before=plan.edges_before,
        edges_after=plan.edges_after,
        reductions=_edge_amounts(edges),
        largest_reductions=_edge_amounts(largest[:LARGEST_REDUCTIONS_MAX]),
        payments=[],
        nets=_net_rows(nets_before_fen, nets_after_fen),
        solver=plan.solver,
        solver_elapsed_ms=round(plan.elapsed_s * 1000),
    )


def novation_report(graph: nx.DiGraph, plan: NovationPlan) -> NettingReport:
    """The report of a novation ``plan`` computed from ``graph``."""
    nets_before_fen = net_positions(graph)
    nets_after_fen = dict.fromkeys(nets_before_fen, 0)
    for payment in plan.payments:
        nets_after_fen[payment.debtor] -= payment.amount_fen
        nets_after_fen[payment.creditor] += payment.amount_fen
    assert nets_after_fen == nets_before_fen, "novation moved a net position"
    return NettingReport(
        mode="novation",
        gross_before=format_fen(plan.gross_before_fen),
        gross_after=format_fen(plan.gross_after_fen),
        cleared=format_fen(plan.cleared_fen),
        cleared_percent=percent(plan.cleared_fen, plan.gross_before_fen),
        edges_before=plan.edges_before,
        edges_after=len(plan.payments),
        reductions=[],
        largest_reductions=[],
        payments=_edge_amounts([(p.debtor, p.creditor, p.amount_fen) for p in plan.payments]),
        nets=_net_rows(nets_before_fen, nets_after_fen),
        solver="greedy-matching",
        solver_elapsed_ms=round(plan.elapsed_s * 1000),
    )


def percent(part_fen: int, whole_fen: int) -> str:
    """``part / whole`` as a percentage with two decimals, rounded half-up, no floats."""
    assert 0 <= part_fen <= whole_fen or whole_fen == 0, (part_fen, whole_fen)
    if whole_fen == 0:
        return "0.00"
    hundredths = (part_fen * 10_000 * 2 + whole_fen) // (2 * whole_fen)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def render_report(report: NettingReport, *, rows_max: int = 20) -> str:
    """A plain-text view of ``report`` for a terminal (``dcc net``); long lists are cut."""
    title = {"setoff": "set-off of existing debts", "novation": "novation plan (not applied)"}
    lines = [
        f"Netting: {title[report['mode']]}",
        "",
        _table(
            ["", "before", "after", "cleared"],
            [
                ["gross (CNY)", report["gross_before"], report["gross_after"], report["cleared"]],
                [
                    "debts",
                    str(report["edges_before"]),
                    str(report["edges_after"]),
                    str(report["edges_before"] - report["edges_after"]),
                ],
            ],
            left=1,
        ),
        "",
        f"cleared {report['cleared_percent']} % of gross; "
        f"solver {report['solver']}, {report['solver_elapsed_ms']} ms",
    ]
    if report["mode"] == "setoff":
        lines += _section("Largest reductions", report["largest_reductions"], rows_max)
        if len(report["reductions"]) > len(report["largest_reductions"]):
            lines.append(f"(of {len(report['reductions'])} reductions)")
    else:
        lines += _section("Payments", report["payments"], rows_max)
    net_rows = [[n["member"], n["before"], n["after"]] for n in report["nets"]]
    lines += ["", f"Net positions ({len(net_rows)} members; unchanged by netting)"]
    lines.append(_table(["member", "before", "after"], net_rows[:rows_max], left=1))
    if len(net_rows) > rows_max:
        lines.append(f"... and {len(net_rows) - rows_max} more")
    return "\n".join(lines) + "\n"


def _edge_amounts(edges: list[tuple[str, str, int]]) -> list[EdgeAmount]:
    return [
        EdgeAmount(debtor=debtor, creditor=creditor, amount=format_fen(amount_fen))
        for debtor, creditor, amount_fen in edges
    ]


def _net_rows(before_fen: dict[str, int], after_fen: dict[str, int]) -> list[NetRow]:
    return [
        NetRow(
            member=member,
            before=format_fen(before_fen[member]),
            after=format_fen(after_fen[member]),
        )
        for member in sorted(before_fen)
    ]


def _section(title: str, rows: list[EdgeAmount], rows_max: int) -> list[str]:
    lines = ["", f"{title} ({len(rows)})"]
    if not rows:
        return [*lines, "(none)"]
    cells = [[row["debtor"], row["creditor"], row["amount"]] for row in rows[:rows_max]]
    lines.append(_table(["debtor", "creditor", "amount (CNY)"], cells, left=2))
    if len(rows) > rows_max:
        lines.append(f"... and {len(rows) - rows_max} more")
    return lines


def _table(header: list[str], rows: list[list[str]], *, left: int) -> str:
    """Columns padded to width: the first ``left`` (names) aligned left, numbers right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])
