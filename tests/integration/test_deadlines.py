"""Every deadline at its exact instant, one microsecond before and one after.

The clock is frozen (tests/conftest.py), so "now" is whatever the test sets: a `<=`
turned into `<` in a deadline check, or a deadline shifted by a second, fails here.
Each deadline is checked on every path that decides it: the rule a command runs, the
sweep's query, and a read that touches the piece.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from ledger.settings import Settings
from tests.conftest import Chain, Clock
from tests.helpers import certs, head, refused

MICROSECOND = timedelta(microseconds=1)
CST = Settings().business_timezone


def _pending_piece(chain: Chain) -> tuple[str, datetime]:
    """A pending root for s1; its id and its deadline."""
    issued = chain.issue("100.00")
    assert issued.status_code == 201, issued.text
    [root] = certs(issued)
    deadline = datetime.fromisoformat(root["expires_at"])
    # The deadline is the issue time plus the setting, to the microsecond.
    assert deadline == chain.clock() + timedelta(seconds=Settings().pending_expiry_s)
    return root["id"], deadline


def _state(chain: Chain, piece_id: str) -> str:
    response = chain.client(chain.core).get(f"/v1/certificates/{piece_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


# Each command that touches a pending piece: (who signs it, what it leaves before the
# deadline). Reject and transfer are in the unit table (tests/unit).
TOUCHES = {"certificate.accept": ("s1", "active"), "certificate.cancel": ("core", "cancelled")}


@pytest.mark.parametrize("command_type", sorted(TOUCHES))
@pytest.mark.parametrize("offset", [-MICROSECOND, timedelta(0), MICROSECOND])
def test_a_command_on_a_pending_piece_is_refused_from_its_deadline_on(
    chain: Chain, offset: timedelta, command_type: str
) -> None:
    signer, state_before = TOUCHES[command_type]
    piece_id, deadline = _pending_piece(chain)
    chain.clock.set(deadline + offset)
    before = head(chain)
    answer = chain.client(getattr(chain, signer)).submit(command_type, {"id": piece_id})
    if offset < timedelta(0):
        assert answer.status_code == 201, answer.text
        assert _state(chain, piece_id) == state_before
        return
    refused(chain, answer, 409, "certificate-expired")
    assert head(chain) == before + 1  # the expiry it found, and nothing of the command
    assert _state(chain, piece_id) == "expired"


@pytest.mark.parametrize("offset", [-MICROSECOND, timedelta(0), MICROSECOND])
def test_the_sweep_expires_a_pending_piece_from_its_deadline_on(
    chain: Chain, offset: timedelta
) -> None:
    piece_id, deadline = _pending_piece(chain)
    chain.clock.set(deadline + offset)
    before = head(chain)
    written = chain.ledger.sweep_all()
    due = offset >= timedelta(0)
    assert (written, head(chain)) == ((1, before + 1) if due else (0, before))
    assert _state(chain, piece_id) == ("expired" if due else "pending")


@pytest.mark.parametrize("offset", [-MICROSECOND, timedelta(0), MICROSECOND])
def test_reading_a_pending_piece_records_its_expiry_from_its_deadline_on(
    chain: Chain, offset: timedelta
) -> None:
    piece_id, deadline = _pending_piece(chain)
    chain.clock.set(deadline + offset)
    before = head(chain)
    due = offset >= timedelta(0)
    assert _state(chain, piece_id) == ("expired" if due else "pending")
    assert head(chain) == before + (1 if due else 0)


def _business_midnight(day: str) -> datetime:
    """00:00 China Standard Time on ``day``, as a UTC instant."""
    return datetime.combine(datetime.fromisoformat(day).date(), time(0), CST).astimezone(UTC)


@pytest.mark.parametrize("offset", [-MICROSECOND, timedelta(0), MICROSECOND])
def test_paper_stops_moving_at_the_first_instant_of_its_maturity_date(
    chain: Chain, offset: timedelta
) -> None:
    root = chain.issued("100.00", days=30)
    maturity = chain.client(chain.s1).get(f"/v1/certificates/{root}").json()["maturity"]
    chain.clock.set(_business_midnight(maturity) + offset)
    moved = chain.transfer(chain.s1, [root], [(chain.s2, "40.00")])
    if offset < timedelta(0):
        assert moved.status_code == 201, moved.text
    else:
        refused(chain, moved, 409, "certificate-matured")


@pytest.mark.parametrize("offset", [-MICROSECOND, timedelta(0)])
def test_issuing_for_tomorrow_is_allowed_until_midnight_business_time(
    chain: Chain, offset: timedelta
) -> None:
    """Maturity must be after today in China Standard Time: at midnight, "tomorrow"
    becomes today and the same maturity is refused."""
    tomorrow = (chain.clock().astimezone(CST).date() + timedelta(days=1)).isoformat()
    chain.clock.set(_business_midnight(tomorrow) + offset)
    body = {
        "to": chain.s1.id,
        "amount": "10.00",
        "maturity": tomorrow,
        "trade": {"contract_no": "C-1", "invoices": [chain.new_invoice("10.00")]},
    }
    issued = chain.client(chain.core).submit("certificate.issue", body)
    if offset < timedelta(0):
        assert issued.status_code == 201, issued.text
    else:
        refused(chain, issued, 422, "maturity-out-of-range")


@pytest.mark.parametrize(("late", "fresh"), [(timedelta(0), True), (MICROSECOND, False)])
def test_a_command_is_fresh_up_to_the_skew_limit_exactly(
    chain: Chain, clock: Clock, late: timedelta, fresh: bool
) -> None:
    """Signed at T, received at T + clock_skew_s_max (+ 1 µs): accepted (refused)."""
    signed_at = clock()
    skew = timedelta(seconds=Settings().clock_skew_s_max)
    client = chain.client(chain.core)
    client.clock = lambda: signed_at
    clock.set(signed_at + skew + late)
    response = client.submit("obligation.register", _debt(chain))
    if fresh:
        assert response.status_code == 201, response.text
    else:
        refused(chain, response, 401, "stale-timestamp")


def _debt(chain: Chain) -> dict[str, str]:
    due = (chain.clock().astimezone(CST).date() + timedelta(days=30)).isoformat()
    return {"creditor": chain.s1.id, "amount": "1.00", "due_date": due, "reference": "PO-1"}
