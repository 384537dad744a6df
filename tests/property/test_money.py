"""The money parser against a small independent model (integer arithmetic on digits)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import event, given
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


def model_fen(text: str) -> int | None:
    """The wire amount rule, written from docs/api.md without a regular expression: ASCII
    digits without a leading zero (but "0"), optionally a point and one or two digits,
    more than zero and at most AMOUNT_FEN_MAX fen. None: refused."""
    whole, point, decimals = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (len(whole) > 1 and whole[0] == "0"):
        return None
    if point and not (decimals.isascii() and decimals.isdigit() and len(decimals) <= 2):
        return None
    fen = int(whole) * 100 + int(decimals.ljust(2, "0"))
    return fen if 0 < fen <= AMOUNT_FEN_MAX else None


# Texts near the grammar: signs, spaces, leading zeros, a third decimal, an exponent,
# full-width and Arabic-Indic digits, an empty part; and well-formed amounts, with zero
# and one fen over the maximum among them, so that both answers are drawn often.
whole_yuan = st.integers(0, 10**13).map(str)
near_amounts = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from([""] * 8 + ["-", "+", " ", "0"]),
    whole_yuan | whole_yuan | st.text(alphabet="0123456789", max_size=18) | st.just("０"),
    st.sampled_from(["", ".", "."]),
    st.text(alphabet="0123456789", max_size=3) | st.just("١"),
    st.sampled_from([""] * 12 + [" ", "e3", "x", "\n"]),
)


exact_amounts = st.integers(0, AMOUNT_FEN_MAX + 1).map(format_fen)  # accepted, but 0 and max+1


@given(st.one_of(exact_amounts, near_amounts, st.text(max_size=30)))
def test_any_text_is_accepted_exactly_when_the_model_accepts_it(text: str) -> None:
    expected = model_fen(text)
    event("accepted" if expected is not None else "refused")
    if expected is None:
        with pytest.raises(AmountError):
            parse_amount(text)
    else:
        assert parse_amount(text) == expected


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
