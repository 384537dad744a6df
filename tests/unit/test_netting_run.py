"""The journal side of netting as pure functions: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.certificates import Certificate
from ledger.context import Context
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.limits import AMOUNT_FEN_MAX
from ledger.netting_run import NettingState, RunBody, debts_of, preview, run
from ledger.obligations import CONFIRMED, Obligation
from ledger.settings import Settings
from netting.graph import GROSS_FEN_MAX


def obligation(index: int, debtor: str, creditor: str, amount_fen: int) -> Obligation:
    return Obligation(
        id=f"{index:032x}",
        debtor=debtor,
        creditor=creditor,
        amount_fen=amount_fen,
        outstanding_fen=amount_fen,
        due_date=date(2027, 1, 1),
        state=CONFIRMED,
        reference="PO",
        payment_ref=None,
        created_seq=index,
    )


def test_a_graph_beyond_the_solvers_int64_range_is_refused_not_crashed_on() -> None:
    count = GROSS_FEN_MAX // AMOUNT_FEN_MAX + 1  # each at the per-amount maximum
    owed = [
        obligation(i, "A" if i % 2 else "B", "B" if i % 2 else "A", AMOUNT_FEN_MAX)
        for i in range(count)
    ]
    assert sum(o.outstanding_fen for o in owed) > GROSS_FEN_MAX
    state = NettingState(pieces=(), obligations=owed, limits={})
    with pytest.raises(Refusal) as refused:
        preview(state, "setoff")
    assert refused.value.type == "netting-too-large"
    just_inside = NettingState(pieces=(), obligations=owed[: count - 1], limits={})
    assert len(debts_of(just_inside)) == count - 1


def _piece(piece_id: str, issuer: str, holder: str, amount_fen: int, maturity: date) -> Certificate:
    return Certificate(
        id=piece_id,
        root_id=piece_id,
        parent_ids=(),
        issuer=issuer,
        holder=holder,
        sender=None,
        amount_fen=amount_fen,
        maturity=maturity,
        state="active",
        level=1,
        trade={"contract_no": "C", "invoices": []},
        invoice_uses=(),
        expires_at=None,
        flags=(),
        memo=None,
        created_seq=2,
    )


def test_a_run_clears_earliest_due_first_certificates_before_obligations_on_a_day() -> None:
    """A owes B a piece and an obligation due the same day and an earlier obligation; B
    owes A 150. The 150 clears the earlier obligation (100), then the piece (50 of 80,
    split), and leaves the same-day obligation whole."""
    day, earlier = date(2027, 3, 1), date(2027, 2, 1)
    piece = _piece("c" * 32, "A", "B", 80_00, day)
    same_day = obligation(1, "A", "B", 70_00)
    same_day = Obligation(**{**same_day.__dict__, "id": "d" * 32, "due_date": day})
    early = Obligation(**{**obligation(2, "A", "B", 100_00).__dict__, "due_date": earlier})
    back = obligation(3, "B", "A", 150_00)
    state = NettingState(
        pieces=[piece],
        obligations=[same_day, early, back],
        limits={"A": IssuanceLimit("A", 1_000_00, 80_00)},
    )
    clock = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    ctx = Context(9, clock, "0" * 64, Settings())
    effects = run(state, RunBody.model_validate({"mode": "setoff", "as_of": "2026-11-26"}), ctx)
    owed = {o["id"]: (o["outstanding"], o["state"]) for o in effects["obligations"]}
    assert owed[early.id] == ("0.00", "settled")
    assert owed[back.id] == ("0.00", "settled")
    assert same_day.id not in owed  # untouched: the piece goes first on its day
    pieces = {(c["state"], c["amount"]) for c in effects["certificates"]}
    assert pieces == {("spent", "80.00"), ("settled", "50.00"), ("active", "30.00")}
    assert effects["limits"] == [IssuanceLimit("A", 1_000_00, 30_00).wire()]
