"""Canonical JSON bytes (RFC 8785, JCS) and the hashes built on them.

Two parties that hold the same JSON value must agree on its bytes before they can
agree on a signature or a hash. JCS fixes those bytes: keys sorted by UTF-16 code
units, no insignificant white space, minimal string escapes::

    >>> canonical_bytes({"b": 1, "a": "x"})
    b'{"a":"x","b":1}'

Commands are signed over these bytes, and every journal entry is hashed over them.

The `rfc8785` package is the reference. For the values the ledger writes (ASCII keys,
integers within ±(2^53 − 1), no floats) RFC 8785 is exactly JSON with sorted keys and
no white space, which ``orjson`` produces about a hundred times faster; anything outside
those limits goes to the reference (a property test holds the two to the same bytes).

:func:`parse_json` is the only way untrusted JSON enters the ledger: it refuses
floats (money is never a JSON number), NaN and Infinity, and duplicate keys (two
parsers could disagree on which one wins, and so on what was signed).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import rfc8785

JsonValue = Any  # a value made of dict, list, str, int, bool and None only


class JsonError(ValueError):
    """Untrusted JSON that the ledger will not read, with a message for the client."""


SAFE_INTEGER_MAX = 2**53 - 1  # beyond it an RFC 8785 number is no longer exact


def canonical_bytes(value: JsonValue) -> bytes:
    """The RFC 8785 bytes of ``value``."""
    if _sorted_json_is_canonical(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: let the reference refuse it
            pass
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise JsonError(f"value cannot be canonicalised: {exc}") from exc


def _sorted_json_is_canonical(value: JsonValue) -> bool:
    """True when sorted, compact JSON of ``value`` is its RFC 8785 form: keys that sort
    the same by UTF-16 code units as by code points (ASCII), no floats, exact integers.
    (A walk with a stack, not recursion: it runs over every entry's effects.)"""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if not -SAFE_INTEGER_MAX <= item <= SAFE_INTEGER_MAX:
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif not isinstance(item, str):  # a float, anything else: the reference decides
            return False
    return True


def parse_canonical(text: str) -> tuple[JsonValue, bool]:
    """Parse stored JSON ``text`` as :func:`parse_json` does, and tell whether it is the
    RFC 8785 form of its value. The auditor runs this over every entry: sorted JSON of a
    value within the fast path's limits is checked against the bytes in C, so the text is
    neither parsed nor canonicalised twice. (Duplicate keys and floats leave the fast
    path — a re-encoding would differ, or the walk refuses — and are decided below.)"""
    try:
        data = text.encode("utf-8")
        value = orjson.loads(data)
    except (UnicodeEncodeError, orjson.JSONDecodeError):
        pass
    else:
        if (
            _sorted_json_is_canonical(value)
            and orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == data
        ):
            return value, True
    value = parse_json(text)
    try:
        return value, canonical_text(value) == text
    except JsonError:  # a value without an RFC 8785 form (an integer past 2^53)
        return value, False


def column_text(value: JsonValue) -> str:
    """JSON text of a value for a projection's column (a trade, a list of ids): sorted
    and compact, which is its RFC 8785 form for the values rules make (ASCII keys, exact
    integers, no floats), without walking it to make sure — the writer and the auditor
    both store and compare this text, and it is never signed or hashed."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def load_canonical(text: str) -> JsonValue:
    """Parse ``text`` that :func:`parse_canonical` found canonical (so free of floats and
    duplicate keys): the fast parser alone gives the same value."""
    return orjson.loads(text)


def canonical_text(value: JsonValue) -> str:
    """The RFC 8785 form of ``value`` as text (how the journal stores JSON)."""
    return canonical_bytes(value).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_value(value: JsonValue) -> str:
    """SHA-256 over the canonical bytes of ``value``, as 64 hex characters."""
    return sha256_hex(canonical_bytes(value))


class JsonFloat:
    """A JSON number with a fraction or exponent, kept as text so that validation can
    refuse it with the field's name; it is never arithmetic."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JSON number {self.text}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonFloat) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _refuse_float(text: str) -> float:
    raise JsonError(f"JSON numbers with a fraction or exponent are not accepted ({text})")


def find_float(value: JsonValue) -> JsonFloat | None:
    """The first :class:`JsonFloat` inside ``value``, if any."""
    if isinstance(value, JsonFloat):
        return value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        found = find_float(child)
        if found is not None:
            return found
    return None


def _refuse_constant(text: str) -> float:
    raise JsonError(f"{text} is not JSON")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(data: bytes | str, *, mark_floats: bool = False) -> JsonValue:
    """Parse untrusted JSON, refusing NaN/Infinity, duplicate keys and floats (or, with
    ``mark_floats``, keeping each float as a :class:`JsonFloat` for validation to refuse).

    Bytes must be UTF-8 without a byte-order mark (RFC 8259 §8.1), which is also what
    the signature covers: ``json.loads`` would otherwise guess UTF-16 or UTF-32.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"body is not UTF-8: {exc}") from exc
        if data.startswith("\ufeff"):
            raise JsonError("body starts with a byte-order mark; send UTF-8 without one")
    try:
        return json.loads(
            data,
            parse_float=JsonFloat if mark_floats else _refuse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except JsonError:
        raise
    except (ValueError, RecursionError) as exc:
        raise JsonError(f"body is not valid JSON: {exc}") from exc
