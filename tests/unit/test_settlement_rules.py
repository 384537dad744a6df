"""Settlement's rules, pure: dates and late interest with the calendar facts written out,
the issuer's block and its lift, and the refusals of a payment.

Calendar facts (the State Council's 2026 schedule): Labour Day runs Friday 1 May to
Tuesday 5 May 2026, so paper maturing on 1 May is paid on Wednesday 6 May; Sunday 31
May 2026 rolls to Monday 1 June; Saturday 10 October 2026 is a make-up working day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger import credit, settlement
from ledger.certificates import Certificate, CertificateState
from ledger.context import Context
from ledger.errors import Refusal
from ledger.settings import Settings
from ledger.settlement import PayBody, PayState

CORE, S1 = "91110000MA0000000H", "91310000MA1FL0000B"


def ctx(day: str, **settings: object) -> Context:
    noon_beijing = datetime.fromisoformat(f"{day}T12:00:00+08:00").astimezone(UTC)
    return Context(42, noon_beijing, "a" * 64, Settings(**settings))  # type: ignore[arg-type]


def piece(id_: str = "a" * 32, amount_fen: int = 100_000, **extra: object) -> Certificate:
    base = Certificate(
        id=id_,
        root_id=id_,
        parent_ids=(),
        issuer=CORE,
        holder=S1,
        sender=None,
        amount_fen=amount_fen,
        maturity=date(2026, 5, 1),
        state=CertificateState.ACTIVE,
        level=1,
        trade={},
        invoice_uses=(),
        expires_at=None,
        flags=(),
        memo=None,
        created_seq=3,
        late_daily_rate=Decimal("0.0005"),
    )
    return replace(base, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("maturity", "paid_on"),
    [
        (date(2026, 5, 1), date(2026, 5, 6)),
        (date(2026, 5, 31), date(2026, 6, 1)),
        (date(2026, 10, 10), date(2026, 10, 10)),
        (date(2026, 6, 2), date(2026, 6, 2)),
    ],
)
def test_the_payment_date_is_the_next_business_day(maturity: date, paid_on: date) -> None:
    assert settlement.payment_date(maturity) == paid_on


def test_days_late_count_from_the_payment_date_and_forgive_the_grace() -> None:
    may_first = date(2026, 5, 1)
    assert settlement.days_late(may_first, date(2026, 5, 6), 0) == 0
    assert settlement.days_late(may_first, date(2026, 5, 7), 0) == 1
    assert settlement.days_late(may_first, date(2026, 5, 11), 0) == 5
    assert settlement.days_late(may_first, date(2026, 5, 11), 5) == 0
    assert settlement.days_late(may_first, date(2026, 5, 11), 3) == 2


def test_late_interest_is_exact_then_half_up_to_the_fen() -> None:
    rate = Decimal("0.0005")
    assert settlement.late_interest_fen(15_000, rate, 5) == 38  # 37.5 fen
    assert settlement.late_interest_fen(29_167, rate, 8) == 117  # 116.668 fen
    assert settlement.late_interest_fen(999, rate, 1) == 0  # 0.4995 fen
    assert settlement.late_interest_fen(1_000, rate, 1) == 1  # 0.5 fen
    assert settlement.late_interest_fen(123_456, Decimal("0"), 30) == 0


def test_an_overdue_issuer_may_not_issue_unless_the_block_is_off_or_lifted() -> None:
    limit = credit.none_for(CORE)
    today = ctx("2026-05-11")
    settlement.refuse_overdue_issuer(CORE, limit, 0, [], today)  # nothing overdue
    with pytest.raises(Refusal) as refused:
        settlement.refuse_overdue_issuer(CORE, limit, 2, [], today)
    assert refused.value.type == "issuer-overdue" and "overdue_ids" not in refused.value.extra
    with pytest.raises(Refusal) as found:
        settlement.refuse_overdue_issuer(CORE, limit, 0, ["x" * 32], today)
    assert found.value.extra["overdue_ids"] == ["x" * 32]  # the service records the mark
    off = ctx("2026-05-11", issuer_overdue_block=0)
    settlement.refuse_overdue_issuer(CORE, limit, 2, [], off)
    lifted = replace(limit, block_lifted_until=date(2026, 5, 11))
    settlement.refuse_overdue_issuer(CORE, lifted, 2, [], today)
    with pytest.raises(Refusal):
        settlement.refuse_overdue_issuer(CORE, lifted, 2, [], ctx("2026-05-12"))


def pay_state(*pieces: Certificate) -> PayState:
    limit = credit.IssuanceLimit(CORE, 10**9, sum(p.amount_fen for p in pieces))
    return PayState({p.id: p for p in pieces}, None, limit, {}, {})


def test_a_payment_is_refused_before_maturity_twice_and_for_another_issuers_paper() -> None:
    paper = piece()
    body = PayBody.model_validate({"pieces": [paper.id], "payment_ref": "P"})
    for day, signer, problem in (
        ("2026-04-30", CORE, "not-matured"),
        ("2026-05-06", S1, "certificate-not-found"),
    ):
        with pytest.raises(Refusal) as refused:
            settlement.pay(pay_state(paper), signer, body, ctx(day))
        assert refused.value.type == problem
    settled = replace(paper, state=CertificateState.SETTLED, paid_fen=paper.amount_fen)
    with pytest.raises(Refusal) as twice:
        settlement.pay(pay_state(settled), CORE, body, ctx("2026-05-06"))
    assert twice.value.type == "already-settled"


def test_a_payment_on_the_maturity_date_itself_is_on_time_even_before_the_payment_date() -> None:
    paper = piece()
    body = PayBody.model_validate({"pieces": [paper.id], "payment_ref": "P"})
    effects = settlement.pay(pay_state(paper), CORE, body, ctx("2026-05-01"))
    [paid] = effects["payments"]
    assert (paid["amount"], paid["days_late"], paid["late_interest"]) == ("1000.00", 0, "0.00")
    assert "obligations" not in effects and effects["limits"][0]["outstanding"] == "0.00"


@pytest.mark.parametrize(
    "body",
    [
        {"payment_ref": "P"},
        {"pieces": [], "payment_ref": "P"},
        {"pieces": ["a" * 32, "a" * 32], "payment_ref": "P"},
        {"root": "a" * 32, "payment_ref": "P"},
        {"amount": "1.00", "payment_ref": "P"},
        {"pieces": ["a" * 32], "root": "a" * 32, "amount": "1.00", "payment_ref": "P"},
        {"root": "a" * 32, "amount": 1.0, "payment_ref": "P"},
    ],
)
def test_a_payment_names_pieces_or_a_root_and_an_amount(body: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PayBody.model_validate(body)
