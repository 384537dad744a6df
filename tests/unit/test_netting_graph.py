"""The debt graph: merging, dropping, net positions."""

from __future__ import annotations

import pytest

from netting.graph import Debt, build_graph, debts_of, edge_count, gross_fen, net_positions


def test_debts_between_a_pair_are_summed_into_one_edge() -> None:
    graph = build_graph([Debt("A", "B", 60), Debt("B", "A", 5), Debt("A", "B", 40)])
    assert debts_of(graph) == [Debt("A", "B", 100), Debt("B", "A", 5)]
    assert edge_count(graph) == 2
    assert gross_fen(graph) == 105


def test_self_debts_and_zero_amounts_are_dropped_with_their_members() -> None:
    graph = build_graph([Debt("A", "A", 10), Debt("B", "C", 0), Debt("C", "D", 7)])
    assert sorted(graph.nodes) == ["C", "D"]
    assert debts_of(graph) == [Debt("C", "D", 7)]


def test_a_negative_or_float_amount_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        build_graph([Debt("A", "B", -1)])
    with pytest.raises(AssertionError):
        build_graph([Debt("A", "B", 1.5)])  # type: ignore[arg-type]


def test_net_positions_are_inflow_minus_outflow_and_sum_to_zero() -> None:
    graph = build_graph(
        [Debt("A", "B", 100), Debt("B", "C", 70), Debt("C", "A", 50), Debt("D", "A", 1)]
    )
    nets_fen = net_positions(graph)
    assert nets_fen == {"A": -49, "B": 30, "C": 20, "D": -1}
    assert list(nets_fen) == sorted(nets_fen)
    assert sum(nets_fen.values()) == 0


def test_an_empty_list_gives_an_empty_graph() -> None:
    graph = build_graph([])
    assert (edge_count(graph), gross_fen(graph), net_positions(graph)) == (0, 0, {})
