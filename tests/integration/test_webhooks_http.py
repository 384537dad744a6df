"""Webhooks over real HTTP: commands through the app, the relay on a thread of it, and a
real receiver on loopback that verifies what it gets with the ``standardwebhooks``
package, as a bank would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Actor, Chain, Clock
from tests.helpers import assert_problem, ok, refused
from tests.receiver import Receiver, receiving

RECEIVED, ACCEPTED = "certificate.received", "certificate.accepted"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        webhook_retry_schedule_s="0,0,0",
        webhook_jitter_pct=0,
        webhook_poll_ms=20,
        webhook_timeout_s=3,
        webhook_endpoints_max=2,
        webhook_redeliveries_max=1,
        webhook_allowed_hosts="127.0.0.1,*.bank.example",
    )


@pytest.fixture
def ledger(engine: Engine, clock: Clock, settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(engine, settings, clock=clock)
    yield ledger
    ledger.close()


@pytest.fixture
def http(ledger: Ledger) -> Iterator[TestClient]:
    app = create_app(ledger, background_relay=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def hook(chain: Chain, member: Actor, url: str, *events: str) -> dict[str, Any]:
    return ok(chain.client(member).submit("webhook.set", {"url": url, "events": list(events)}))


def secret_of(chain: Chain, member: Actor, url: str) -> str:
    answer = ok(chain.client(member).get(f"/v1/webhooks/{member.id}/secret"))
    [endpoint] = [e for e in answer["endpoints"] if e["url"] == url]
    secret: str = endpoint["secret"]
    return secret


def verified(receiver: Receiver, secret: str, count: int) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.wait_for(count)]


def deliveries(chain: Chain, member: Actor, query: str = "") -> list[dict[str, Any]]:
    answer = ok(chain.client(member).get(f"/v1/webhooks/deliveries{query}"))
    found: list[dict[str, Any]] = answer["deliveries"]
    return found


def settled(chain: Chain, member: Actor, count: int = 1) -> list[dict[str, Any]]:
    """The member's deliveries once ``count`` of them are no longer pending."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = deliveries(chain, member)
        if sum(d["state"] != "pending" for d in found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"still pending: {found}")


def test_a_piece_sent_to_a_member_reaches_its_endpoint_signed_with_its_entry(
    chain: Chain,
) -> None:
    with receiving() as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        secret = secret_of(chain, chain.s1, receiver.url)
        assert secret.startswith("whsec_")
        issued = ok(chain.issue("100.00"))
        [event] = verified(receiver, secret, 1)
    [piece] = issued["effects"]["certificates"]
    assert event["type"] == RECEIVED
    assert event["data"] == piece | {"seq": issued["seq"], "entry_hash": issued["entry_hash"]}
    assert event["data"] == ok(chain.client(chain.s1).get(f"/v1/certificates/{piece['id']}")) | {
        "seq": issued["seq"],
        "entry_hash": issued["entry_hash"],
    }
    [delivery] = settled(chain, chain.s1)
    assert delivery["state"] == "delivered" and delivery["attempts"] == 1
    assert delivery["id"] == receiver.received[0].headers["webhook-id"]
    detail = ok(chain.client(chain.s1).get(f"/v1/webhooks/deliveries/{delivery['id']}"))
    [attempt] = detail["attempts_made"]
    assert attempt["status"] == 204 and attempt["latency_ms"] >= 0
    # Its member and the operator see it; nobody else does.
    assert [d["id"] for d in deliveries(chain, chain.operator)] == [delivery["id"]]
    assert deliveries(chain, chain.s2) == []
    other = chain.client(chain.s2).get(f"/v1/webhooks/deliveries/{delivery['id']}")
    assert_problem(other, 404, "not-found")
    assert_problem(
        chain.client(chain.s2).get(f"/v1/webhooks/deliveries?member={chain.s1.id}"),
        404,
        "not-found",
    )
    assert chain.ledger.verify().ok


def test_each_event_goes_only_to_the_party_it_concerns_and_only_if_subscribed(
    chain: Chain,
) -> None:
    with receiving() as core_end, receiving() as s1_end:
        hook(chain, chain.core, core_end.url, ACCEPTED, "certificate.rejected")
        hook(chain, chain.s1, s1_end.url, ACCEPTED)  # not told of what it receives
        root = chain.issued("50.00")  # issued to s1, and accepted
        [event] = verified(core_end, secret_of(chain, chain.core, core_end.url), 1)
        time.sleep(0.3)  # time for anything wrongly sent to arrive
        assert s1_end.received == [] and len(core_end.received) == 1
    assert event["type"] == ACCEPTED and event["data"]["id"] == root
    assert event["data"]["state"] == "active" and event["data"]["holder"] == chain.s1.id
    assert chain.ledger.verify().ok


def test_failed_attempts_are_retried_with_the_same_id_and_every_attempt_recorded(
    chain: Chain,
) -> None:
    script = [(500, {}), (302, {"location": "http://127.0.0.1:1/"})]
    with receiving(script, default=200) as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        chain.issue("10.00")
        got = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    [delivery] = settled(chain, chain.s1)
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    detail = ok(chain.client(chain.s1).get(f"/v1/webhooks/deliveries/{delivery['id']}"))
    assert [a["status"] for a in detail["attempts_made"]] == [500, 302, 200]
    assert detail["attempts_made"][0]["response"] == '{"seen": true}'


def test_an_endpoint_that_never_succeeds_fails_after_the_schedule_and_can_be_asked_again(
    chain: Chain,
) -> None:
    with receiving(default=503) as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        chain.issue("10.00")
        receiver.wait_for(3)
        [delivery] = settled(chain, chain.s1)
        assert delivery["state"] == "failed" and delivery["attempts"] == 3
        receiver.default = 200
        again = chain.client(chain.s1).post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202, again.text
        got = receiver.wait_for(4)
        [delivery] = settled(chain, chain.s1)
    assert delivery["state"] == "delivered" and delivery["redeliveries"] == 1
    assert got[3].headers["webhook-id"] == delivery["id"]
    # Asked for more often than allowed; asked by someone it does not concern.
    too_many = chain.client(chain.s1).post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert_problem(too_many, 429, "redeliveries-exceeded")
    stranger = chain.client(chain.s2).post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert_problem(stranger, 404, "not-found")


def test_retry_after_is_honoured_on_429(chain: Chain) -> None:
    with receiving([(429, {"retry-after": "1"})], default=204) as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        chain.issue("10.00")
        first, second = receiver.wait_for(2)
    assert second.at_s - first.at_s >= 0.9  # the schedule alone would retry at once


def test_410_gone_disables_the_endpoint_until_its_member_sets_it_again(chain: Chain) -> None:
    with receiving([(410, {})], default=204) as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        chain.issue("10.00")
        [delivery] = settled(chain, chain.s1)
        assert delivery["state"] == "failed" and delivery["last_status"] == 410
        [endpoint] = ok(chain.client(chain.s1).get(f"/v1/webhooks/{chain.s1.id}"))["endpoints"]
        assert endpoint["disabled_ms"] is not None
        chain.issue("11.00")  # nothing is queued for a disabled endpoint
        assert len(deliveries(chain, chain.s1)) == 1
        hook(chain, chain.s1, receiver.url, RECEIVED)  # enabled again
        chain.issue("12.00")
        got = receiver.wait_for(2)
    assert json.loads(got[1].body)["data"]["amount"] == "12.00"
    assert chain.ledger.verify().ok


def test_a_rotated_secret_keeps_signing_beside_the_new_one(chain: Chain) -> None:
    with receiving() as receiver:
        hook(chain, chain.s1, receiver.url, RECEIVED)
        old = secret_of(chain, chain.s1, receiver.url)
        ok(chain.client(chain.s1).submit("webhook.rotate_secret", {"url": receiver.url}))
        new = secret_of(chain, chain.s1, receiver.url)
        chain.issue("10.00")
        [got] = receiver.wait_for(1)
    assert new != old and len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == RECEIVED
    journal = chain.ledger.read(lambda repo: [e.effects_text for e in repo.entries()])
    assert not any(old in text or new in text for text in journal)


def test_refused_webhook_commands_write_nothing(chain: Chain) -> None:
    client = chain.client(chain.s1)
    for url in ("ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http://10.0.0.1/hooks"):
        refused(
            chain, client.submit("webhook.set", {"url": url, "events": [RECEIVED]}), 422,
            "validation",
        )  # fmt: skip
    refused(chain, client.submit("webhook.set", {"url": "http://127.0.0.1/", "events": ["x"]}),
            422, "validation")  # fmt: skip
    for n in range(2):
        hook(chain, chain.s1, f"http://127.0.0.1:1/{n}", RECEIVED)
    extra = client.submit("webhook.set", {"url": "https://a.bank.example/", "events": [RECEIVED]})
    refused(chain, extra, 422, "webhook-endpoints-exceeded")
    for kind in ("webhook.delete", "webhook.rotate_secret"):
        gone = client.submit(kind, {"url": "http://127.0.0.1:1/nowhere"})
        refused(chain, gone, 404, "webhook-not-found")
    ok(client.submit("webhook.delete", {"url": "http://127.0.0.1:1/0"}))  # room again
    hook(chain, chain.s1, "https://a.bank.example/", RECEIVED)
    assert chain.ledger.verify().ok


def test_a_secret_is_for_its_member_alone(chain: Chain) -> None:
    hook(chain, chain.s1, "http://127.0.0.1:1/h", RECEIVED)
    for reader in (chain.s2, chain.operator):
        answer = chain.client(reader).get(f"/v1/webhooks/{chain.s1.id}/secret")
        assert_problem(answer, 404, "not-found")
    listed = ok(chain.client(chain.operator).get(f"/v1/webhooks/{chain.s1.id}"))
    assert [e["url"] for e in listed["endpoints"]] == ["http://127.0.0.1:1/h"]
    assert "whsec_" not in json.dumps(listed)
    assert_problem(chain.client(chain.s2).get(f"/v1/webhooks/{chain.s1.id}"), 404, "not-found")


def test_verify_checks_the_endpoints_and_ignores_the_outbox(chain: Chain, engine: Engine) -> None:
    hook(chain, chain.s1, "http://127.0.0.1:1/h", RECEIVED)
    chain.issue("10.00")
    with engine.begin() as conn:
        conn.execute(text("UPDATE webhook_outbox SET state = 'failed', attempts = 99"))
        conn.execute(text("UPDATE webhook_secrets SET secret = 'whsec_AAAA'"))
    assert chain.ledger.verify().ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE webhook_endpoints SET url = 'http://127.0.0.1:2/evil'"))
    report = chain.ledger.verify()
    assert not report.ok and "webhooks row" in report.problems[0].message


def test_maturity_tells_the_issuer_before_and_the_holders_when_paid_or_overdue(
    chain: Chain,
) -> None:
    """The frozen today is Monday 2026-03-02: 2-day paper matures Wednesday 03-04 (its
    payment date). The notice goes out at once (within the 3 notice days); on Friday
    03-06 one piece is paid and the other is overdue."""
    due, paid_event, overdue = "settlement.due", "certificate.settled", "certificate.overdue"
    with receiving() as core_end, receiving() as s1_end, receiving() as s2_end:
        hook(chain, chain.core, core_end.url, due, overdue)
        hook(chain, chain.s1, s1_end.url, paid_event, overdue)
        hook(chain, chain.s2, s2_end.url, paid_event, overdue)
        root = chain.issued("100.00", days=2)
        moved = chain.transfer(chain.s1, [root], [(chain.s2, "40.00")]).json()
        pieces = [p for p in moved["effects"]["certificates"] if p["state"] != "spent"]
        to_s2 = next(p for p in pieces if p["holder"] == chain.s2.id)
        change = next(p for p in pieces if p["holder"] == chain.s1.id)
        ok(chain.client(chain.s2).submit("certificate.accept", {"id": to_s2["id"]}))
        chain.ledger.sweep_all()
        [notice] = verified(core_end, secret_of(chain, chain.core, core_end.url), 1)
        chain.clock.advance(days=4)
        paid = ok(chain.client(chain.core).submit(
            "settlement.pay", {"pieces": [to_s2["id"]], "payment_ref": "P-1"}
        ))  # fmt: skip
        chain.ledger.sweep_all()  # s1's 60.00 is overdue now
        [s2_told] = verified(s2_end, secret_of(chain, chain.s2, s2_end.url), 1)
        [s1_told] = verified(s1_end, secret_of(chain, chain.s1, s1_end.url), 1)
        core_told = verified(core_end, secret_of(chain, chain.core, core_end.url), 2)
    assert notice["type"] == due
    assert (notice["data"]["issuer"], notice["data"]["maturity"]) == (chain.core.id, "2026-03-04")
    assert notice["data"]["amount"] == "100.00" and notice["data"]["pieces"] == 2
    assert {(i["holder"], i["amount"]) for i in notice["data"]["listed"]} == {
        (chain.s1.id, "60.00"),
        (chain.s2.id, "40.00"),
    }
    assert s2_told["type"] == paid_event and s2_told["data"]["state"] == "settled"
    assert s2_told["data"]["seq"] == paid["seq"] and s2_told["data"]["paid"] == "40.00"
    assert s1_told["type"] == overdue and s1_told["data"]["id"] == change["id"]
    assert core_told[1]["type"] == overdue and core_told[1]["data"]["id"] == change["id"]
    assert chain.ledger.verify().ok
