"""A member's named keys over HTTP, on a real database: several people in one firm, and
the operator's reset of a lost key. After each test the ledger fixture runs ``dcc
verify``'s check with re-execution, so every entry written here must re-execute."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api.audit import audit
from api.cli import app as cli_app
from ledger.errors import Refusal
from ledger.keys import generate_private_key
from ledger.limits import KEYS_PER_MEMBER_MAX
from ledger.service import Receipt
from ledger.signing import key_id_for
from migrations.runner import alembic_config, upgrade
from tests.conftest import Actor, Chain, World, new_actor
from tests.helpers import assert_problem, ok, publish_log_key, refused


def _second(actor: Actor) -> Actor:
    """Another person of the same firm: the same member id, a key of its own."""
    return Actor(actor.id, generate_private_key())


def _add(world: World, by: Actor, name: str, key: Actor) -> dict[str, object]:
    return ok(
        world.client(by).submit("member.add_key", {"name": name, "public_key": key.public_key})
    )


def test_a_second_key_signs_commands_and_reads_and_is_listed_by_name(world: World) -> None:
    firm = world.admit("supplier")
    treasurer = _second(firm)
    receipt = _add(world, firm, "treasurer", treasurer)
    (row,) = receipt["effects"]["keys"]  # type: ignore[index]
    assert row["name"] == "treasurer" and row["retired_seq"] is None
    # The treasurer signs a command and a read with its own key.
    ok(world.client(treasurer).submit("member.netting_consent", {"consent": True}))
    record = ok(world.client(treasurer).get(f"/v1/members/{firm.id}"))
    assert record["key_id"] == key_id_for(firm.key)  # the primary key is still the first
    assert [(k["name"], k["key_id"]) for k in record["keys"]] == [
        ("primary", key_id_for(firm.key)),
        ("treasurer", key_id_for(treasurer.key)),
    ]
    assert record["keys"][1]["added_seq"] == receipt["seq"]
    # The operator sees the names too; another member sees the keys but not their names.
    seen = ok(world.client(world.operator).get(f"/v1/members/{firm.id}"))
    assert seen["keys"] == record["keys"]
    other = ok(world.client(world.admit("bank")).get(f"/v1/members/{firm.id}"))
    assert [k["key_id"] for k in other["keys"]] == [k["key_id"] for k in record["keys"]]
    assert all("name" not in k for k in other["keys"])


def test_the_journal_names_the_key_that_signed_each_entry(world: World) -> None:
    firm = world.admit("supplier")
    clerk = _second(firm)
    _add(world, firm, "clerk", clerk)
    signed = ok(world.client(clerk).submit("member.netting_consent", {"consent": True}))
    seq = signed["seq"]
    entry = ok(world.client(firm).get(f"/v1/ledger/entries/{seq}"))
    assert entry["command"]["key_id"] == key_id_for(clerk.key)
    key = ok(world.client(firm).get(f"/v1/ledger/entries/{seq}/key"))
    assert key == {
        "seq": seq,
        "signer": firm.id,
        "key_id": key_id_for(clerk.key),
        "name": "clerk",
        "public_key": clerk.public_key,
        "added_seq": seq - 1,
    }
    # Only the entry's parties and the operator; a system entry has no key.
    assert_problem(
        world.client(world.admit("bank")).get(f"/v1/ledger/entries/{seq}/key"), 404, "not-found"
    )
    ok(world.client(world.operator).get(f"/v1/ledger/entries/{seq}/key"))
    assert_problem(world.client(world.operator).get("/v1/ledger/entries/1/key"), 404, "not-found")
    # A party that did not sign sees which key, not what its signer calls it.
    bank = world.admit("bank")
    admitted = ok(world.client(bank).get(f"/v1/members/{bank.id}"))["admitted_seq"]
    seen = ok(world.client(bank).get(f"/v1/ledger/entries/{admitted}/key"))
    assert seen["signer"] == world.operator.id and "name" not in seen
    own = ok(world.client(world.operator).get(f"/v1/ledger/entries/{admitted}/key"))
    assert own["name"] == "primary" and own["key_id"] == seen["key_id"]


def test_remove_key_retires_it_and_the_last_key_stays(world: World) -> None:
    firm = world.admit("supplier")
    clerk = _second(firm)
    _add(world, firm, "clerk", clerk)
    removed = ok(world.client(firm).submit("member.remove_key", {"name": "clerk"}))
    assert removed["effects"] == {
        "keys": [
            {
                "key_id": key_id_for(clerk.key),
                "member": firm.id,
                "public_key": clerk.public_key,
                "added_seq": removed["seq"] - 1,
                "retired_seq": removed["seq"],
                "name": "clerk",
            }
        ]
    }
    assert_problem(
        world.client(clerk).submit("member.netting_consent", {"consent": True}), 401, "retired-key"
    )
    assert_problem(world.client(clerk).get(f"/v1/members/{firm.id}"), 401, "retired-key")
    # The firm's last key cannot go; a name no active key has is not found.
    refused(
        world, world.client(firm).submit("member.remove_key", {"name": "primary"}), 409, "last-key"
    )
    refused(
        world,
        world.client(firm).submit("member.remove_key", {"name": "clerk"}),
        404,
        "key-not-found",
    )
    # The retired key's name is free again, its public key is not.
    refused(
        world,
        world.client(firm).submit(
            "member.add_key", {"name": "clerk", "public_key": clerk.public_key}
        ),
        409,
        "key-in-use",
    )
    _add(world, firm, "clerk", _second(firm))


def test_removing_the_primary_key_moves_the_member_record_to_the_oldest_other(
    world: World,
) -> None:
    firm = world.admit("supplier")
    clerk, treasurer = _second(firm), _second(firm)
    _add(world, firm, "clerk", clerk)
    _add(world, firm, "treasurer", treasurer)
    removed = ok(world.client(treasurer).submit("member.remove_key", {"name": "primary"}))
    assert removed["effects"]["members"][0]["key_id"] == key_id_for(clerk.key)
    record = ok(world.client(treasurer).get(f"/v1/members/{firm.id}"))
    assert record["key_id"] == key_id_for(clerk.key)
    assert [k["name"] for k in record["keys"]] == ["clerk", "treasurer"]
    # A rotation replaces the signing key alone, which keeps its name.
    successor = _second(firm)
    rotated = ok(
        world.client(treasurer).submit("member.rotate_key", {"public_key": successor.public_key})
    )
    assert "members" not in rotated["effects"]
    assert rotated["effects"]["keys"][1]["name"] == "treasurer"
    record = ok(world.client(successor).get(f"/v1/members/{firm.id}"))
    assert [(k["name"], k["key_id"]) for k in record["keys"]] == [
        ("clerk", key_id_for(clerk.key)),
        ("treasurer", key_id_for(successor.key)),
    ]


def test_duplicate_names_and_the_limit_are_refused(world: World) -> None:
    firm = world.admit("supplier")
    client = world.client(firm)
    taken = client.submit(
        "member.add_key", {"name": "primary", "public_key": new_actor().public_key}
    )
    refused(world, taken, 409, "key-name-taken")
    refused(
        world,
        client.submit("member.add_key", {"name": "x\u202e", "public_key": new_actor().public_key}),
        422,
        "validation",
    )
    refused(
        world,
        client.submit("member.add_key", {"name": "clerk", "public_key": world.operator.public_key}),
        409,
        "key-in-use",
    )
    for number in range(KEYS_PER_MEMBER_MAX - 1):
        _add(world, firm, f"clerk {number}", _second(firm))
    record = ok(client.get(f"/v1/members/{firm.id}"))
    assert len(record["keys"]) == KEYS_PER_MEMBER_MAX
    problem = refused(
        world,
        client.submit("member.add_key", {"name": "one more", "public_key": new_actor().public_key}),
        422,
        "member-keys-exceeded",
    )
    assert str(KEYS_PER_MEMBER_MAX) in problem["detail"]
    # Removing one makes room again.
    ok(client.submit("member.remove_key", {"name": "clerk 0"}))
    _add(world, firm, "one more", _second(firm))


def test_the_operator_resets_a_lost_key(world: World) -> None:
    firm = world.admit("supplier")
    clerk = _second(firm)
    _add(world, firm, "clerk", clerk)
    fresh = _second(firm)
    reason = "legal representative in person with the business licence; ticket OPS-1042"
    body = {"member": firm.id, "public_key": fresh.public_key, "reason": reason}
    reset = ok(world.client(world.operator).submit("member.reset_key", body))
    seq = reset["seq"]
    retired = {k["key_id"]: k["retired_seq"] for k in reset["effects"]["keys"]}
    assert retired == {
        key_id_for(firm.key): seq,
        key_id_for(clerk.key): seq,
        key_id_for(fresh.key): None,
    }
    assert reset["effects"]["members"][0]["key_id"] == key_id_for(fresh.key)
    # The reason is in the journal, with the command.
    entry = ok(world.client(world.operator).get(f"/v1/ledger/entries/{seq}"))
    assert entry["command"]["type"] == "member.reset_key"
    assert entry["command"]["body"]["reason"] == reason
    # Every old key is refused from then on; the new one signs and reads.
    for old in (firm, clerk):
        assert_problem(
            world.client(old).submit("member.netting_consent", {"consent": True}),
            401,
            "retired-key",
        )
        assert_problem(world.client(old).get(f"/v1/members/{firm.id}"), 401, "retired-key")
    ok(world.client(fresh).submit("member.netting_consent", {"consent": True}))
    record = ok(world.client(fresh).get(f"/v1/members/{firm.id}"))
    assert [(k["name"], k["key_id"]) for k in record["keys"]] == [
        ("primary", key_id_for(fresh.key))
    ]


def test_a_reset_is_the_operators_alone_and_needs_a_reason(world: World) -> None:
    firm, other = world.admit("supplier"), world.admit("core")
    body = {"member": firm.id, "public_key": new_actor().public_key, "reason": "trust me"}
    # Not even the member itself, nor a core enterprise.
    for who in (firm, other):
        refused(world, world.client(who).submit("member.reset_key", body), 403, "forbidden")
    operator = world.client(world.operator)
    for bad in ({"reason": ""}, {"reason": "x" * 501}, {"reason": None}):
        sent = {k: v for k, v in (body | bad).items() if v is not None}
        refused(world, operator.submit("member.reset_key", sent), 422, "validation")
    unknown = body | {"member": new_actor().id}
    refused(world, operator.submit("member.reset_key", unknown), 404, "member-not-found")
    in_use = body | {"public_key": other.public_key}
    refused(world, operator.submit("member.reset_key", in_use), 409, "key-in-use")
    # The member's key still works: nothing was applied.
    ok(world.client(firm).get(f"/v1/members/{firm.id}"))


def test_dcc_verify_and_audit_pass_over_added_removed_and_reset_keys(
    chain: Chain, database_url: str, tmp_path: Path
) -> None:
    publish_log_key(chain, tmp_path)
    clerk = _second(chain.s1)
    _add(chain, chain.s1, "clerk", clerk)
    root = chain.issued("500.00")
    # The clerk pays the next tier; the firm's first key is then lost and reset.
    ok(chain.transfer(clerk, [root], [(chain.s2, "100.00"), (chain.s1, "400.00")]))
    ok(chain.client(chain.s1).submit("member.remove_key", {"name": "clerk"}))
    fresh = _second(chain.s1)
    ok(
        chain.client(chain.operator).submit(
            "member.reset_key",
            {"member": chain.s1.id, "public_key": fresh.public_key, "reason": "lost"},
        )
    )
    result = CliRunner().invoke(cli_app, ["verify", "--db", database_url])
    assert result.exit_code == 0, result.output
    # The receiving member audits its entries: the clerk's transfer, signed by a key
    # since retired, is checked against that key (not left unchecked).
    chain.ledger.checkpoint(force=True)
    report = audit(chain.client(chain.s2), tmp_path / "state")
    assert report.ok, report.lines()
    assert report.unchecked_signatures == []
    assert report.entries_checked >= 2


def test_migration_0010_names_the_keys_of_a_populated_ledger(world: World, engine: Engine) -> None:
    """A ledger from before names (admissions, a rotation), taken back to revision 0009
    and upgraded again: every key is "primary", the journal still replays to the stored
    rows and re-executes, and the member adds a named key."""
    firm = world.admit("supplier")
    successor = _second(firm)
    ok(world.client(firm).submit("member.rotate_key", {"public_key": successor.public_key}))
    _downgrade(engine, "0009")
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM member_keys")).keys()
    assert "name" not in columns
    upgrade(engine)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT DISTINCT name FROM member_keys")).scalars().all()
        count = conn.execute(text("SELECT count(*) FROM member_keys")).scalar_one()
    assert names == ["primary"] and count == 3  # the operator's, the firm's first and its successor
    report = world.ledger.verify()
    assert report.ok, report.problems[:3]
    _add(world, successor, "clerk", _second(firm))


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_one_batch_sees_the_keys_its_earlier_commands_added_and_removed(world: World) -> None:
    """The sequencer's batch answers the member's active keys from what the commands
    before in the batch wrote, not only from the database."""
    firm = world.admit("supplier")
    client = world.client(firm)

    def add(name: str) -> dict[str, object]:
        return client.envelope(
            "member.add_key", {"name": name, "public_key": new_actor().public_key}
        )

    added, twice, other = world.ledger.execute_together(
        [add("clerk"), add("clerk"), add("treasurer")]
    )
    assert isinstance(added, Receipt) and isinstance(other, Receipt)
    assert isinstance(twice, Refusal) and twice.type == "key-name-taken"
    removals = [
        client.envelope("member.remove_key", {"name": name})
        for name in ("clerk", "treasurer", "primary")
    ]
    clerk, treasurer, last = world.ledger.execute_together(removals)
    assert isinstance(clerk, Receipt) and isinstance(treasurer, Receipt)
    assert isinstance(last, Refusal) and last.type == "last-key"
    record = ok(client.get(f"/v1/members/{firm.id}"))
    assert [k["name"] for k in record["keys"]] == ["primary"]
