"""Pro-rata allocation (``ledger.settlement.allocate``) against an independent model.

The exact share of a piece is ``amount × outstanding / total``, figured here with
``Fraction``; the model is largest remainder written from the docstring with integer
division: each gets the floor of its exact share, and the fen left over go one each to
the largest remainders, ties to the larger outstanding, then to the smaller id. Ids come
from a tiny alphabet and outstandings from a few round values as well as any, so that
equal remainders — where a wrong tie-break costs a fen — come up often.
"""

from __future__ import annotations

import math
from fractions import Fraction
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.settlement import allocate

outstandings_fen = st.one_of(
    st.integers(1, 10**9), st.integers(1, 8), st.sampled_from([100, 200, 300, 600])
)
ids = st.text(alphabet="abc", min_size=1, max_size=3)


@st.composite
def allocations(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    """A list of (distinct id, outstanding > 0), and an amount from 0 to their total."""
    shares = draw(
        st.lists(
            st.tuples(ids, outstandings_fen), min_size=1, max_size=12, unique_by=lambda s: s[0]
        )
    )
    total_fen = sum(outstanding for _, outstanding in shares)
    # Half the total ties every odd outstanding at a remainder of one half (a third, at
    # thirds): the cut then falls among equal remainders, and the tie-break decides.
    fractions = [0, 1, total_fen // 3, total_fen // 2, total_fen]
    amount_fen = draw(st.one_of(st.integers(0, total_fen), st.sampled_from(fractions)))
    return amount_fen, shares


def largest_remainder(amount_fen: int, shares: list[tuple[str, int]]) -> dict[str, int]:
    """The model: floors by integer division, then one fen each to the largest remainders
    (compared as numerators over the common total), ties to larger outstanding, smaller id."""
    total_fen = sum(outstanding for _, outstanding in shares)
    floors = {i: amount_fen * o // total_fen for i, o in shares}
    remainders = {i: amount_fen * o % total_fen for i, o in shares}
    left = amount_fen - sum(floors.values())
    ranked = sorted(shares, key=lambda s: (-remainders[s[0]], -s[1], s[0]))
    extra = {i for i, _ in ranked[:left]}
    return {i: floors[i] + (1 if i in extra else 0) for i, _ in shares}


@settings(max_examples=500)
@given(allocations(), st.randoms(use_true_random=False))
def test_allocate_is_exact_fair_bounded_deterministic_and_largest_remainder(
    drawn: tuple[int, list[tuple[str, int]]], random: Random
) -> None:
    amount_fen, shares = drawn
    total_fen = sum(outstanding for _, outstanding in shares)
    given_fen = allocate(amount_fen, shares)

    assert set(given_fen) == {i for i, _ in shares}
    assert sum(given_fen.values()) == amount_fen
    for id_, outstanding in shares:
        exact = Fraction(amount_fen * outstanding, total_fen)
        assert given_fen[id_] in (math.floor(exact), math.ceil(exact)), (id_, exact)
        assert 0 <= given_fen[id_] <= outstanding

    shuffled = list(shares)
    random.shuffle(shuffled)
    assert allocate(amount_fen, shuffled) == given_fen
    assert allocate(amount_fen, list(reversed(shares))) == given_fen

    assert given_fen == largest_remainder(amount_fen, shares)


def test_ties_go_to_the_larger_outstanding_then_the_smaller_id() -> None:
    # 2 fen over 1 and 3 of 4: exact 1/2 and 3/2, equal remainders: the larger outstanding.
    assert allocate(2, [("a", 1), ("b", 3)]) == {"a": 0, "b": 2}
    # 1 fen over 2 × 150 of 300: remainders 1/2 each, equal outstandings: the smaller id.
    assert allocate(1, [("b", 150), ("a", 150)]) == {"a": 1, "b": 0}
    # 3 fen over 2 / 4 of 6: exact 1 and 2, nothing left over.
    assert allocate(3, [("x", 2), ("y", 4)]) == {"x": 1, "y": 2}
    # 1 fen over 1 and 3 of 4: remainders 1/4 and 3/4, the largest remainder wins.
    assert allocate(1, [("a", 1), ("b", 3)]) == {"a": 0, "b": 1}
    # 2 fen over 100 / 100 / 200 of 400: exact 0.5, 0.5, 1; the one fen left: smaller id.
    assert allocate(2, [("c", 100), ("b", 100), ("d", 200)]) == {"b": 1, "c": 0, "d": 1}
