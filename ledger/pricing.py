"""The price of discounting a piece: what a bank pays today for a promise due later.

A bank's credit line for a core enterprise's paper carries the *agreed* annual rate.
The applicant's tier (A, B, C) multiplies it (1.2, 1.4, 1.6 by default). Days run from
the value date (counted) to the payment date (not counted): the maturity, rolled to
the next business day when it falls on a weekend or a PRC public holiday, at least one
day. Interest is ``face × rate × days / basis`` (basis 360, or 365 where agreed) and the
platform fee ``face × fee_bps / 10 000``, each rounded half up to the fen::

    face 100 000.00, agreed 3.85 %, tier B (× 1.4 → 5.39 %), 91 days, basis 360
    interest = 100 000.00 × 0.0539 × 91 / 360 = 1 362.4722… → 1 362.47
    fee (5 bp) = 50.00;  disbursement = 100 000.00 − 1 362.47 − 50.00 = 98 587.53
    spread = 1 362.47 − (100 000.00 × 0.0385 × 91 / 360 = 973.19) = 389.28

When the issuer pays the interest (买方付息), the holder receives face − fee and the
interest, at the agreed rate without the tier's multiplier, is owed by the issuer to
the bank at maturity; the spread is then zero. The all-in cost is what the holder gives
up, annualised on what it receives: ``(face − disbursement) / disbursement × basis /
days``, to eight decimals.

Pure: the calendar is a function passed in (``ledger.calendar`` gives the PRC one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from ledger.money import format_fen, half_up, interest_fen

RATE_DECIMALS = Decimal("0.00000001")
ROLL_DAYS_MAX = 31  # no PRC holiday run is longer; a calendar that says so is wrong


class InterestPayer(StrEnum):
    HOLDER = "holder"  # deducted from the disbursement (the default)
    ISSUER = "issuer"  # buyer-pays: owed by the issuer to the bank at maturity


@dataclass(frozen=True)
class Terms:
    """What a price depends on besides the piece: the line's rate and the settings."""

    annual_rate: Decimal
    multiplier_bp: int  # the applicant's tier multiplier, 10 000 = × 1
    basis_days: int = 360
    fee_bp: int = 0


@dataclass(frozen=True)
class Quote:
    face_fen: int
    annual_rate: Decimal  # agreed with the core enterprise
    rate: Decimal  # charged: the agreed rate × the tier's multiplier (holder pays)
    value_date: date
    payment_date: date
    days: int
    basis_days: int
    interest_fen: int
    fee_fen: int
    disbursement_fen: int
    spread_fen: int
    all_in_rate: Decimal
    interest_payer: InterestPayer

    def wire(self) -> dict[str, object]:
        return {
            "face": format_fen(self.face_fen),
            "annual_rate": str(self.annual_rate),
            "rate": str(self.rate),
            "value_date": self.value_date.isoformat(),
            "payment_date": self.payment_date.isoformat(),
            "days": self.days,
            "basis_days": self.basis_days,
            "interest": format_fen(self.interest_fen),
            "fee": format_fen(self.fee_fen),
            "disbursement": format_fen(self.disbursement_fen),
            "spread": format_fen(self.spread_fen),
            "all_in_rate": str(self.all_in_rate),
            "interest_payer": self.interest_payer.value,
        }


def charged_rate(terms: Terms, payer: InterestPayer) -> Decimal:
    """The annual rate a quote charges: the agreed one when the issuer pays, else the
    agreed one times the applicant's tier multiplier."""
    if payer is InterestPayer.ISSUER:
        return terms.annual_rate
    return (terms.annual_rate * terms.multiplier_bp / 10_000).normalize()


def payment_date(maturity: date, is_business_day: Callable[[date], bool]) -> date:
    """The maturity, or the next business day after it."""
    day = maturity
    for _ in range(ROLL_DAYS_MAX):
        if is_business_day(day):
            return day
        day += timedelta(days=1)
    raise AssertionError(f"no business day within {ROLL_DAYS_MAX} days of {maturity}")


def quote(
    face_fen: int,
    terms: Terms,
    value_date: date,
    maturity: date,
    is_business_day: Callable[[date], bool],
    payer: InterestPayer = InterestPayer.HOLDER,
    rate: Decimal | None = None,
) -> Quote:
    """The price of ``face_fen`` paid on ``value_date``. ``rate``, when given, is the
    rate a bank decided instead of the one the terms give (never above it: the caller
    refuses that); the spread is still measured against the agreed rate."""
    assert face_fen > 0 and terms.basis_days in (360, 365), (face_fen, terms)
    pays_on = payment_date(maturity, is_business_day)
    days = max(1, (pays_on - value_date).days)
    agreed_fen = interest_fen(face_fen, terms.annual_rate, days, terms.basis_days)
    if rate is None:
        rate = charged_rate(terms, payer)
    interest = interest_fen(face_fen, rate, days, terms.basis_days)
    spread = 0 if payer is InterestPayer.ISSUER else interest - agreed_fen
    fee = half_up(Decimal(face_fen) * terms.fee_bp / 10_000)
    disbursement = face_fen - fee - (interest if payer is InterestPayer.HOLDER else 0)
    # The financing rule refuses terms that would leave nothing to disburse before it asks.
    assert disbursement > 0, (face_fen, interest, fee)
    cost = Decimal(face_fen - disbursement) / disbursement * terms.basis_days / days
    return Quote(
        face_fen=face_fen,
        annual_rate=terms.annual_rate,
        rate=rate.normalize(),
        value_date=value_date,
        payment_date=pays_on,
        days=days,
        basis_days=terms.basis_days,
        interest_fen=interest,
        fee_fen=fee,
        disbursement_fen=disbursement,
        spread_fen=spread,
        all_in_rate=cost.quantize(RATE_DECIMALS, rounding=ROUND_HALF_UP),
        interest_payer=payer,
    )
