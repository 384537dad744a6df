"""Business days in the People's Republic of China, for payment dates.

A payment due on a weekend or a public holiday is paid on the next business day; the
State Council's schedule also moves some weekends into working days (调休), so a
Saturday can be a business day. The schedule comes from the `chinesecalendar` package,
which follows each year's State Council notice; it knows the years it was released for
(:data:`COVERED_YEARS`). Beyond them — the next year's notice usually appears in
November or December — only weekends are known to be closed, and :func:`is_provisional`
says so, so that a quote can flag a payment date that a new release may move.

    >>> is_business_day(date(2026, 10, 1)), is_business_day(date(2026, 10, 10))
    (False, True)
"""

from __future__ import annotations

from datetime import date

import chinese_calendar

_FIRST, _LAST = (min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year)
COVERED_YEARS = range(_FIRST, _LAST + 1)


def is_provisional(day: date) -> bool:
    """True when the package has no schedule for ``day``'s year (weekends only)."""
    return day.year not in COVERED_YEARS


def is_business_day(day: date) -> bool:
    if is_provisional(day):
        return day.weekday() < 5
    return bool(chinese_calendar.is_workday(day))
