"""Members and signed commands over HTTP, on a real database."""

from __future__ import annotations

from typing import Any

from ledger.keys import generate_private_key, public_key_b64
from ledger.signing import key_id_for
from tests.conftest import Actor, World, new_actor
from tests.helpers import assert_problem


def head_seq(world: World) -> int:
    head = world.ledger.head()
    assert head is not None
    return head.seq


def test_admit_answers_a_receipt_and_the_member_is_visible(world: World) -> None:
    newcomer = new_actor()
    response = world.client(world.operator).submit(
        "member.admit",
        {
            "id": newcomer.id,
            "name": "Fuzhou Steel",
            "roles": ["supplier"],
            "public_key": newcomer.public_key,
        },
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["seq"] == 2 and len(receipt["entry_hash"]) == 64
    assert receipt["effects"]["members"][0]["id"] == newcomer.id

    record = world.client(newcomer).get(f"/v1/members/{world.operator.id}")
    assert record.status_code == 200, record.text
    assert record.json()["roles"] == ["operator"]
    mine = world.client(world.operator).get(f"/v1/members/{newcomer.id}").json()
    assert mine == {
        "id": newcomer.id,
        "name": "Fuzhou Steel",
        "roles": ["supplier"],
        "status": "active",
        "key_id": key_id_for(newcomer.key),
        "public_key": newcomer.public_key,
        "admitted_seq": 2,
        "netting_consent": False,
        "keys": [
            {
                "key_id": key_id_for(newcomer.key),
                "name": "primary",
                "public_key": newcomer.public_key,
                "added_seq": 2,
            }
        ],
    }


def test_tampered_command_is_a_bad_signature_and_writes_nothing(world: World) -> None:
    newcomer = new_actor()
    client = world.client(world.operator)
    envelope = client.envelope(
        "member.admit",
        {"id": newcomer.id, "name": "A", "roles": ["supplier"], "public_key": newcomer.public_key},
    )
    envelope["command"]["body"]["roles"] = ["operator"]
    before = head_seq(world)
    assert_problem(client.post_envelope(envelope), 401, "bad-signature")
    assert head_seq(world) == before


def test_signature_by_another_private_key_is_refused(world: World) -> None:
    impostor = Actor(world.operator.id, generate_private_key())
    envelope = world.client(impostor).envelope("member.suspend", {"id": world.operator.id})
    envelope["command"]["key_id"] = key_id_for(world.operator.key)
    from ledger.commands import signed_bytes
    from ledger.keys import sign

    envelope["signature"] = sign(impostor.key, signed_bytes(envelope["command"]))
    assert_problem(world.client(impostor).post_envelope(envelope), 401, "bad-signature")


def test_unknown_signer_and_unknown_key_are_refused(world: World) -> None:
    stranger = new_actor()
    response = world.client(stranger).submit("member.suspend", {"id": world.operator.id})
    assert_problem(response, 401, "bad-signature")
    # The operator's id with a key it never registered: the same answer (no oracle).
    wrong_key = Actor(world.operator.id, generate_private_key())
    response = world.client(wrong_key).submit("member.suspend", {"id": stranger.id})
    assert_problem(response, 401, "bad-signature")


def test_non_operator_cannot_admit(world: World) -> None:
    supplier = world.admit("supplier")
    other = new_actor()
    response = world.client(supplier).submit(
        "member.admit",
        {"id": other.id, "name": "X", "roles": ["bank"], "public_key": other.public_key},
    )
    assert_problem(response, 403, "forbidden")


def test_suspended_member_is_refused_until_reinstated(world: World) -> None:
    supplier = world.admit("supplier")
    operator = world.client(world.operator)
    assert operator.submit("member.suspend", {"id": supplier.id}).status_code == 201
    new_key = public_key_b64(generate_private_key().public_key())
    refused = world.client(supplier).submit("member.rotate_key", {"public_key": new_key})
    assert_problem(refused, 403, "member-suspended")
    assert_problem(
        world.client(supplier).get(f"/v1/members/{supplier.id}"), 403, "member-suspended"
    )
    assert_problem(
        operator.submit("member.suspend", {"id": supplier.id}), 409, "invalid-member-state"
    )
    assert operator.submit("member.reinstate", {"id": supplier.id}).status_code == 201
    assert (
        world.client(supplier).submit("member.rotate_key", {"public_key": new_key}).status_code
        == 201
    )


def test_retired_key_can_neither_sign_nor_read(world: World) -> None:
    supplier = world.admit("supplier")
    successor = Actor(supplier.id, generate_private_key())
    rotated = world.client(supplier).submit(
        "member.rotate_key", {"public_key": successor.public_key}
    )
    assert rotated.status_code == 201, rotated.text
    keys = {k["key_id"]: k for k in rotated.json()["effects"]["keys"]}
    assert keys[key_id_for(supplier.key)]["retired_seq"] == rotated.json()["seq"]

    new_key = public_key_b64(generate_private_key().public_key())
    assert_problem(
        world.client(supplier).submit("member.rotate_key", {"public_key": new_key}),
        401,
        "retired-key",
    )
    assert_problem(world.client(supplier).get(f"/v1/members/{supplier.id}"), 401, "retired-key")
    assert world.client(successor).get(f"/v1/members/{supplier.id}").json()["key_id"] == key_id_for(
        successor.key
    )
    # A key already registered to anyone cannot be registered again.
    taken = world.client(successor).submit(
        "member.rotate_key", {"public_key": world.operator.public_key}
    )
    assert_problem(taken, 409, "key-in-use")


def test_identical_resubmission_returns_the_original_receipt(world: World) -> None:
    newcomer = new_actor()
    client = world.client(world.operator)
    envelope = client.envelope(
        "member.admit",
        {"id": newcomer.id, "name": "B", "roles": ["bank"], "public_key": newcomer.public_key},
    )
    first = client.post_envelope(envelope)
    assert first.status_code == 201
    again = client.post_envelope(envelope)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert head_seq(world) == first.json()["seq"]


def test_reused_nonce_for_a_different_command_is_409(world: World) -> None:
    a, b = new_actor(), new_actor()
    client = world.client(world.operator)
    nonce = "n" * 20
    first = client.submit(
        "member.admit",
        {"id": a.id, "name": "A", "roles": ["bank"], "public_key": a.public_key},
        nonce=nonce,
    )
    assert first.status_code == 201
    second = client.submit(
        "member.admit",
        {"id": b.id, "name": "B", "roles": ["bank"], "public_key": b.public_key},
        nonce=nonce,
    )
    assert_problem(second, 409, "replayed-nonce")
    assert head_seq(world) == first.json()["seq"]


def test_stale_and_future_timestamps_are_refused(world: World) -> None:
    from datetime import timedelta

    client = world.client(world.operator)
    supplier = world.admit("supplier")
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        response = client.submit(
            "member.suspend", {"id": supplier.id}, issued_at=world.clock() + skew
        )
        assert_problem(response, 401, "stale-timestamp")
    ok = client.submit(
        "member.suspend", {"id": supplier.id}, issued_at=world.clock() - timedelta(minutes=4)
    )
    assert ok.status_code == 201, ok.text


def test_a_float_amount_is_refused_where_its_string_is_accepted(world: World) -> None:
    import json

    core = world.admit("core")
    client = world.client(world.operator)
    start = head_seq(world)

    def limit_set(amount_json: str) -> Any:
        envelope = client.envelope("limit.set", {"member": core.id, "amount": "__AMOUNT__"})
        raw = json.dumps(envelope).replace('"__AMOUNT__"', amount_json, 1)
        return world.http.post(
            "/v1/commands", content=raw, headers={"content-type": "application/json"}
        )

    # The float is refused before its signature is checked (the signed bytes could not
    # even be formed: RFC 8785 would print 12.5, the client meant an exact amount).
    body = assert_problem(limit_set("12.5"), 422, "invalid-amount")
    assert body["errors"][0]["field"] == "command.body.amount"
    assert "JSON number" in body["detail"]
    assert head_seq(world) == start
    assert limit_set("12").json()["type"] == "invalid-amount"  # an integer is no amount either
    accepted = client.submit("limit.set", {"member": core.id, "amount": "12.50"})
    assert accepted.status_code == 201, accepted.text  # the same amount, as a decimal string
    assert head_seq(world) == start + 1


def test_unknown_command_type_is_refused(world: World) -> None:
    response = world.client(world.operator).submit("member.promote", {"id": world.operator.id})
    body = assert_problem(response, 422, "unknown-command")
    assert "member.admit" in body["known"]


def test_validation_errors_name_the_field(world: World) -> None:
    response = world.client(world.operator).submit(
        "member.admit",
        {
            "id": "91350100M000100Y44",
            "name": "X",
            "roles": ["supplier"],
            "public_key": world.operator.public_key,
        },
    )
    body = assert_problem(response, 422, "validation")
    assert body["errors"][0]["field"] == "command.body.id"
    response = world.client(world.operator).submit(
        "member.admit",
        {
            "id": new_actor().id,
            "name": "X",
            "roles": ["king"],
            "public_key": world.operator.public_key,
        },
    )
    assert assert_problem(response, 422, "validation")["errors"][0]["field"].startswith(
        "command.body.roles"
    )


def test_reads_need_valid_signed_headers(world: World) -> None:
    path = f"/v1/members/{world.operator.id}"
    assert_problem(world.http.get(path), 401, "unauthenticated")
    client = world.client(world.operator)
    good = client.get(path)
    assert good.status_code == 200
    from ledger.signing import sign_request

    headers = sign_request(
        world.operator.key,
        world.operator.id,
        "GET",
        path,
        timestamp=int(world.clock().timestamp()),
        ledger=world.ledger.ledger_id(),
    )
    tampered = world.http.get(path + "?x=1", headers=headers)
    assert_problem(tampered, 401, "bad-signature")
    stale = sign_request(
        world.operator.key,
        world.operator.id,
        "GET",
        path,
        timestamp=int(world.clock().timestamp()) - 301,
        ledger=world.ledger.ledger_id(),
    )
    assert_problem(world.http.get(path, headers=stale), 401, "stale-timestamp")
    stranger = new_actor()
    assert_problem(world.client(stranger).get(path), 401, "bad-signature")
    assert_problem(client.get(f"/v1/members/{new_actor().id}"), 404, "not-found")


def test_verify_endpoint_is_for_the_operator_only(world: World) -> None:
    supplier = world.admit("supplier")
    assert_problem(world.client(supplier).get("/v1/ledger/verify"), 403, "forbidden")
    report = world.client(world.operator).get("/v1/ledger/verify")
    assert report.status_code == 200
    assert report.json()["ok"] is True and report.json()["entries"] == 2
    head = world.client(supplier).get("/v1/ledger/head").json()
    assert head["seq"] == 2


def test_health_and_unknown_routes(world: World) -> None:
    assert world.http.get("/healthz").json()["status"] == "ok"
    assert_problem(world.http.get("/v1/nowhere"), 404, "not-found")
    assert_problem(world.http.get("/v1/commands"), 405, "method-not-allowed")
    assert world.http.get("/docs").status_code == 200
    assert "/v1/commands" in world.http.get("/openapi.json").json()["paths"]


def test_a_read_signed_by_hand_from_the_published_recipe(world: World) -> None:
    """Sign `LEDGER\\nMETHOD\\nPATH?QUERY\\nTIMESTAMP\\nhex(SHA-256(body))` without our
    client code, the ledger id read from `GET /v1/ledger`."""
    import base64
    import hashlib

    operator = world.operator
    timestamp = str(int(world.clock().timestamp()))
    target = f"/v1/wallets/{operator.id}/history?limit=2"
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hashlib.sha256(b"").hexdigest() == empty_sha256
    ledger = world.http.get("/v1/ledger").json()["ledger_id"]

    def headers(message: str) -> dict[str, str]:
        signature = operator.key.sign(message.encode())
        raw_public = base64.urlsafe_b64decode(operator.public_key + "=")
        return {
            "X-DCC-Member": operator.id,
            "X-DCC-Key-Id": hashlib.sha256(raw_public).hexdigest()[:32],
            "X-DCC-Timestamp": timestamp,
            "X-DCC-Signature": base64.urlsafe_b64encode(signature).decode().rstrip("="),
        }

    recipe = f"{ledger}\nGET\n{target}\n{timestamp}\n{empty_sha256}"
    good = world.http.get(target, headers=headers(recipe))
    assert good.status_code == 200, good.text
    assert good.json()["member"] == operator.id
    without_query = target.partition("?")[0]
    for wrong in (
        f"{ledger}\nGET\n{without_query}\n{timestamp}\n{empty_sha256}",  # the query is covered
        f"{ledger}\nget\n{target}\n{timestamp}\n{empty_sha256}",  # the method is upper case
        f"{ledger}\nGET\n{target}\n{timestamp}\n{empty_sha256}\n",  # no trailing newline
        f"GET\n{target}\n{timestamp}\n{empty_sha256}",  # the ledger is covered
        f"{'0' * 64}\nGET\n{target}\n{timestamp}\n{empty_sha256}",  # this ledger only
    ):
        assert_problem(world.http.get(target, headers=headers(wrong)), 401, "bad-signature")


def test_healthz_tells_up_but_not_initialised_from_ready(ledger: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    operator = new_actor()
    with TestClient(create_app(ledger)) as http:
        waiting = http.get("/healthz")
        assert waiting.status_code == 503, waiting.text
        assert waiting.headers["content-type"] == "application/json"
        body = waiting.json()
        assert (body["status"], body["seq"], body["clock_offset_s"]) == ("not-initialised", 0, 0)
        assert "dcc init" in body["detail"]
        ledger.genesis(operator.id, "Platform operator", operator.public_key)
        ready = http.get("/healthz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "seq": 1, "clock_offset_s": 0}


def test_healthz_answers_a_problem_when_the_database_is_unreachable(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.db import make_engine
    from ledger.service import Ledger

    missing = tmp_path / "no-such-dir" / "dcc.db"  # SQLite cannot create it: unreachable
    with TestClient(create_app(Ledger(make_engine(f"sqlite:///{missing}")))) as http:
        response = http.get("/healthz")
    assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"


def test_livez_answers_without_touching_the_database(tmp_path: Any) -> None:
    """Liveness is the process, not the database: it answers where /healthz cannot."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.db import make_engine
    from ledger.service import Ledger

    missing = tmp_path / "no-such-dir" / "dcc.db"  # SQLite cannot create it: unreachable
    with TestClient(create_app(Ledger(make_engine(f"sqlite:///{missing}")))) as http:
        assert_problem(http.get("/healthz"), 503, "unavailable")
        response = http.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
