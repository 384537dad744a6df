"""What a caller without a key, or with one member's key, can learn or replay (issue 8).

Signatures are bound to one ledger; an unproven signer, a stranger to a certificate and
a reused nonce get answers that tell nothing the caller did not already know.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.commands import signed_bytes
from ledger.db import make_engine
from ledger.keys import generate_private_key, sign
from ledger.service import Ledger
from ledger.signing import key_id_for, new_nonce, sign_request
from tests.conftest import Actor, Chain, Clock, Template, World, new_actor, pg_database
from tests.helpers import assert_problem, certs, head, refused

_other_databases = itertools.count(1)


@pytest.fixture
def other_world(
    template: Template, tmp_path: Path, clock: Clock, operator: Actor
) -> Iterator[World]:
    """A second deployment (its own database) whose genesis admitted the same operator key:
    staging next to production, or another platform."""
    urls: Iterator[str]
    if template.kind == "sqlite":
        path = tmp_path / "other.db"
        shutil.copyfile(template.location, path)
        urls = iter([f"sqlite:///{path}"])
    else:
        urls = pg_database(f"{template.location}_other_{next(_other_databases)}", template.location)
    url = next(urls)
    engine = make_engine(url)
    ledger = Ledger(engine, clock=clock)
    ledger.genesis(operator.id, "Platform operator", operator.public_key)
    with TestClient(create_app(ledger), raise_server_exceptions=False) as http:
        yield World(http, ledger, operator, clock)
    engine.dispose()
    for _ in urls:  # drops the PostgreSQL database
        pass


def _admit_body(actor: Actor) -> dict[str, Any]:
    return {"id": actor.id, "name": "Bank", "roles": ["bank"], "public_key": actor.public_key}


# -- item: signatures bound to one ledger ---------------------------------------------------


def test_the_ledger_id_is_published_without_authentication(
    world: World, other_world: World
) -> None:
    response = world.http.get("/v1/ledger")
    assert response.status_code == 200, response.text
    ledger_id = response.json()["ledger_id"]
    genesis = world.ledger.read(lambda repo: repo.entry(1))
    assert genesis is not None and ledger_id == genesis.entry.entry_hash
    # Two deployments initialised with the same operator key still have different ids.
    assert other_world.http.get("/v1/ledger").json()["ledger_id"] != ledger_id


def test_a_command_accepted_by_one_ledger_is_refused_by_another(
    world: World, other_world: World
) -> None:
    envelope = world.client(world.operator).envelope("member.admit", _admit_body(new_actor()))
    assert world.client(world.operator).post_envelope(envelope).status_code == 201
    replayed = other_world.client(other_world.operator).post_envelope(envelope)
    refused(other_world, replayed, 401, "bad-signature")
    assert head(other_world) == 1
    assert other_world.ledger.verify().ok


def test_a_signed_read_for_one_ledger_is_refused_by_another(
    world: World, other_world: World
) -> None:
    path = f"/v1/members/{world.operator.id}"
    headers = sign_request(
        world.operator.key,
        world.operator.id,
        "GET",
        path,
        timestamp=int(world.clock().timestamp()),
        ledger=world.ledger.ledger_id(),
    )
    assert world.http.get(path, headers=headers).status_code == 200
    assert_problem(other_world.http.get(path, headers=headers), 401, "bad-signature")
    assert world.ledger.verify().ok


def test_a_command_without_its_ledger_is_malformed(world: World) -> None:
    envelope = world.client(world.operator).envelope("member.admit", _admit_body(new_actor()))
    del envelope["command"]["ledger"]
    envelope["signature"] = sign(world.operator.key, signed_bytes(envelope["command"]))
    response = world.client(world.operator).post_envelope(envelope)
    problem = refused(world, response, 422, "validation")
    assert problem["errors"][0]["field"] == "command.ledger"


def test_entries_signed_before_ledger_ids_existed_keep_verifying(world: World) -> None:
    """A journal written before commands named their ledger: such an entry is appended as
    that version wrote it, and the auditor still accepts its signature."""
    member = world.admit("supplier")
    command = {  # the old header: no "ledger"
        "type": "member.netting_consent",
        "signer": member.id,
        "key_id": key_id_for(member.key),
        "nonce": new_nonce(),
        "issued_at": world.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": {"consent": True},
    }
    signature = sign(member.key, signed_bytes(command))
    from ledger.chain import make_entry
    from ledger.commands import format_timestamp
    from ledger.projections import apply_effects
    from ledger.repository import Repository

    found = world.ledger.head()
    assert found is not None
    effects = {"members": [{**_member_wire(world, member.id), "netting_consent": True}]}
    with world.ledger.engine.begin() as conn:
        entry, command_bytes, effects_bytes = make_entry(
            found.seq + 1,
            found.entry_hash,
            format_timestamp(world.clock()),
            command,
            signature,
            effects,
        )
        Repository(conn).append(
            entry, (command_bytes, effects_bytes), member.id, command["nonce"], command["type"]
        )
        apply_effects(conn, command, effects, entry.seq)
    report = world.ledger.verify()
    assert report.ok, [str(p) for p in report.problems]
    assert report.entries == found.seq + 1


def _member_wire(world: World, member_id: str) -> dict[str, Any]:
    found = world.ledger.member(member_id)
    assert found is not None
    return found.wire()


# -- item: membership and existence oracles ---------------------------------------------------


def _answer(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["type"], body["detail"]


def test_an_unproven_signer_gets_one_answer_whether_or_not_it_is_admitted(
    world: World,
) -> None:
    admitted = world.admit("supplier")
    garbage_key = generate_private_key()
    as_member = world.client(Actor(admitted.id, garbage_key))
    as_stranger = world.client(Actor(new_actor().id, garbage_key))
    body = {"consent": True}
    member_answer = as_member.submit("member.netting_consent", body)
    stranger_answer = as_stranger.submit("member.netting_consent", body)
    refused(world, member_answer, 401, "bad-signature")
    refused(world, stranger_answer, 401, "bad-signature")
    assert _answer(member_answer) == _answer(stranger_answer)
    # A signed read: the same single answer.
    path = f"/v1/members/{world.operator.id}"
    read_as_member, read_as_stranger = as_member.get(path), as_stranger.get(path)
    assert_problem(read_as_member, 401, "bad-signature")
    assert _answer(read_as_member) == _answer(read_as_stranger)
    # The real key id of an admitted member with a signature that does not verify: same.
    forged = world.client(admitted).envelope("member.netting_consent", body)
    forged["signature"] = sign(garbage_key, signed_bytes(forged["command"]))
    assert _answer(world.client(admitted).post_envelope(forged)) == _answer(stranger_answer)
    assert world.ledger.verify().ok


def _without(response: Any, certificate_id: str) -> tuple[int, str, str]:
    status, type_, detail = _answer(response)
    return status, type_, detail.replace(certificate_id, "<id>")


def test_a_strangers_certificate_answers_as_if_it_did_not_exist(chain: Chain) -> None:
    unknown = "f" * 32
    held = chain.issued("100.00")  # active, held by s1
    pending = certs(chain.issue("10.00"))[0]["id"]  # pending for s1
    stranger = chain.client(chain.s3)
    before = head(chain)
    for command_type in ("certificate.accept", "certificate.reject", "certificate.cancel"):
        theirs = stranger.submit(command_type, {"id": pending})
        nothing = stranger.submit(command_type, {"id": unknown})
        if command_type != "certificate.cancel":  # cancel is for cores: s3 is forbidden
            refused(chain, theirs, 404, "certificate-not-found")
        assert _without(theirs, pending) == _without(nothing, unknown), command_type
    spend_theirs = chain.transfer(chain.s3, [held], [(chain.s2, "1.00")])
    spend_nothing = chain.transfer(chain.s3, [unknown], [(chain.s2, "1.00")])
    refused(chain, spend_theirs, 404, "certificate-not-found")
    assert _without(spend_theirs, held) == _without(spend_nothing, unknown)
    # Reads, too, answer alike.
    assert _without(stranger.get(f"/v1/certificates/{held}"), held) == _without(
        stranger.get(f"/v1/certificates/{unknown}"), unknown
    )
    assert head(chain) == before
    assert chain.ledger.verify().ok


def test_a_strangers_obligation_answers_as_if_it_did_not_exist(world: World) -> None:
    debtor, creditor, stranger = (world.admit("supplier") for _ in range(3))
    registered = world.client(debtor).submit(
        "obligation.register",
        {"creditor": creditor.id, "amount": "10.00", "due_date": "2099-01-01", "reference": "PO"},
    )
    obligation_id = registered.json()["effects"]["obligations"][0]["id"]
    unknown = "e" * 32
    for command_type in ("obligation.confirm", "obligation.reject", "obligation.settle"):
        extra = {"payment_ref": "X"} if command_type == "obligation.settle" else {}
        theirs = world.client(stranger).submit(command_type, {"id": obligation_id, **extra})
        nothing = world.client(stranger).submit(command_type, {"id": unknown, **extra})
        refused(world, theirs, 404, "obligation-not-found")
        assert _answer(theirs) == _answer(nothing)
    read_theirs = world.client(stranger).get(f"/v1/obligations/{obligation_id}")
    read_nothing = world.client(stranger).get(f"/v1/obligations/{unknown}")
    assert _without(read_theirs, obligation_id) == _without(read_nothing, unknown)
    assert world.ledger.verify().ok


def test_a_reused_nonce_names_no_seq_and_needs_the_signers_key(world: World) -> None:
    member = world.admit("supplier")
    client = world.client(member)
    first = client.submit("member.netting_consent", {"consent": True})
    assert first.status_code == 201
    nonce = json_command(first)["nonce"]
    seq = first.json()["seq"]
    # The signer itself, a different command with the used nonce: refused, naming no seq.
    again = client.submit("member.netting_consent", {"consent": False}, nonce=nonce)
    problem = assert_problem(again, 409, "replayed-nonce")
    assert str(seq) not in problem["detail"].replace(nonce, ""), problem
    # Without the key, an old command reusing the nonce learns nothing about it at all.
    stale = client.envelope("member.netting_consent", {"consent": False}, nonce=nonce)
    stale["command"]["issued_at"] = "2020-01-01T00:00:00Z"
    stale["signature"] = sign(generate_private_key(), signed_bytes(stale["command"]))
    answer = world.client(member).post_envelope(stale)
    assert_problem(answer, 401, "bad-signature")
    assert str(seq) not in answer.json()["detail"]
    assert world.ledger.verify().ok


def json_command(response: Any) -> dict[str, Any]:
    import json

    command: dict[str, Any] = json.loads(response.request.content)["command"]
    return command
