"""Webhooks as pure rules: endpoints, events derived from hand-built effects, signatures
checked by the published ``standardwebhooks`` package, and the retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ledger import events, webhooks
from ledger.context import Context
from ledger.errors import Refusal
from ledger.events import EventType, derive, payload
from ledger.settings import Settings
from ledger.webhooks import (
    DeliveryState,
    Endpoint,
    EndpointState,
    Outcome,
    SetBody,
    UrlBody,
    endpoint_id,
    next_attempt,
    parse_retry_after,
)
from tests.conftest import seeded_actor

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CORE, S1, S2, BANK = (seeded_actor(n).id for n in range(1, 5))
URL = "https://hooks.s1.example/dcc"


def ctx(seq: int = 9, **settings: Any) -> Context:
    return Context(seq, NOW, "0" * 64, Settings(**settings))


def body(url: str = URL, events_: tuple[str, ...] = ("certificate.received",)) -> SetBody:
    return SetBody.model_validate({"url": url, "events": list(events_)})


# -- endpoints ---------------------------------------------------------------------------


def test_setting_a_new_url_creates_an_endpoint_with_a_new_secret() -> None:
    [row] = webhooks.set_endpoint(None, 0, S1, body(), ctx(9))["webhooks"]
    assert row == {
        "id": endpoint_id(S1, URL),
        "member": S1,
        "url": URL,
        "events": ["certificate.received"],
        "state": "active",
        "created_seq": 9,
        "secret_seq": 9,
    }


def test_setting_an_existing_url_changes_its_events_and_keeps_its_secret() -> None:
    existing = Endpoint(endpoint_id(S1, URL), S1, URL, ("x",), EndpointState.ACTIVE, 3, 4)
    changed = body(events_=("certificate.expired", "certificate.accepted"))
    [row] = webhooks.set_endpoint(existing, 5, S1, changed, ctx(9))["webhooks"]
    assert row["events"] == ["certificate.accepted", "certificate.expired"]  # sorted
    assert (row["created_seq"], row["secret_seq"]) == (3, 4)


def test_a_member_has_at_most_its_endpoints_and_a_deleted_one_does_not_count() -> None:
    with pytest.raises(Refusal) as refused:
        webhooks.set_endpoint(None, 2, S1, body(), ctx(webhook_endpoints_max=2))
    assert refused.value.type == "webhook-endpoints-exceeded"
    deleted = Endpoint(endpoint_id(S1, URL), S1, URL, ("x",), EndpointState.DELETED, 3, 3)
    [row] = webhooks.set_endpoint(deleted, 1, S1, body(), ctx(9, webhook_endpoints_max=2))[
        "webhooks"
    ]
    assert row["state"] == "active" and row["created_seq"] == 3 and row["secret_seq"] == 9


def test_delete_and_rotate_need_a_live_endpoint() -> None:
    live = Endpoint(endpoint_id(S1, URL), S1, URL, ("x",), EndpointState.ACTIVE, 3, 3)
    ref = UrlBody.model_validate({"url": URL})
    assert webhooks.delete_endpoint(live, ref)["webhooks"][0]["state"] == "deleted"
    assert webhooks.rotate_secret(live, ref, ctx(12))["webhooks"][0]["secret_seq"] == 12
    gone = Endpoint(live.id, S1, URL, ("x",), EndpointState.DELETED, 3, 3)
    for endpoint in (None, gone):
        for rule in (
            lambda e: webhooks.delete_endpoint(e, ref),
            lambda e: webhooks.rotate_secret(e, ref, ctx()),
        ):
            with pytest.raises(Refusal) as refused:
                rule(endpoint)
            assert refused.value.type == "webhook-not-found"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h.example/",
        "https://",
        "https://user:pw@h.example/",
        "https://h.example/#frag",
        "https://h.example:99999/",
        "https://h.example/a b",
        "https://h.example/\u00e9",
        "https://h.example/" + "a" * 2000,
        "javascript:alert(1)",
    ],
)
def test_a_bad_url_is_refused_as_malformed(url: str) -> None:
    with pytest.raises(Exception, match="validation error"):
        SetBody.model_validate({"url": url, "events": ["certificate.received"]})


def test_events_are_the_published_ones_named_once() -> None:
    for wrong in ([], ["certificate.received", "certificate.received"], ["member.admitted"]):
        with pytest.raises(Exception, match="validation error"):
            SetBody.model_validate({"url": URL, "events": wrong})


def test_a_host_outside_the_allowed_hosts_is_refused_as_validation() -> None:
    allowed = "*.bank.example,10.1.0.0/16"
    for url in ("https://hooks.bank.example/", "http://10.1.2.3:8080/h"):
        webhooks.set_endpoint(None, 0, S1, body(url), ctx(webhook_allowed_hosts=allowed))
    for url in ("https://127.0.0.1/", "https://bank.example.evil/", "http://10.2.0.1/"):
        with pytest.raises(Refusal) as refused:
            webhooks.set_endpoint(None, 0, S1, body(url), ctx(webhook_allowed_hosts=allowed))
        assert refused.value.type == "validation"


# -- events ------------------------------------------------------------------------------


def piece(id_: str, state: str, holder: str, sender: str | None, seq: int) -> dict[str, Any]:
    return {"id": id_, "state": state, "holder": holder, "sender": sender, "created_seq": seq}


def told(entry_type: str, seq: int, effects: dict[str, Any], before: Any = None) -> list[Any]:
    found = derive(entry_type, seq, effects, before or (lambda collection, id_: None))
    return [(e.type.value, e.subject, e.recipients) for e in found]


def test_a_pending_piece_tells_its_recipient_and_the_change_tells_nobody() -> None:
    effects = {
        "certificates": [
            piece("in", "spent", S1, None, 3),
            piece("out", "pending", S2, S1, 9),
            piece("change", "active", S1, None, 9),
        ]
    }
    assert told("certificate.transfer", 9, effects) == [("certificate.received", "out", (S2,))]


def test_an_acceptance_tells_the_sender_the_row_no_longer_names() -> None:
    accepted = piece("p", "active", S2, None, 4)
    before = piece("p", "pending", S2, S1, 4)
    found = told("certificate.accept", 9, {"certificates": [accepted]}, lambda c, i: before)
    assert found == [("certificate.accepted", "p", (S1,))]


def test_a_rejection_and_an_expiry_tell_the_sender() -> None:
    for entry_type, state, event in (
        ("certificate.reject", "rejected", "certificate.rejected"),
        ("certificate.expire", "expired", "certificate.expired"),
    ):
        effects = {
            "certificates": [piece("p", state, S2, S1, 4), piece("back", "active", S1, None, 9)]
        }
        assert told(entry_type, 9, effects) == [(event, "p", (S1,))]


FINANCING = {
    "id": "f1",
    "certificate": "c1",
    "applicant": S1,
    "bank": BANK,
    "core": CORE,
    "face": "100.00",
    "created_seq": 7,
}


def test_financing_events_go_to_their_parties() -> None:
    requested = {"financings": [FINANCING | {"state": "requested"}]}
    assert told("financing.apply", 7, requested) == [("financing.requested", "f1", (BANK,))]
    for state in ("rejected", "approved"):
        decided = told("financing.decide", 8, {"financings": [FINANCING | {"state": state}]})
        assert ("financing.decided", "f1", (S1, BANK)) in decided
    expired = {"financings": [FINANCING | {"state": "expired"}]}
    assert told("financing.expire", 9, expired) == [("financing.expired", "f1", (S1, BANK))]
    cancelled = {"financings": [FINANCING | {"state": "cancelled"}]}
    assert told("financing.cancel", 9, cancelled) == []


def test_settlement_tells_holders_and_overdue_paper_tells_holder_and_issuer() -> None:
    paid = piece("p", "settled", BANK, None, 4) | {"issuer": CORE, "paid": "100.00"}
    part = piece("q", "active", S2, None, 4) | {"issuer": CORE, "paid": "1.00"}
    effects = {"certificates": [paid, part], "payments": [{"id": "pay1", "holder": BANK}]}
    assert told("settlement.pay", 9, effects) == [
        ("certificate.settled", "p", (BANK,)),
        ("certificate.settled", "q", (S2,)),
    ]
    overdue = piece("p", "overdue", S2, None, 4) | {"issuer": CORE}
    assert told("certificate.overdue", 9, {"certificates": [overdue]}) == [
        ("certificate.overdue", "p", (S2, CORE))
    ]
    # A settled piece in a netting run is no payment by the issuer: nobody is told so.
    assert told("netting.run", 9, {"certificates": [paid]}) == []
    notice = {"id": "n1", "issuer": CORE, "maturity": "2026-06-01", "amount": "5.00"}
    assert told("settlement.notice", 9, {"notices": [notice]}) == [
        ("settlement.due", "n1", (CORE,))
    ]


def test_an_approval_tells_the_issuer_of_the_assigned_certificate() -> None:
    assigned = piece("c1", "active", BANK, None, 8)
    effects = {
        "financings": [FINANCING | {"state": "approved"}],
        "certificates": [assigned],
    }
    found = derive("financing.decide", 8, effects, lambda c, i: None)
    [event] = [e for e in found if e.type == EventType.CERTIFICATE_ASSIGNED]
    assert event.recipients == (CORE,) and event.data == assigned


def test_the_payload_carries_the_row_and_the_entry_behind_it() -> None:
    [event] = derive("certificate.issue", 9, {"certificates": [piece("p", "pending", S1, CORE, 9)]},
                     lambda c, i: None)  # fmt: skip
    text = payload(event, 9, "ab" * 32, "2026-03-02T01:00:00.000000Z")
    assert text == (
        '{"data":{"created_seq":9,"entry_hash":"' + "ab" * 32 + '","holder":"' + S1 + '",'
        '"id":"p","sender":"' + CORE + '","seq":9,"state":"pending"},'
        '"timestamp":"2026-03-02T01:00:00.000000Z","type":"certificate.received"}'
    )


def test_every_event_type_has_a_rule() -> None:
    assert {rule.type for rule in events.EVENT_RULES} == set(EventType)


# -- signatures --------------------------------------------------------------------------


def test_the_published_package_verifies_our_signatures_with_either_secret() -> None:
    old, new = webhooks.new_secret(), webhooks.new_secret()
    assert old.startswith("whsec_") and old != new
    sent = '{"type":"certificate.received"}'
    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhooks.headers([new, old], "msg_1", timestamp, sent)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(sent, headers) == {"type": "certificate.received"}
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(sent, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(sent + " ", headers)
    stale = webhooks.headers([new], "msg_1", timestamp - 600, sent)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(new).verify(sent, stale)


def test_a_signature_matches_the_packages_own() -> None:
    secret = webhooks.new_secret()
    moment = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    ours = webhooks.sign(secret, "msg_x", int(moment.timestamp()), "body")
    assert ours == Webhook(secret).sign("msg_x", moment, "body")


# -- retries -----------------------------------------------------------------------------

SCHEDULE = Settings().retry_schedule_s


def test_the_default_schedule_is_the_specifications_example() -> None:
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@pytest.mark.parametrize(
    ("outcome", "tried", "state", "delay_s", "disable"),
    [
        (Outcome(200), 1, DeliveryState.DELIVERED, None, False),
        (Outcome(204), 4, DeliveryState.DELIVERED, None, False),
        (Outcome(301), 1, DeliveryState.PENDING, 5.0, False),  # 3xx is a failure
        (Outcome(500), 2, DeliveryState.PENDING, 300.0, False),
        (Outcome(None), 3, DeliveryState.PENDING, 1800.0, False),  # no answer
        (Outcome(410), 1, DeliveryState.FAILED, None, True),  # gone: disabled
        (Outcome(500), 10, DeliveryState.FAILED, None, False),  # the schedule ran out
        (Outcome(429, 60.0), 1, DeliveryState.PENDING, 60.0, False),
        (Outcome(502, 1.0), 2, DeliveryState.PENDING, 300.0, False),  # asks for less
        (Outcome(504, 10**9), 1, DeliveryState.PENDING, 86400.0, False),  # capped
        (Outcome(503, 60.0), 1, DeliveryState.PENDING, 5.0, False),  # not honoured on 503
    ],
)
def test_what_follows_an_attempt(
    outcome: Outcome, tried: int, state: DeliveryState, delay_s: float | None, disable: bool
) -> None:
    step = next_attempt(outcome, tried, SCHEDULE, 0.0, 86400)
    assert (step.state, step.delay_s, step.disable) == (state, delay_s, disable)


def test_jitter_spreads_a_wait_by_the_fraction_drawn() -> None:
    assert next_attempt(Outcome(500), 2, SCHEDULE, 0.1, 86400).delay_s == pytest.approx(330.0)
    assert next_attempt(Outcome(500), 2, SCHEDULE, -0.1, 86400).delay_s == pytest.approx(270.0)
    assert next_attempt(Outcome(500), 2, SCHEDULE, -5.0, 86400).delay_s == 0.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, NOW) == pytest.approx(90.0)
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None
