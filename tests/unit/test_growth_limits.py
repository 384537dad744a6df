"""The growth limits as pure rules: a table of cases, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from ledger import certificates
from ledger.certificates import (
    ACTIVE,
    Certificate,
    TransferBody,
    TransferState,
    check_live_pieces,
    root_piece_fen_min,
)
from ledger.context import Context
from ledger.errors import Refusal
from ledger.settings import Settings
from tests.conftest import seeded_actor

CTX = Context(9, datetime(2026, 11, 26, tzinfo=UTC), "0" * 64, Settings(root_pieces_max=300))
CORE, S1 = (seeded_actor(n).id for n in range(1, 3))


@pytest.mark.parametrize(
    ("face_fen", "piece_fen_min", "expected_fen"),
    [
        (300_00, 1, 100),  # exactly a 300th
        (300_01, 1, 101),  # rounded up: never more than 300 pieces of it
        (299, 1, 1),  # a small root: the smallest piece of all
        (300_00, 500, 500),  # a deployment's larger smallest piece wins
    ],
)
def test_a_roots_smallest_piece_is_a_share_of_its_face(
    face_fen: int, piece_fen_min: int, expected_fen: int
) -> None:
    settings = Settings(root_pieces_max=300, piece_fen_min=piece_fen_min)
    assert root_piece_fen_min(face_fen, settings) == expected_fen
    assert face_fen // expected_fen <= 300


ROOT = Certificate(
    id="a" * 32,
    root_id="a" * 32,
    parent_ids=(),
    issuer=CORE,
    holder=S1,
    sender=None,
    amount_fen=300_00,  # smallest piece of this root: 1.00
    maturity=date(2027, 3, 1),
    state=ACTIVE,
    level=1,
    trade={},
    invoice_uses=(),
    expires_at=None,
    flags=(),
    memo=None,
    created_seq=1,
)


def _split(piece: Certificate, amounts: list[int]) -> None:
    body = TransferBody.model_validate(
        {
            "inputs": [piece.id],
            "outputs": [{"to": S1, "amount": f"{a // 100}.{a % 100:02d}"} for a in amounts],
            "trade": {"contract_no": "C", "invoices": []},
        }
    )
    state = TransferState({piece.id: piece}, {}, {}, {ROOT.id: ROOT.amount_fen}, live_pieces=1)
    certificates.transfer(state, S1, body, CTX)


@pytest.mark.parametrize(
    ("held_fen", "amounts", "refused"),
    [
        (300_00, [100] * 100, False),  # 100 smallest pieces and the change
        (300_00, [100, 99], True),  # one output below the root's smallest piece
        (300_00, [299_01], True),  # the change (0.99) below it
        (300_00, [300_00], False),  # one output, no change: nothing added
        (50, [50], False),  # a remainder below the minimum still moves on whole
        (50, [25], True),  # but is not split
    ],
)
def test_a_transfer_splits_only_into_pieces_of_at_least_the_roots_smallest(
    held_fen: int, amounts: list[int], refused: bool
) -> None:
    piece = replace(ROOT, id="b" * 32, amount_fen=held_fen) if held_fen != ROOT.amount_fen else ROOT
    if refused:
        with pytest.raises(Refusal) as refusal:
            _split(piece, amounts)
        assert refusal.value.type == "root-pieces-exceeded"
        assert refusal.value.detail.count("1.00") == 1  # the rule and the minimum: no count
    else:
        _split(piece, amounts)


@pytest.mark.parametrize(
    ("live", "gained", "refused"),
    [
        (20_000, 0, False),  # at the limit, unchanged
        (20_000, -1, False),  # giving away is always allowed
        (19_999, 1, False),
        (20_000, 1, True),
        (0, 20_001, True),  # a member with nothing yet
    ],
)
def test_no_member_passes_its_live_pieces_limit(live: int, gained: int, refused: bool) -> None:
    ctx = Context(9, CTX.now, "0" * 64, Settings())
    if refused:
        with pytest.raises(Refusal) as refusal:
            check_live_pieces(S1, live, gained, ctx)
        assert refusal.value.type == "holder-pieces-exceeded"
        assert f"{S1} has {live} live pieces" in refusal.value.detail  # its own count
    else:
        check_live_pieces(S1, live, gained, ctx)
