"""The wire format of every write: a signed command envelope.

::

    {"command": {"type": "member.admit", "ledger": "<64 hex: the ledger's id>",
                 "signer": "91350100M000100Y43",
                 "key_id": "<32 hex>", "nonce": "<16-64 url-safe chars>",
                 "issued_at": "2026-11-22T08:00:00Z", "body": {...}},
     "signature": "<base64url Ed25519 over the RFC 8785 bytes of command>"}

:func:`parse_envelope` turns untrusted bytes into a :class:`Command` or raises a
``validation`` :class:`~ledger.errors.Refusal` naming the field. The signature is
*not* checked here (that needs the signer's key); :func:`signed_bytes` gives the exact
bytes it covers. The body model of each command type is declared in ``ledger.catalog``.

Field types shared by bodies live here too: :data:`Amount` (wire string → int fen),
:data:`MemberId`, :data:`PublicKey`, :data:`Text`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ledger import limits
from ledger.canonical import JsonError, canonical_bytes, find_float, parse_json
from ledger.errors import Refusal
from ledger.keys import KeyError_, decode_public_key
from ledger.money import AmountError, parse_amount
from ledger.uscc import is_valid_uscc

NONCE_PATTERN = rf"^[A-Za-z0-9_-]{{{limits.NONCE_LENGTH_MIN},{limits.NONCE_LENGTH_MAX}}}$"
KEY_ID_PATTERN = r"^[0-9a-f]{32}$"
LEDGER_ID_PATTERN = r"^[0-9a-f]{64}$"
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Free text is shown to people as it is, so text that can display as something it is not
# is refused: control characters (Cc: NUL above all, which PostgreSQL text cannot hold,
# and the C1 range), format characters (Cf: bidirectional overrides such as U+202E,
# zero-width joiners, the BOM), line and paragraph separators (Zl, Zp), and text not in
# Unicode normal form C (NFC); lone surrogates (Cs), which no UTF-8 text can hold, too.
# Non-NFC text is refused rather than normalised: the signature covers the command as
# signed, and the stored text must be those bytes. A memo may span lines: tab, LF and
# CR are its only allowed controls.
# Co (private use) and Cn (unassigned, noncharacters included) display as anything a
# font chooses; Zs other than the ASCII space (no-break, ideographic, em spaces…) look
# like a space and are not one.
_DECEPTIVE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn", "Zs"})
_SPACE = " "
# Letters and marks that render as nothing, though their categories are ordinary: the
# Hangul fillers, the Braille blank, the combining grapheme joiner, the Khmer inherent
# vowels, Mongolian free variation selectors, variation selectors, the object
# replacement character.
_INVISIBLE = frozenset(
    "ᅟᅠㅤﾠ⠀͏឴឵᠋᠌᠍᠏￼"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
COMBINING_MARKS_RUN_MAX = 3  # after NFC, no script needs more on one base character
_MEMO_CONTROLS = frozenset("\t\n\r")
INVALID_AMOUNT = "invalid_amount"  # pydantic error type of a bad wire amount


class WireModel(BaseModel):
    """Base of every wire model: unknown fields refused, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _amount(value: object) -> int:
    try:
        return parse_amount(value)
    except AmountError as exc:
        raise PydanticCustomError(INVALID_AMOUNT, str(exc)) from exc


def _deceptive(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why ``value`` could deceive a reader, or None when it cannot.

    >>> _deceptive("Tier 1 Steel") is None
    True
    >>> _deceptive("abc\u202edef")
    'U+202E (category Cf) is not allowed'
    >>> _deceptive("Cafe\u0301")
    'text must be in Unicode normal form C (NFC)'
    >>> _deceptive("Core\u3164Builder")
    'U+3164 displays as nothing and is not allowed'
    >>> _deceptive(" Core Builder")
    'text must not begin or end with a space, nor hold two in a row'
    """
    marks = 0
    for char in value:
        category = unicodedata.category(char)
        if char in allowed or char == _SPACE:
            marks = 0
            continue
        if category in _DECEPTIVE_CATEGORIES:
            return f"U+{ord(char):04X} (category {category}) is not allowed"
        if char in _INVISIBLE:
            return f"U+{ord(char):04X} displays as nothing and is not allowed"
        marks = marks + 1 if category in ("Mn", "Me") else 0
        if marks > COMBINING_MARKS_RUN_MAX:
            return f"more than {COMBINING_MARKS_RUN_MAX} combining marks on one character"
    # A name or reference that differs from another only in spaces would look the same;
    # a memo is prose, and may be laid out as its writer likes.
    if not allowed and (value != value.strip(_SPACE) or "  " in value):
        return "text must not begin or end with a space, nor hold two in a row"
    if not unicodedata.is_normalized("NFC", value):
        return "text must be in Unicode normal form C (NFC)"
    return None


def _single_line(value: str) -> str:
    reason = _deceptive(value)
    if reason is not None:
        raise ValueError(f"{reason}: control, format and separator characters are refused")
    return value


def _multi_line(value: str) -> str:
    reason = _deceptive(value, _MEMO_CONTROLS)
    if reason is not None:
        raise ValueError(f"{reason}: of the controls only tab and line breaks are allowed")
    return value


def _member_id(value: str) -> str:
    if not is_valid_uscc(value):
        raise ValueError(
            "not a valid unified social credit code (18 characters, GB 32100-2015 check)"
        )
    return value


def _public_key(value: str) -> str:
    try:
        decode_public_key(value)
    except KeyError_ as exc:
        raise ValueError(str(exc)) from exc
    return value


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError('expected an RFC 3339 time with offset, e.g. "2026-11-22T08:00:00Z"')
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # year 1 at +01:00 is before datetime.min
        raise ValueError(f"not a valid time: {exc}") from exc


def _date(value: object) -> date:
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
        raise ValueError('expected a date as "YYYY-MM-DD"')
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a valid date: {exc}") from exc


def _amount_or_zero(value: object) -> int:
    try:
        return parse_amount(value, allow_zero=True)
    except AmountError as exc:
        raise PydanticCustomError(INVALID_AMOUNT, str(exc)) from exc


# How an amount travels, for the OpenAPI document: the model holds int fen, the wire a
# decimal string (ledger.money), and the schema must describe the wire.
AMOUNT_JSON_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$",
        "description": "yuan as a decimal string with at most two decimals, never a number",
        "examples": ["1000.00"],
    }
)
Amount = Annotated[int, BeforeValidator(_amount), AMOUNT_JSON_SCHEMA]
AmountOrZero = Annotated[int, BeforeValidator(_amount_or_zero), AMOUNT_JSON_SCHEMA]
MemberId = Annotated[str, AfterValidator(_member_id)]
PublicKey = Annotated[str, AfterValidator(_public_key)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
Date = Annotated[date, BeforeValidator(_date)]
Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MEMBER_NAME_LENGTH_MAX),
    AfterValidator(_single_line),
]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.REFERENCE_LENGTH_MAX),
    AfterValidator(_single_line),
]
KeyName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.KEY_NAME_LENGTH_MAX),
    AfterValidator(_single_line),
]
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.KEY_RESET_REASON_LENGTH_MAX),
    AfterValidator(_single_line),
]


def rate_parser(decimals: int, high: str, example: str, zero: bool = False) -> Any:
    """A rate as it travels: a decimal string of ``0.`` and at most ``decimals``
    decimals (never a JSON number, never float), above 0 (or at least 0 with ``zero``)
    and at most ``high``; a ``Decimal`` inside (for a ``BeforeValidator``).

    >>> rate_parser(6, "0.36", "0.0385")("0.0385")
    Decimal('0.0385')
    """
    pattern = re.compile(rf"0\.[0-9]{{1,{decimals}}}")

    def parse(value: object) -> Decimal:
        if not isinstance(value, str):
            raise ValueError(f'a rate is a decimal string such as "{example}", not a JSON number')
        if pattern.fullmatch(value) is None:
            raise ValueError(f'a rate is written "0." and at most {decimals} decimals')
        rate = Decimal(value)
        low_ok = rate >= 0 if zero else rate > 0
        if not low_ok or rate > Decimal(high):
            raise ValueError(
                f"a rate must be {'at least' if zero else 'above'} 0 and at most {high}"
            )
        return rate

    return parse


def rate_json_schema(decimals: int, example: str) -> WithJsonSchema:
    """A rate's schema on the wire (a decimal string), for a field parsed by
    :func:`rate_parser`."""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^0\.[0-9]{{1,{decimals}}}$",
            "description": "a rate as a decimal string, never a number",
            "examples": [example],
        }
    )


Memo = Annotated[
    str, StringConstraints(max_length=limits.MEMO_LENGTH_MAX), AfterValidator(_multi_line)
]


class Envelope(WireModel):
    command: dict[str, Any]
    signature: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Header(WireModel):
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # The ledger the signer meant: the genesis entry's hash (ledger.signing). Commands in
    # the journal from before this field existed keep verifying: the auditor checks a
    # signature over the command as stored, and never parses it with this model.
    ledger: Annotated[str, StringConstraints(pattern=LEDGER_ID_PATTERN)]
    signer: MemberId
    key_id: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]
    nonce: Annotated[str, StringConstraints(pattern=NONCE_PATTERN)]
    issued_at: Timestamp
    body: dict[str, Any]


@dataclass(frozen=True)
class Command:
    """A parsed, well-formed (not yet authenticated) command."""

    type: str
    ledger: str
    signer: str
    key_id: str
    nonce: str
    issued_at: datetime
    body: Any  # the registered body model of ``type``
    raw: dict[str, Any]  # the command object exactly as signed
    signature: str
    signed: bytes  # RFC 8785 bytes of ``raw``: what the signature covers, computed once


M = TypeVar("M", bound=BaseModel)


class Declared(Protocol):
    """What the parser needs of a declared command type (``ledger.catalog``)."""

    @property
    def body(self) -> type[WireModel]: ...


def signed_bytes(raw_command: dict[str, Any]) -> bytes:
    """The bytes a command's signature covers: RFC 8785 of the command object."""
    return canonical_bytes(raw_command)


def parse_envelope(
    data: bytes | dict[str, Any],
    declared: Mapping[str, Declared],
    *,
    signed: bytes | None = None,
) -> Command:
    """Parse an envelope of one of the ``declared`` command types; raise a
    ``validation``/``unknown-command`` refusal if malformed. ``signed``: the RFC 8785
    bytes of the envelope's command, when the caller has them (the journal's stored
    text, parsed by ``parse_canonical``, so free of floats): not made again."""
    try:
        value = parse_json(data, mark_floats=True) if isinstance(data, bytes | str) else data
    except JsonError as exc:
        raise Refusal("validation", str(exc)) from exc
    envelope = validate_model(Envelope, value, "")
    header = validate_model(Header, envelope.command, "command.")
    kind = declared.get(header.type)
    if kind is None:
        raise Refusal(
            "unknown-command", f"unknown command type {header.type!r}", known=sorted(declared)
        )
    body = validate_model(kind.body, header.body, "command.body.")
    if signed is None:
        stray = find_float(envelope.command)
        if stray is not None:  # every model refuses one; this is the belt to those braces
            raise Refusal(
                "validation", f"JSON numbers with a fraction are not accepted ({stray.text})"
            )
        try:
            signed = canonical_bytes(envelope.command)
        except JsonError as exc:
            raise Refusal("validation", str(exc)) from exc
    return Command(
        type=header.type,
        ledger=header.ledger,
        signer=header.signer,
        key_id=header.key_id,
        nonce=header.nonce,
        issued_at=header.issued_at,
        body=body,
        raw=envelope.command,
        signature=envelope.signature,
        signed=signed,
    )


def validate_model(model: type[M], value: object, prefix: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [
            {
                "field": prefix + ".".join(str(part) for part in error["loc"]) or "(root)",
                "message": error["msg"].removeprefix("Value error, "),
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]
        # A bad amount has a type of its own; any other malformation is ``validation``.
        type_ = "invalid-amount" if exc.errors()[0]["type"] == INVALID_AMOUNT else "validation"
        raise Refusal(type_, f"{first['field']}: {first['message']}", errors=errors) from exc


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``: the one format the journal writes."""
    assert moment.tzinfo is not None, moment
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
