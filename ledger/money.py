"""Money: an integer count of fen inside, a decimal string on the wire.

One yuan is 100 fen. Every amount the ledger stores or adds is a Python ``int`` of
fen, so ``0.1 + 0.2`` problems cannot happen. On the wire an amount is a JSON
*string* with at most two decimals::

    >>> parse_amount("12500.50")
    1250050
    >>> format_fen(1250050)
    '12500.50'

A JSON number (``12500.5``), a negative, three decimals, an exponent, or more than
``AMOUNT_FEN_MAX`` fen is refused with :class:`AmountError`, whose message says why.

Interest follows the market convention for discounting: ``face × rate × days / 360``,
rounded half-up to the fen; the rate is a decimal string (``"0.0385"``) and the
arithmetic is done in :class:`decimal.Decimal`, never in binary floating point.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ledger.limits import AMOUNT_FEN_MAX

_AMOUNT_RE = re.compile(r"(0|[1-9][0-9]{0,15})(?:\.([0-9]{1,2}))?")
_RATE_RE = re.compile(r"(0|[1-9][0-9]{0,2})(?:\.([0-9]{1,8}))?")

DAYS_IN_YEAR_BASIS = 360


class AmountError(ValueError):
    """A wire amount or rate that is not acceptable, with a message for the client."""


def parse_amount(text: object, *, allow_zero: bool = False) -> int:
    """Parse a wire amount (a decimal string of yuan) into integer fen."""
    if not isinstance(text, str):
        kind = "a JSON number" if not isinstance(text, bool | list | dict | None) else "that"
        raise AmountError(f'amount must be a decimal string such as "12500.50", not {kind}')
    match = _AMOUNT_RE.fullmatch(text)
    if match is None and text.startswith("-"):
        raise AmountError(f"amount {text!r} is negative; amounts are positive decimal strings")
    if match is None:
        raise AmountError(
            f'amount {text!r} is not a plain decimal with at most two decimals, such as "12500.50"'
        )
    yuan, decimals = match.group(1), match.group(2) or ""
    fen = int(yuan) * 100 + int(decimals.ljust(2, "0"))
    if fen == 0 and not allow_zero:
        raise AmountError("amount must be greater than zero")
    if fen > AMOUNT_FEN_MAX:
        raise AmountError(f"amount exceeds the maximum of {format_fen(AMOUNT_FEN_MAX)}")
    return fen


def format_fen(amount_fen: int) -> str:
    """Format integer fen as a wire amount: always two decimals, ``-`` for negatives."""
    assert isinstance(amount_fen, int) and not isinstance(amount_fen, bool), amount_fen
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{yuan}.{fen:02d}"


def parse_rate(text: object) -> Decimal:
    """Parse an annual rate given as a decimal string (``"0.0385"`` is 3.85 %)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise AmountError('rate must be a decimal string such as "0.0385"')
    if _RATE_RE.fullmatch(text) is None:
        raise AmountError(f"rate {text!r} is not a plain decimal with at most eight decimals")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid text
        raise AmountError(f"rate {text!r} is not a decimal") from exc


def interest_fen(
    face_fen: int, annual_rate: Decimal, days: int, basis_days: int = DAYS_IN_YEAR_BASIS
) -> int:
    """Interest on ``face_fen`` for ``days`` at ``annual_rate``, actual/``basis_days``
    (360 by market convention, 365 where agreed), rounded half-up to the fen."""
    assert face_fen >= 0 and days >= 0 and basis_days in (360, 365), (face_fen, days)
    return half_up(Decimal(face_fen) * annual_rate * Decimal(days) / Decimal(basis_days))


def half_up(exact: Decimal) -> int:
    """``exact`` fen rounded half-up to a whole fen (0.5 fen rounds away from zero)."""
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
