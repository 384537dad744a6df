"""Netting reports: the wire shape, amounts as decimal strings, and the text table."""

from __future__ import annotations

import json

import pytest

from netting.graph import Debt, build_graph
from netting.novation import novation_plan
from netting.report import novation_report, percent, render_report, setoff_report
from netting.setoff import solve_setoff

# The 3-cycle in yuan: A → B 100.00, B → C 70.00, C → A 50.00.
CYCLE = build_graph([Debt("A", "B", 10_000), Debt("B", "C", 7_000), Debt("C", "A", 5_000)])
NETS = [
    {"member": "A", "before": "-50.00", "after": "-50.00"},
    {"member": "B", "before": "30.00", "after": "30.00"},
    {"member": "C", "before": "20.00", "after": "20.00"},
]


def test_the_setoff_report_of_the_three_cycle() -> None:
    report = setoff_report(CYCLE, solve_setoff(CYCLE))
    solver_elapsed_ms = report.pop("solver_elapsed_ms")  # type: ignore[misc]
    assert isinstance(solver_elapsed_ms, int) and solver_elapsed_ms >= 0
    each = [("A", "B"), ("B", "C"), ("C", "A")]
    assert report == {
        "mode": "setoff",
        "gross_before": "220.00",
        "gross_after": "70.00",
        "cleared": "150.00",
        "cleared_percent": "68.18",  # 150 / 220 = 68.1818…
        "edges_before": 3,
        "edges_after": 2,
        "reductions": [{"debtor": d, "creditor": c, "amount": "50.00"} for d, c in each],
        "largest_reductions": [{"debtor": d, "creditor": c, "amount": "50.00"} for d, c in each],
        "payments": [],
        "nets": NETS,
        "solver": "ortools",
    }


def test_the_novation_report_of_the_three_cycle() -> None:
    report = novation_report(CYCLE, novation_plan(CYCLE))
    assert report["mode"] == "novation"
    assert (report["gross_after"], report["cleared"], report["cleared_percent"]) == (
        "50.00",
        "170.00",
        "77.27",  # 170 / 220 = 77.2727…
    )
    assert (report["edges_before"], report["edges_after"]) == (3, 2)
    assert report["payments"] == [
        {"debtor": "A", "creditor": "B", "amount": "30.00"},
        {"debtor": "A", "creditor": "C", "amount": "20.00"},
    ]
    assert report["reductions"] == report["largest_reductions"] == []
    assert report["nets"] == NETS


def test_largest_reductions_are_the_top_ten_by_amount_then_by_edge() -> None:
    # Eleven 2-cycles X_i ⇄ Y_i of i fen each way, plus a tie at the top.
    debts = [Debt(f"X{i:02d}", f"Y{i:02d}", i) for i in range(1, 12)]
    debts += [Debt(f"Y{i:02d}", f"X{i:02d}", i) for i in range(1, 12)]
    report = setoff_report(graph := build_graph(debts), solve_setoff(graph))
    top = [(r["debtor"], r["creditor"], r["amount"]) for r in report["largest_reductions"]]
    assert top[:3] == [("X11", "Y11", "0.11"), ("Y11", "X11", "0.11"), ("X10", "Y10", "0.10")]
    assert len(top) == 10 and top[-1] == ("Y07", "X07", "0.07")
    assert len(report["reductions"]) == 22
    assert report["cleared_percent"] == "100.00"


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        *[(0, 0, "0.00"), (0, 7, "0.00"), (7, 7, "100.00"), (1, 3, "33.33"), (2, 3, "66.67")],
        *[(1, 8, "12.50"), (1, 80_000, "0.00"), (1, 20_000, "0.01"), (10**18, 3 * 10**18, "33.33")],
    ],
)
def test_percent_rounds_half_up_in_integers(part: int, whole: int, text: str) -> None:
    assert percent(part, whole) == text


def test_reports_are_plain_json_with_no_numbers_for_money() -> None:
    for report in (
        setoff_report(CYCLE, solve_setoff(CYCLE)),
        novation_report(CYCLE, novation_plan(CYCLE)),
    ):
        wire = json.loads(json.dumps(report))
        assert wire == report
        for key in ("gross_before", "gross_after", "cleared", "cleared_percent"):
            assert isinstance(wire[key], str)


def test_the_text_table_shows_totals_reductions_and_nets() -> None:
    text = render_report(setoff_report(CYCLE, solve_setoff(CYCLE)))
    print("\n" + text)
    assert text.startswith("Netting: set-off of existing debts\n")
    assert "gross (CNY)  220.00  70.00   150.00" in text
    assert "cleared 68.18 % of gross" in text
    assert "A       B                50.00" in text
    assert "C        20.00   20.00" in text


def test_the_text_table_cuts_long_lists() -> None:
    debts = [Debt(f"M{i:03d}", f"M{i + 1:03d}", 100) for i in range(50)]
    graph = build_graph([*debts, Debt("M050", "M000", 100)])
    text = render_report(novation_report(graph, novation_plan(graph)), rows_max=5)
    assert "Payments (0)\n(none)" in text
    assert "... and 46 more" in text  # 51 members, 5 shown
