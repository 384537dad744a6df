"""The certificate rules as plain functions: no database, no HTTP, a frozen ``ctx.now``.

Each rule has a fixed table of its own here, both sides of every boundary, besides the
random state machine (tests/property) and the HTTP refusals (tests/integration).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from ledger import certificates, credit, invoices
from ledger.certificates import Certificate, IssueBody, ReturnState, TransferBody
from ledger.context import Context
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.keys import generate_private_key, public_key_b64, sign, verify
from ledger.members import Member
from ledger.settings import Settings
from tests.conftest import seeded_actor

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 on 2 March in China Standard Time
SETTINGS = Settings()
CORE, S1, S2, S3 = (seeded_actor(n).id for n in range(1, 5))


def ctx(now: datetime = NOW) -> Context:
    return Context(seq=10, now=now, command_hash="ab" * 32, settings=SETTINGS)


def member(member_id: str, *roles: str) -> Member:
    return Member(member_id, "Firm", tuple(roles), "active", "0" * 32, "key", 2)


def piece(**changes: object) -> Certificate:
    """A pending level-1 root of 100.00 from CORE to S1, issued at NOW."""
    base = Certificate(
        id="1" * 32,
        root_id="1" * 32,
        parent_ids=(),
        issuer=CORE,
        holder=S1,
        sender=CORE,
        amount_fen=100_00,
        maturity=date(2026, 6, 1),
        state=certificates.PENDING,
        level=1,
        trade={"contract_no": "C", "invoices": []},
        invoice_uses=(),
        expires_at="2026-03-09T01:00:00.000000Z",
        flags=(),
        memo=None,
        created_seq=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def refusal(call: object, *args: object) -> str:
    with pytest.raises(Refusal) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value.type


# -- accept: only the recipient, only while pending, only before the deadline --------------


@pytest.mark.parametrize(
    ("signer", "expected"),
    [
        (S1, None),  # the recipient
        (CORE, "not-holder"),  # the issuer, a party to the piece
        (S2, "certificate-not-found"),  # strangers: the same answer as for no such piece
        (S3, "certificate-not-found"),
    ],
)
def test_only_the_recipient_may_accept(signer: str, expected: str | None) -> None:
    if expected is None:
        [accepted] = certificates.accept(piece(), signer, 0, ctx())["certificates"]
        assert (accepted["state"], accepted["holder"], accepted["sender"]) == ("active", S1, None)
    else:
        assert refusal(certificates.accept, piece(), signer, 0, ctx()) == expected


@pytest.mark.parametrize("state", sorted(set(certificates.TERMINAL) | {"active", "settled"}))
def test_only_a_pending_piece_can_be_accepted(state: str) -> None:
    assert refusal(certificates.accept, piece(state=state), S1, 0, ctx()) == "not-pending"


def test_an_unknown_piece_cannot_be_accepted() -> None:
    assert refusal(certificates.accept, None, S1, 0, ctx()) == "certificate-not-found"


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 3, 9, 0, 59, 59, 999_999, tzinfo=UTC), False),
        (datetime(2026, 3, 9, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 9, 1, 0, 0, 1, tzinfo=UTC), True),
    ],
)
def test_the_pending_deadline_is_inclusive(now: datetime, due: bool) -> None:
    """Every command that touches a pending piece: before its deadline it is decided as
    usual; from the deadline on it is refused as expired (the service then records it)."""
    assert certificates.is_due_to_expire(piece(), now) is due
    returned = ReturnState({}, IssuanceLimit(CORE, 100_00, 100_00))
    touches: dict[str, tuple[object, tuple[object, ...], str | None]] = {
        "accept": (certificates.accept, (piece(), S1, 0, ctx(now)), None),
        "reject": (certificates.reject, (piece(), S1, returned, ctx(now)), None),
        "cancel": (certificates.cancel, (piece(), CORE, returned, ctx(now)), None),
        # the recipient spending what it has not accepted yet
        "transfer": (_transfer_at, ([(S2, 10_00)], piece(), now), "not-spendable"),
    }
    for name, (call, args, before) in touches.items():
        expected = "certificate-expired" if due else before
        if expected is None:
            assert call(*args)["certificates"], name  # type: ignore[operator]
        else:
            assert refusal(call, *args) == expected, name


def test_a_new_pending_piece_expires_after_exactly_the_setting() -> None:
    body = _issue_body(100_00)
    [root] = certificates.issue(_issue_state(100_00, 0), CORE, body, ctx())["certificates"]
    deadline = NOW + timedelta(seconds=SETTINGS.pending_expiry_s)
    assert root["expires_at"] == deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- issuance: the limit's boundary ----------------------------------------------------------


def _issue_body(amount_fen: int, maturity: date = date(2026, 6, 1)) -> IssueBody:
    amount = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    return IssueBody.model_validate(
        {
            "to": S1,
            "amount": amount,
            "maturity": maturity.isoformat(),
            "trade": {"contract_no": "C", "invoices": [{"no": "INV-I", "amount": amount}]},
        }
    )


def _issue_state(limit_fen: int, outstanding_fen: int) -> certificates.IssueState:
    limit = IssuanceLimit(CORE, limit_fen, outstanding_fen)
    return certificates.IssueState(member(S1, "supplier"), limit, {}, live_pieces=0)


@pytest.mark.parametrize(
    ("amount_fen", "ok"), [(59_99, True), (60_00, True), (60_01, False), (10**9, False)]
)
def test_issuance_up_to_the_limit_exactly(amount_fen: int, ok: bool) -> None:
    """Limit 100.00 with 40.00 outstanding: 60.00 more fits, 60.01 does not."""
    state = _issue_state(100_00, 40_00)
    body = _issue_body(amount_fen)
    if not ok:
        assert refusal(certificates.issue, state, CORE, body, ctx()) == "issuance-limit-exceeded"
        return
    effects = certificates.issue(state, CORE, body, ctx())
    [limit] = effects["limits"]
    total_fen = 40_00 + amount_fen
    assert limit["outstanding"] == f"{total_fen // 100}.{total_fen % 100:02d}"


def test_a_limit_is_restored_exactly_and_never_below_zero() -> None:
    limit = IssuanceLimit(CORE, 100_00, 40_00)
    assert credit.restore(limit, 40_00).outstanding_fen == 0
    with pytest.raises(AssertionError):
        credit.restore(limit, 40_01)


@pytest.mark.parametrize(
    ("maturity", "expected"),
    [
        (date(2026, 3, 2), "maturity-out-of-range"),  # today in China Standard Time
        (date(2026, 3, 3), None),  # tomorrow
        (date(2027, 3, 2), None),  # 365 days
        (date(2027, 3, 3), "maturity-out-of-range"),  # 366 days
    ],
)
def test_maturity_window(maturity: date, expected: str | None) -> None:
    state, body = _issue_state(100_00, 0), _issue_body(1_00, maturity)
    if expected is None:
        assert certificates.issue(state, CORE, body, ctx())["certificates"]
    else:
        assert refusal(certificates.issue, state, CORE, body, ctx()) == expected


# -- transfer: conservation at the fen ---------------------------------------------------------


def _transfer(outputs: list[tuple[str, int]], source: Certificate) -> object:
    return _transfer_at(outputs, source, NOW)


def _transfer_at(outputs: list[tuple[str, int]], source: Certificate, now: datetime) -> object:
    body = TransferBody.model_validate(
        {
            "inputs": [source.id],
            "outputs": [{"to": to, "amount": f"{a // 100}.{a % 100:02d}"} for to, a in outputs],
            "trade": {
                "contract_no": "C",  # an invoice has one seller: one for each recipient
                "invoices": [{"no": f"INV-{n}", "amount": "1000.00"} for n in (1, 2)],
            },
        }
    )
    state = certificates.TransferState(
        inputs={source.id: source},
        recipients={S2: member(S2, "supplier"), S3: member(S3, "supplier")},
        invoices={},
        root_faces={source.root_id: source.amount_fen},
        live_pieces=1,
    )
    return certificates.transfer(state, S1, body, ctx(now))


ACTIVE_ROOT = piece(state=certificates.ACTIVE, sender=None, expires_at=None)


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ([(S2, 100_00)], None),
        ([(S2, 60_00), (S3, 40_00)], None),
        ([(S2, 60_00), (S3, 40_01)], "insufficient-amount"),
        ([(S2, 100_01)], "insufficient-amount"),
    ],
)
def test_a_transfer_spends_at_most_its_inputs(
    outputs: list[tuple[str, int]], expected: str | None
) -> None:
    if expected is not None:
        assert refusal(_transfer, outputs, ACTIVE_ROOT) == expected
        return
    effects = _transfer(outputs, ACTIVE_ROOT)
    created = effects["certificates"]  # type: ignore[index]
    spent = [c for c in created if c["state"] == "spent"]
    assert [c["id"] for c in spent] == [ACTIVE_ROOT.id]
    new = [c for c in created if c["id"] != ACTIVE_ROOT.id]
    assert sum(int(c["amount"].replace(".", "")) for c in new) == ACTIVE_ROOT.amount_fen


def test_only_the_holder_may_transfer() -> None:
    # S1 is a stranger to S2's piece (same answer as no such piece); the issuer is a party.
    theirs = replace(ACTIVE_ROOT, holder=S2)
    assert refusal(_transfer, [(S3, 10_00)], theirs) == "certificate-not-found"
    issued_by_s1 = replace(ACTIVE_ROOT, holder=S2, issuer=S1)
    assert refusal(_transfer, [(S3, 10_00)], issued_by_s1) == "not-holder"


def test_paper_on_its_maturity_date_cannot_move() -> None:
    matured = replace(ACTIVE_ROOT, maturity=date(2026, 3, 2))
    assert refusal(_transfer, [(S2, 10_00)], matured) == "certificate-matured"
    assert _transfer([(S2, 10_00)], replace(ACTIVE_ROOT, maturity=date(2026, 3, 3)))


# -- invoices: no invoice backs more than itself --------------------------------------------------


@pytest.mark.parametrize(("paid_fen", "ok"), [(99_99, True), (100_00, True), (100_01, False)])
def test_an_invoice_backs_at_most_its_amount(paid_fen: int, ok: bool) -> None:
    cited = [("INV1", 100_00)]
    if ok:
        changed, _uses = invoices.attribute({}, CORE, cited, [(S1, paid_fen)])
        assert [(k.buyer, k.seller, k.no, i.used_fen) for k, i in changed.items()] == [
            (CORE, S1, "INV1", paid_fen)
        ]
    else:
        assert refusal(invoices.attribute, {}, CORE, cited, [(S1, paid_fen)]) == (
            "invoice-overused"
        )


# -- the signature check every command and the auditor rely on ------------------------------------


def test_a_signature_verifies_only_for_its_key_and_its_exact_bytes() -> None:
    key, other = generate_private_key(), generate_private_key()
    public = public_key_b64(key.public_key())
    message = b'{"body":{},"type":"member.admit"}'
    signature = sign(key, message)
    assert verify(public, signature, message)
    assert not verify(public, signature, message + b" ")
    assert not verify(public, signature, message.replace(b"admit", b"admiT"))
    assert not verify(public_key_b64(other.public_key()), signature, message)
    assert not verify(public, sign(other, message), message)
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert not verify(public, flipped, message)
    assert not verify(public, signature[:-2], message)  # truncated
    assert not verify(public, signature + "AA", message)  # extended
    assert not verify(public, "not base64!", message)
