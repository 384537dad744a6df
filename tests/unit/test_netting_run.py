"""The journal side of netting as pure functions: no database."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import Refusal
from ledger.limits import AMOUNT_FEN_MAX
from ledger.netting_run import NettingState, debts_of, preview
from ledger.obligations import CONFIRMED, Obligation
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
