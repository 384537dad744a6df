"""The growth limits as pure rules: a table of cases, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.certificates import RootPieces, check_live_pieces, check_root_room
from ledger.context import Context
from ledger.errors import Refusal
from ledger.settings import Settings

CTX = Context(9, datetime(2026, 11, 26, tzinfo=UTC), "0" * 64, Settings(root_pieces_max=300))


@pytest.mark.parametrize(
    ("pieces", "pending", "created", "reserved", "refused"),
    [
        (1, 0, 299, 0, False),  # exactly full
        (1, 0, 300, 0, True),
        (200, 50, 40, 10, False),  # 250 used (pending returns reserved) + 50 = 300
        (200, 50, 41, 10, True),
        (299, 1, 1, 0, True),  # the reserved return of a pending piece takes the room
        (300, 0, 0, 0, False),  # nothing created: never refused
    ],
)
def test_a_root_has_room_for_what_a_command_creates_and_reserves(
    pieces: int, pending: int, created: int, reserved: int, refused: bool
) -> None:
    used = RootPieces(pieces, pending)
    if refused:
        with pytest.raises(Refusal) as refusal:
            check_root_room(used, "r" * 32, created, reserved, CTX)
        assert refusal.value.type == "root-pieces-exceeded"
    else:
        check_root_room(used, "r" * 32, created, reserved, CTX)


@pytest.mark.parametrize(
    ("live", "gained", "refused"),
    [
        ({"A": 20_000}, {"A": 0}, False),  # at the limit, unchanged
        ({"A": 20_000}, {"A": -1, "B": 1}, False),  # giving away is always allowed
        ({"A": 19_999}, {"A": 1}, False),
        ({"A": 20_000}, {"A": 1}, True),
        ({"A": 5, "B": 19_990}, {"A": 1, "B": 11}, True),  # the recipient is full
        ({}, {"C": 20_001}, True),  # a member with nothing yet
    ],
)
def test_no_member_passes_its_live_pieces_limit(
    live: dict[str, int], gained: dict[str, int], refused: bool
) -> None:
    if refused:
        with pytest.raises(Refusal) as refusal:
            check_live_pieces(live, gained, CTX)
        assert refusal.value.type == "holder-pieces-exceeded"
    else:
        check_live_pieces(live, gained, CTX)
