"""Obligation rules without a database: settlement is the debtor's claim, the creditor's call."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.errors import Refusal
from ledger.obligations import (
    CONFIRMED,
    SETTLED,
    SETTLEMENT_CLAIMED,
    Obligation,
    SettleBody,
    confirm_settlement,
    dispute_settlement,
    settle,
)

ID = "a" * 32
OWED = Obligation(ID, "D", "C", 100_00, 100_00, date(2027, 1, 1), CONFIRMED, "PO", None, 1)


def _settle_body(**fields: Any) -> SettleBody:
    return SettleBody.model_validate({"id": ID, "payment_ref": "TX", **fields})


def _one(effects: dict[str, Any]) -> tuple[str, str, str | None]:
    [wire] = effects["obligations"]
    return wire["state"], wire["outstanding"], wire["claimed"]


def _claimed(amount_fen: int) -> Obligation:
    return Obligation(
        **{
            **OWED.__dict__,
            "state": SETTLEMENT_CLAIMED,
            "claimed_fen": amount_fen,
            "claim_ref": "TX",
        }
    )


def test_a_claim_changes_nothing_owed() -> None:
    assert _one(settle(OWED, "D", _settle_body())) == ("settlement-claimed", "100.00", "100.00")
    assert _one(settle(OWED, "D", _settle_body(amount="40.00"))) == (
        "settlement-claimed",
        "100.00",
        "40.00",
    )


@pytest.mark.parametrize(
    ("rule", "signer", "found", "refusal"),
    [
        ("settle", "C", OWED, "forbidden"),  # the creditor does not claim payment
        ("settle", "X", OWED, "obligation-not-found"),
        ("settle", "D", _claimed(1), "invalid-obligation-state"),  # one claim at a time
        ("confirm", "D", _claimed(1), "forbidden"),  # the debtor's word is not enough
        ("confirm", "C", OWED, "invalid-obligation-state"),
        ("dispute", "D", _claimed(1), "forbidden"),
        ("dispute", "X", _claimed(1), "obligation-not-found"),
        ("dispute", "C", OWED, "invalid-obligation-state"),
    ],
)
def test_who_may_answer_what(rule: str, signer: str, found: Obligation, refusal: str) -> None:
    with pytest.raises(Refusal) as refused:
        if rule == "settle":
            settle(found, signer, _settle_body())
        elif rule == "confirm":
            confirm_settlement(found, signer)
        else:
            dispute_settlement(found, signer)
    assert refused.value.type == refusal


def test_a_claim_beyond_the_outstanding_is_refused() -> None:
    with pytest.raises(Refusal) as refused:
        settle(OWED, "D", _settle_body(amount="100.01"))
    assert refused.value.type == "settlement-too-large"


def test_only_the_creditors_confirmation_reduces_the_debt() -> None:
    assert _one(confirm_settlement(_claimed(40_00), "C")) == ("confirmed", "60.00", None)
    [paid] = confirm_settlement(_claimed(100_00), "C")["obligations"]
    assert (paid["state"], paid["outstanding"], paid["payment_ref"]) == (SETTLED, "0.00", "TX")
    assert _one(dispute_settlement(_claimed(100_00), "C")) == ("confirmed", "100.00", None)
