"""Free-text field types: what a name, a reference and a memo may hold (no database)."""

from __future__ import annotations

import doctest
import unicodedata

import pytest
from pydantic import TypeAdapter, ValidationError

import ledger.commands
from ledger.commands import Memo, Reference, Text

TEXT = TypeAdapter(Text)
REFERENCE = TypeAdapter(Reference)
MEMO = TypeAdapter(Memo)

ACCEPTED = ["Tier 1 Steel", "福州钢铁有限公司", "Café", "Ørsted A/S", "HT-2026-001", "Ω", "한국"]

# One example per category the fields refuse, beyond the C0 controls refused before.
REFUSED = {
    "C1 control (Cc)": "a\u0085b",
    "right-to-left override (Cf)": "abc\u202edef",
    "left-to-right embedding (Cf)": "abc\u202adef",
    "first strong isolate (Cf)": "abc\u2068def",
    "zero width joiner (Cf)": "a\u200db",
    "zero width non-joiner (Cf)": "a\u200cb",
    "zero width space (Cf)": "a\u200bb",
    "byte order mark (Cf)": "\ufeffabc",
    "soft hyphen (Cf)": "ab\u00adc",
    "line separator (Zl)": "a\u2028b",
    "paragraph separator (Zp)": "a\u2029b",
    "lone surrogate (Cs)": "a\ud800b",
    "decomposed (not NFC)": "Cafe\u0301",
    "Hangul jamo (not NFC)": "\u1112\u1161\u11ab",
    "Kelvin sign (not NFC)": "\u212a",
}


@pytest.mark.parametrize("value", ACCEPTED)
def test_ordinary_text_passes_every_field_unchanged(value: str) -> None:
    assert TEXT.validate_python(value) == value
    assert REFERENCE.validate_python(value) == value
    assert MEMO.validate_python(value) == value


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_deceptive_text_is_refused_by_every_field(value: str) -> None:
    for field in (TEXT, REFERENCE, MEMO):
        with pytest.raises(ValidationError):
            field.validate_python(value)


def test_only_a_memo_keeps_tab_and_line_breaks() -> None:
    for value in ("a\tb", "a\nb", "a\r\nb"):
        assert MEMO.validate_python(value) == value
        with pytest.raises(ValidationError):
            TEXT.validate_python(value)
        with pytest.raises(ValidationError):
            REFERENCE.validate_python(value)
    for value in ("a\x00b", "a\x0bb", "a\x7fb"):
        with pytest.raises(ValidationError):
            MEMO.validate_python(value)


def test_every_format_and_separator_character_is_refused() -> None:
    """The whole of Cc, Cf, Cs, Zl and Zp, not only the examples above."""
    for code_point in range(0x110000):
        char = chr(code_point)
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in "\t\n\r":
            with pytest.raises(ValidationError):
                MEMO.validate_python(f"a{char}b")


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(ledger.commands)
    assert result.attempted > 0 and result.failed == 0


# Found by an attack on the hardened fields: characters of ordinary-looking categories
# that display as nothing or as a space, private-use and unassigned code points, and
# stacks of combining marks.
INVISIBLE_OR_BLANK = {
    "Hangul filler": "Core\u3164Builder",
    "Hangul choseong filler": "a\u115fb",
    "halfwidth Hangul filler": "a\uffa0b",
    "Braille blank": "a\u2800b",
    "combining grapheme joiner": "a\u034fb",
    "variation selector 16": "a\ufe0fb",
    "Khmer inherent vowel": "a\u17b4b",
    "object replacement": "a\ufffcb",
    "no-break space (Zs)": "Core\u00a0Builder",
    "ideographic space (Zs)": "Core\u3000Builder",
    "private use (Co)": "a\ue000b",
    "unassigned / noncharacter (Cn)": "a\uffffb",
    "four combining marks": "a\u0336\u0336\u0336\u0336",
}


@pytest.mark.parametrize("value", INVISIBLE_OR_BLANK.values(), ids=INVISIBLE_OR_BLANK.keys())
def test_invisible_and_blank_lookalikes_are_refused_by_every_field(value: str) -> None:
    for field in (TEXT, REFERENCE, MEMO):
        with pytest.raises(ValidationError):
            field.validate_python(value)


@pytest.mark.parametrize("value", [" Core", "Core ", "Core  Builder", " "])
def test_names_and_references_differ_in_more_than_spaces(value: str) -> None:
    for field in (TEXT, REFERENCE):
        with pytest.raises(ValidationError):
            field.validate_python(value)


def test_scripts_that_stack_marks_and_single_spaces_pass() -> None:
    for value in ("ก่ำ", "क्षि", "Nguyễn Văn A", "Core Builder Group"):  # Thai, Devanagari
        assert TEXT.validate_python(value) == value
    assert MEMO.validate_python("line one \n  indented") == "line one \n  indented"
