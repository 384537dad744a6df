"""Member ids (GB 32100-2015), keys and key ids."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.keys import (
    KeyError_,
    b64url_decode,
    b64url_encode,
    decode_public_key,
    generate_private_key,
    key_id_of,
    public_key_b64,
    public_key_raw,
    sign,
    verify,
)
from ledger.uscc import ALPHABET, is_valid_uscc, make_uscc

codes = st.text(alphabet=ALPHABET, min_size=17, max_size=17).map(make_uscc)


def test_the_published_example_is_valid() -> None:
    assert is_valid_uscc("91350100M000100Y43")


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",
        "91350100M000100Y4",
        "91350100M000100Y430",
        "91350100m000100Y43",
        "91350100I000100Y43",
        "",
        None,
        91350100,
    ],
)
def test_invalid_codes(code: object) -> None:
    assert not is_valid_uscc(code)


@given(codes, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_detected(code: str, position: int, char: str) -> None:
    """The weights 3^i mod 31 are non-zero mod the prime 31, so one changed character
    always changes the check sum."""
    assert is_valid_uscc(code)
    changed = code[:position] + char + code[position + 1 :]
    assert is_valid_uscc(changed) == (changed == code)


def test_key_id_is_the_first_32_hex_of_sha256_of_the_raw_key() -> None:
    private = generate_private_key()
    raw = public_key_raw(private.public_key())
    assert key_id_of(public_key_b64(private.public_key())) == hashlib.sha256(raw).hexdigest()[:32]


def test_signatures_verify_only_for_the_right_key_and_message() -> None:
    a, b = generate_private_key(), generate_private_key()
    signature = sign(a, b"message")
    assert verify(public_key_b64(a.public_key()), signature, b"message")
    assert not verify(public_key_b64(a.public_key()), signature, b"messagE")
    assert not verify(public_key_b64(b.public_key()), signature, b"message")
    assert not verify(public_key_b64(a.public_key()), "not-base64!", b"message")
    assert not verify(public_key_b64(a.public_key()), signature[:-4], b"message")


@given(st.binary(max_size=80))
def test_base64url_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["AAAA=", "ab+/", "ab cd", "é", "AB", "A"])
def test_base64url_refuses_other_alphabets(text: str) -> None:
    with pytest.raises(KeyError_):
        b64url_decode(text)


def test_public_key_must_be_32_bytes() -> None:
    with pytest.raises(KeyError_):
        decode_public_key(b64url_encode(b"\x01" * 31))
