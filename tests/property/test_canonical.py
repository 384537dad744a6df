"""Canonical bytes: deterministic, order-independent, and refusing what must not pass."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import JsonError, canonical_bytes, parse_json

SAFE_INT = 2**53 - 1
ascii_keys = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8)
scalars = st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ascii_keys, children, max_size=4)
    ),
    max_leaves=20,
)


def shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@given(values, st.randoms())
def test_key_order_does_not_change_the_bytes(value: object, rng: random.Random) -> None:
    assert canonical_bytes(shuffled(value, rng)) == canonical_bytes(value)


@given(values)
def test_bytes_parse_back_to_the_value(value: object) -> None:
    assert parse_json(canonical_bytes(value)) == value


@given(values)
def test_agrees_with_sorted_compact_json_for_ascii_keys(value: object) -> None:
    """For ASCII keys and no floats, RFC 8785 is json.dumps with sorted keys, no spaces."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_sorting_is_by_utf16_code_units() -> None:
    # U+10000 is a surrogate pair (D800 DC00) in UTF-16 and sorts before U+FFFF there,
    # although it sorts after it by code point.
    assert canonical_bytes({"\U00010000": 1, "\uffff": 2}) == '{"\U00010000":1,"\uffff":2}'.encode()


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1.5}',
        '{"a": 1e3}',
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": 1, "a": 2}',
        "{",
        "",
        '{"a": "\\ud800"}x',
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(JsonError):
        parse_json(text)


def test_large_integers_are_refused_by_canonicalisation() -> None:
    with pytest.raises(JsonError):
        canonical_bytes({"a": 2**60})


@given(
    st.integers(min_value=1, max_value=2**53 - 1),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(max_size=40),
    st.dictionaries(ascii_keys, values, max_size=5),
    st.none() | st.text(max_size=90),
    st.dictionaries(ascii_keys, values, max_size=5),
)
def test_an_entry_hash_is_sha256_of_rfc8785_of_the_entry_without_its_hash(
    seq: int, prev_hash: str, recorded_at: str, command: dict, signature: str | None, effects: dict
) -> None:
    """The published rule (docs/architecture.md), computed with the `rfc8785` package and
    hashlib alone: the writer's composed bytes and its hash must equal it."""
    from ledger.chain import entry_bytes, make_entry

    spec = {
        "seq": seq,
        "prev_hash": prev_hash,
        "recorded_at": recorded_at,
        "command": command,
        "signature": signature,
        "effects": effects,
    }
    expected = rfc8785.dumps(spec)
    composed = entry_bytes(
        seq, prev_hash, recorded_at, rfc8785.dumps(command), signature, rfc8785.dumps(effects)
    )
    assert composed == expected
    entry, command_bytes, effects_bytes = make_entry(
        seq, prev_hash, recorded_at, command, signature, effects
    )
    assert entry.entry_hash == hashlib.sha256(expected).hexdigest()
    assert (command_bytes, effects_bytes) == (rfc8785.dumps(command), rfc8785.dumps(effects))


# Anything JSON can hold, and some things it cannot: non-ASCII and astral keys (sorted
# differently by code point and by UTF-16), integers past 2^53, floats, lone surrogates.
any_keys = st.text(max_size=6)
any_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**53) - 2, -(2**53) + 2)
    | st.integers(2**53 - 2, 2**53 + 2)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["\ud800", "\U00010000", "\u2028", "\x7f", "\x00"])
)
any_values = st.recursive(
    any_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(any_keys | st.sampled_from(["\U00010000", "\uffff", "é"]), children)
    ),
    max_leaves=12,
)


def _reference(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except Exception:
        return None


@given(st.one_of(values, any_values))
def test_the_fast_path_gives_the_reference_bytes_or_the_same_refusal(value: object) -> None:
    """canonical_bytes takes a fast path for the values the ledger writes; whatever the
    value, it must give exactly rfc8785's bytes, or refuse when rfc8785 refuses."""
    expected = _reference(value)
    if expected is None:
        with pytest.raises(JsonError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    "data",
    [
        '{"a": "b"}'.encode("utf-16"),
        '{"a": "b"}'.encode("utf-16-le"),
        '{"a": "b"}'.encode("utf-32"),
        b"\xef\xbb\xbf" + b'{"a": "b"}',  # UTF-8 with a byte-order mark
        b'{"a": "\xff"}',
    ],
)
def test_json_bytes_are_utf8_without_a_byte_order_mark(data: bytes) -> None:
    with pytest.raises(JsonError):
        parse_json(data)
    assert parse_json(b'{"a": "b"}') == {"a": "b"}


def _texts_of(value: object) -> list[str]:
    """Texts of ``value`` in several spellings: the reference's, and others that parse to
    the same value but are not its RFC 8785 form (unless they happen to coincide)."""
    texts = [json.dumps(value), json.dumps(value, sort_keys=True, separators=(",", ":"))]
    with contextlib.suppress(Exception):  # the reference refuses it: no canonical text
        texts.append(rfc8785.dumps(value).decode("utf-8"))
    return texts


@given(st.one_of(values, any_values))
def test_parse_canonical_agrees_with_parse_json_and_the_reference(value: object) -> None:
    """The auditor's one-pass parse must answer exactly what parsing with ``parse_json``
    and comparing with the reference's bytes would: the value (or the same refusal), and
    whether the text is canonical."""
    from ledger.canonical import parse_canonical

    for text in _texts_of(value):
        try:
            expected = parse_json(text)
        except JsonError:
            with pytest.raises(JsonError):
                parse_canonical(text)
            continue
        canonical = _reference(expected)
        assert parse_canonical(text) == (
            expected,
            canonical is not None and canonical == text.encode("utf-8"),
        )


@pytest.mark.parametrize(
    "text",
    ['{"a":1,"a":2}', '{"a":1.5}', '{"a":NaN}', '{"a":1}x'],
)
def test_parse_canonical_refuses_what_parse_json_refuses(text: str) -> None:
    from ledger.canonical import parse_canonical

    with pytest.raises(JsonError):
        parse_canonical(text)


def test_parse_canonical_tells_non_canonical_text() -> None:
    from ledger.canonical import parse_canonical

    assert parse_canonical('{"b":1,"a":2}') == ({"b": 1, "a": 2}, False)
    assert parse_canonical('{"a":2,"b":1}') == ({"a": 2, "b": 1}, True)
    assert parse_canonical('{"a":9007199254740993}') == ({"a": 2**53 + 1}, False)
    assert parse_canonical('{"\\u00e9":1}') == ({"é": 1}, False)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('{"a":9007199254740991}', True),  # 16 digits, still exact
        ('{"a":-9007199254740991}', True),
        ('{"a":[1,-9007199254740992]}', False),
        ('{"a":10000000000000000}', False),
        ('{"a":"x:1.5","b":"[2e3"}', True),  # a float's look inside a string
        ('{"z":1,"é":"x"}', True),  # not ASCII: the reference decides
        ('{"a":"é"}', True),
        ('{"a":1,"b":[2,3],"c":{"d":-4}}', True),
    ],
)
def test_parse_canonical_at_the_edges_of_its_fast_path(text: str, canonical: bool) -> None:
    from ledger.canonical import parse_canonical

    assert parse_canonical(text) == (json.loads(text), canonical)


@pytest.mark.parametrize("text", ['{"a":1.5}', "[1e5]", '{"a":[0,-2.5E3]}', "1.0"])
def test_parse_canonical_finds_every_float(text: str) -> None:
    from ledger.canonical import parse_canonical

    with pytest.raises(JsonError):
        parse_canonical(text)
