"""The money parser against a small independent model (integer arithmetic on digits)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.limits import AMOUNT_FEN_MAX
from ledger.money import AmountError, format_fen, interest_fen, parse_amount, parse_rate

fen_values = st.integers(min_value=1, max_value=AMOUNT_FEN_MAX)


@given(fen_values)
def test_format_then_parse_is_identity(amount_fen: int) -> None:
    assert parse_amount(format_fen(amount_fen)) == amount_fen


@given(
    st.integers(min_value=0, max_value=10**13),
    st.sampled_from(["", ".", ".0", ".00"]),
    st.integers(min_value=0, max_value=99),
)
def test_parse_agrees_with_a_digit_model(yuan: int, shape: str, cents: int) -> None:
    if shape in ("", "."):
        text, expected = f"{yuan}{shape}", yuan * 100
    elif shape == ".0":
        text, expected = f"{yuan}.{cents % 10}", yuan * 100 + (cents % 10) * 10
    else:
        text, expected = f"{yuan}.{cents:02d}", yuan * 100 + cents
    if shape == ".":
        with pytest.raises(AmountError):
            parse_amount(text)
    elif expected > AMOUNT_FEN_MAX:
        with pytest.raises(AmountError, match="maximum"):
            parse_amount(text)
    elif expected == 0:
        with pytest.raises(AmountError, match="greater than zero"):
            parse_amount(text)
        assert parse_amount(text, allow_zero=True) == 0
    else:
        assert parse_amount(text) == expected


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.none() | st.booleans())
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(AmountError, match="decimal string"):
        parse_amount(value)


@given(st.text(max_size=30))
def test_arbitrary_text_is_either_refused_or_exact(text: str) -> None:
    try:
        fen = parse_amount(text)
    except AmountError:
        return
    # An accepted text is a canonical-enough decimal whose value is exactly fen/100.
    assert Decimal(text) * 100 == fen
    assert 0 < fen <= AMOUNT_FEN_MAX


@pytest.mark.parametrize(
    "text",
    [
        "-1.00",
        "1.001",
        "1e3",
        "01.00",
        " 1.00",
        "1.00 ",
        "+1",
        "1,000.00",
        "0",
        "0.00",
        ".5",
        "１２",
        "NaN",
        "Infinity",
        str(AMOUNT_FEN_MAX // 100 + 1),
        "10000000000000.01",
    ],
)
def test_refused_examples(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)


def test_maximum_is_accepted() -> None:
    assert parse_amount(format_fen(AMOUNT_FEN_MAX)) == AMOUNT_FEN_MAX


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_is_exact(amount_fen: int) -> None:
    text = format_fen(amount_fen)
    assert Decimal(text) == Decimal(amount_fen) / 100
    assert len(text.split(".")[1]) == 2


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=99999),
    st.integers(min_value=0, max_value=366),
)
def test_interest_is_half_up_of_the_exact_rational(face_fen: int, rate_bp: int, days: int) -> None:
    rate = Decimal(rate_bp) / 10**6
    numerator = face_fen * rate_bp * days  # interest = numerator / (10^6 * 360)
    denominator = 10**6 * 360
    quotient, remainder = divmod(numerator, denominator)
    expected = quotient + (1 if 2 * remainder >= denominator else 0)
    assert (
        interest_fen(face_fen, parse_rate(str(rate)) if rate_bp else Decimal(0), days) == expected
    )
