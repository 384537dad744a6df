"""The certificate tree as `dcc demo` prints it: each piece under its parent, drawn."""

from __future__ import annotations

import doctest
from typing import Any

import api.demo
from api.demo import draw_tree


def piece(id_: str, parents: list[str], level: int, state: str, amount: str) -> dict[str, Any]:
    return {
        "id": id_,
        "parent_ids": parents,
        "level": level,
        "state": state,
        "amount": amount,
        "holder": f"H{id_}",
    }


# The demo's own tree, in order of creation as the server pages it: the root (R) is
# split into 300.00 for tier 2 (T2) and 700.00 of change (C1); T2 into 120.00 for tier 3
# (T3) and 180.00 of change (C2); T3 into 100.00 for the bank (B) and 20.00 (C3).
# Created in this order, the change C1 comes between T2 and T2's children.
CREATED = [
    piece("R", [], 1, "spent", "1000.00"),
    piece("T2", ["R"], 2, "spent", "300.00"),
    piece("C1", ["R"], 1, "active", "700.00"),
    piece("C2", ["T2"], 2, "active", "180.00"),
    piece("T3", ["T2"], 3, "spent", "120.00"),
    piece("B", ["T3"], 3, "active", "100.00"),
    piece("C3", ["T3"], 3, "active", "20.00"),
]


def test_children_are_drawn_under_their_parent() -> None:
    assert draw_tree(CREATED) == [
        "  level 1  spent       1000.00  holder HR  id R",
        "  ├─ level 2  spent        300.00  holder HT2  id T2",
        "  │  ├─ level 2  active       180.00  holder HC2  id C2",
        "  │  └─ level 3  spent        120.00  holder HT3  id T3",
        "  │     ├─ level 3  active       100.00  holder HB  id B",
        "  │     └─ level 3  active        20.00  holder HC3  id C3",
        "  └─ level 1  active       700.00  holder HC1  id C1",
    ]


def test_a_merged_piece_sits_under_its_first_input_and_names_the_others() -> None:
    merged = piece("M", ["C2", "C1"], 2, "active", "880.00")
    lines = draw_tree([*CREATED, merged])
    assert lines[3] == "  │  │  └─ level 2  active       880.00  holder HM  id M  also from C1"
    assert lines[2].startswith("  │  ├─ level 2  active       180.00"), lines


def test_a_deep_chain_is_drawn_without_recursion() -> None:
    chain = [piece("0", [], 1, "spent", "1.00")]
    chain += [piece(str(n), [str(n - 1)], n + 1, "spent", "1.00") for n in range(1, 3000)]
    lines = draw_tree(chain)
    assert len(lines) == 3000
    assert lines[-1].endswith("id 2999") and lines[-1].startswith("  " + "   " * 2998 + "└─ ")


def test_the_docstring_example_holds() -> None:
    result = doctest.testmod(api.demo)
    assert result.attempted > 0 and result.failed == 0, result
