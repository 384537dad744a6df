"""Unified social credit codes (统一社会信用代码, GB 32100-2015): member ids.

Every enterprise in China has one 18-character code. The last character is a check
character over the first 17, computed in base 31 over the alphabet below (which
leaves out I, O, Z, S and V) with weights ``3^i mod 31``::

    >>> is_valid_uscc("91350100M000100Y43")
    True
    >>> is_valid_uscc("91350100M000100Y44")
    False
    >>> uscc_problem("91350100M000100Y44")
    'its check character is 4 where 3 was expected: a mistyped character, or a made-up code'
    >>> is_valid_uscc(example_uscc())
    True
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_LENGTH = 18


def check_character(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a code."""
    assert len(first17) == USCC_LENGTH - 1 and all(c in _VALUE for c in first17), first17
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: object) -> bool:
    if not isinstance(code, str) or len(code) != USCC_LENGTH:
        return False
    if any(char not in _VALUE for char in code):
        return False
    return check_character(code[:17]) == code[17]


def make_uscc(first17: str) -> str:
    """Complete 17 characters into a valid code (for tests, demos and tools)."""
    return first17 + check_character(first17)


def uscc_problem(code: str) -> str | None:
    """What is wrong with ``code`` as a USCC, in words, or None when it is valid."""
    if len(code) != USCC_LENGTH:
        return f"a USCC is {USCC_LENGTH} characters, this is {len(code)}"
    wrong = sorted({char for char in code if char not in _VALUE})
    if wrong:
        return (
            f"{''.join(wrong)!r} cannot appear in a USCC: digits and capital letters "
            "but I, O, Z, S and V"
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        return (
            f"its check character is {code[17]} where {expected} was expected: a mistyped "
            "character, or a made-up code"
        )
    return None


EXAMPLE_PREFIX = "91350100"  # an enterprise ("9", "1") registered in Fuzhou (350100)


def example_uscc() -> str:
    """A valid code with a random organisation part, for trying things out (``dcc id
    --example``): never a real firm's but by chance."""
    organisation = "".join(secrets.choice(ALPHABET) for _ in range(17 - len(EXAMPLE_PREFIX)))
    return make_uscc(EXAMPLE_PREFIX + organisation)
