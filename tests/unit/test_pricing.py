"""Discount quotes, every figure worked out by hand in the comments.

Calendar facts used (State Council notice for 2026): 1–7 October are the National Day
holiday, Saturday 10 October is a working day; Friday 25 September is Mid-Autumn.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.calendar import is_business_day, is_provisional
from ledger.pricing import InterestPayer, Terms, payment_date, quote

VALUE = date(2026, 7, 1)  # a Wednesday


def eight_decimals(exact: Fraction) -> Decimal:
    """Half-up to eight decimals, in integer arithmetic."""
    scaled = exact * 10**8
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    return Decimal(whole + (1 if 2 * rest >= scaled.denominator else 0)) / 10**8


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def test_the_worked_example_of_the_module() -> None:
    # face 100 000.00 = 10 000 000 fen, agreed 3.85 %, tier B: 3.85 % × 1.4 = 5.39 %.
    # Maturity Friday 2026-09-30 is a business day: 1 July → 30 September = 91 days.
    # interest = 10 000 000 × 0.0539 × 91 / 360 = 136 247.22… → 136 247 fen
    # agreed   = 10 000 000 × 0.0385 × 91 / 360 =  97 319.44… →  97 319 fen
    # fee 5 bp = 10 000 000 × 5 / 10 000 = 5 000 fen
    terms = Terms(Decimal("0.0385"), 14_000, 360, 5)
    q = quote(10_000_000, terms, VALUE, date(2026, 9, 30), is_business_day)
    assert (q.payment_date, q.days, q.rate) == (date(2026, 9, 30), 91, Decimal("0.0539"))
    assert (q.interest_fen, q.fee_fen, q.spread_fen) == (136_247, 5_000, 136_247 - 97_319)
    assert q.disbursement_fen == 10_000_000 - 136_247 - 5_000 == 9_858_753
    # all-in = (fee + interest) / disbursement × 360 / 91, exactly, then to 8 decimals
    assert q.all_in_rate == eight_decimals(Fraction(141_247, 9_858_753) * 360 / 91)
    assert q.wire()["disbursement"] == "98587.53" and q.wire()["rate"] == "0.0539"


def test_a_half_fen_rounds_up_and_just_under_rounds_down() -> None:
    # 1 800 fen × 0.05 × 1 / 360 = 0.25 fen → 0;  9 000 fen × 0.05 × 2 / 360 = 2.5 → 3
    # 8 999 fen × 0.05 × 2 / 360 = 2.4994… → 2
    flat = Terms(Decimal("0.05"), 10_000, 360)
    one_day, two_days = date(2026, 7, 2), date(2026, 7, 3)
    assert quote(1_800, flat, VALUE, one_day, weekdays).interest_fen == 0
    assert quote(9_000, flat, VALUE, two_days, weekdays).interest_fen == 3
    assert quote(8_999, flat, VALUE, two_days, weekdays).interest_fen == 2


def test_basis_365_against_360() -> None:
    # 3 650 000 fen × 0.04 × 73 / 365 = 29 200 fen exactly; on 360: 29 605.55… → 29 606
    terms = Terms(Decimal("0.04"), 10_000, 365)
    maturity = date(2026, 9, 12)  # a Saturday: 1 July → 12 September is 73 days
    assert quote(3_650_000, terms, VALUE, maturity, lambda d: True).interest_fen == 29_200
    terms360 = Terms(Decimal("0.04"), 10_000, 360)
    assert quote(3_650_000, terms360, VALUE, maturity, lambda d: True).interest_fen == 29_606


def test_buyer_pays_leaves_the_holder_face_less_fee_and_the_agreed_interest_to_the_issuer() -> None:
    # face 1 000 000 fen, agreed 3.6 %, tier C (× 1.6 ignored), 30 days, fee 10 bp:
    # interest = 1 000 000 × 0.036 × 30 / 360 = 3 000 fen, owed by the issuer;
    # fee = 1 000 fen; disbursement = 999 000; spread 0; all-in = 1 000/999 000 × 360/30
    terms = Terms(Decimal("0.036"), 16_000, 360, 10)
    q = quote(1_000_000, terms, VALUE, date(2026, 7, 31), weekdays, InterestPayer.ISSUER)
    assert (q.days, q.rate, q.interest_fen, q.fee_fen) == (30, Decimal("0.036"), 3_000, 1_000)
    assert (q.disbursement_fen, q.spread_fen) == (999_000, 0)
    assert q.all_in_rate == eight_decimals(Fraction(1_000, 999_000) * 360 / 30)
    assert q.interest_payer is InterestPayer.ISSUER


def test_a_fee_of_half_a_fen_rounds_up() -> None:
    # 1 000 fen × 5 bp / 10 000 = 0.5 fen → 1 fen; 4 999 fen × 1 bp = 0.4999 → 0
    assert quote(1_000, Terms(Decimal(0), 10_000, 360, 5), VALUE, VALUE, weekdays).fee_fen == 1
    assert quote(4_999, Terms(Decimal(0), 10_000, 360, 1), VALUE, VALUE, weekdays).fee_fen == 0


@pytest.mark.parametrize(
    ("maturity", "paid_on"),
    [
        (date(2026, 10, 1), date(2026, 10, 8)),  # National Day holiday → Thursday 8th
        (date(2026, 10, 7), date(2026, 10, 8)),
        (date(2026, 10, 10), date(2026, 10, 10)),  # a working Saturday
        (date(2026, 10, 11), date(2026, 10, 12)),  # an ordinary Sunday
        (date(2026, 9, 25), date(2026, 9, 28)),  # Mid-Autumn Friday → Monday
        (date(2026, 9, 24), date(2026, 9, 24)),  # a business day stays
    ],
)
def test_payment_dates_roll_to_the_next_prc_business_day(maturity: date, paid_on: date) -> None:
    assert payment_date(maturity, is_business_day) == paid_on


def test_days_count_to_the_rolled_payment_date_and_are_at_least_one() -> None:
    # Value 30 September, maturity 1 October (holiday) → paid 8 October: 8 days.
    q = quote(
        100_00,
        Terms(Decimal("0.03"), 10_000),
        date(2026, 9, 30),
        date(2026, 10, 1),
        is_business_day,
    )
    assert (q.payment_date, q.days) == (date(2026, 10, 8), 8)
    # Value date on the payment date itself: still one day.
    assert quote(100_00, Terms(Decimal("0.03"), 10_000), VALUE, VALUE, weekdays).days == 1


def test_years_without_a_published_schedule_are_weekends_only_and_flagged() -> None:
    far = date(2040, 1, 2)  # a Monday; no schedule is published for 2040
    assert is_provisional(far) and is_business_day(far)
    assert not is_business_day(date(2040, 1, 1))  # Sunday
    assert not is_provisional(date(2026, 10, 1))


def test_a_banks_lower_rate_replaces_the_charged_rate_not_the_agreed_one() -> None:
    # Holder pays, tier B: quoted 5.39 %; the bank approves at 4.5 %. 91 days, 360.
    # interest = 10 000 000 × 0.045 × 91 / 360 = 113 750 fen exactly
    # agreed   = 10 000 000 × 0.0385 × 91 / 360 = 97 319.44… → 97 319; spread 16 431
    terms = Terms(Decimal("0.0385"), 14_000, 360, 0)
    q = quote(10_000_000, terms, VALUE, date(2026, 9, 30), weekdays, rate=Decimal("0.045"))
    assert (q.rate, q.interest_fen, q.spread_fen) == (Decimal("0.045"), 113_750, 16_431)
    assert q.disbursement_fen == 10_000_000 - 113_750
    # Issuer pays at 3 % instead of the agreed 3.85 %: 10 000 000 × 0.03 × 91 / 360
    # = 75 833.33… → 75 833 fen owed by the issuer; the holder gets the whole face.
    bp = quote(
        10_000_000,
        terms,
        VALUE,
        date(2026, 9, 30),
        weekdays,
        InterestPayer.ISSUER,
        rate=Decimal("0.03"),
    )
    assert (bp.interest_fen, bp.spread_fen, bp.disbursement_fen) == (75_833, 0, 10_000_000)
