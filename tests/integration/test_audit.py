"""The auditor against rewrites that keep the hash chain intact, and against rows it
cannot even parse; the CLI's own contract (keygen, init, db upgrade, verify)."""

from __future__ import annotations

import base64
import gc
import hashlib
import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.commands import format_timestamp
from tests.conftest import World, new_actor
from tests.integration.test_journal import _drop_trigger, populate, stored_rows


def rehash_from(engine: Engine, seq: int, edit: dict[str, Any]) -> None:
    """Rewrite entry ``seq`` with ``edit`` (column → new text) and recompute every hash
    and link from there to the head: the rewrite an insider with database access would
    try. Hashing is done here from the published rule, not by the ledger's code."""
    rows = stored_rows(engine)
    prev_hash = rows[seq - 2].entry_hash if seq > 1 else "0" * 64
    with engine.begin() as conn:
        for row in rows[seq - 1 :]:
            values = dict(row._mapping)
            if row.seq == seq:
                values.update(edit)
            values["prev_hash"] = prev_hash
            hashed = {
                "seq": values["seq"],
                "prev_hash": values["prev_hash"],
                "recorded_at": values["recorded_at"],
                "command": _json(values["command"]),
                "signature": values["signature"],
                "effects": _json(values["effects"]),
            }
            values["entry_hash"] = hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()
            conn.execute(
                text(
                    "UPDATE entries SET prev_hash = :prev_hash, entry_hash = :entry_hash, "
                    "recorded_at = :recorded_at, command = :command, signature = :signature, "
                    "effects = :effects WHERE seq = :seq"
                ),
                values,
            )
            prev_hash = values["entry_hash"]
        conn.execute(text("UPDATE ledger_head SET entry_hash = :h"), {"h": prev_hash})


def _json(value: str) -> Any:
    import json

    return json.loads(value)


def verify_output(database_url: str, *options: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli_app, ["verify", "--db", database_url, *options])
    return result.exit_code, result.output.splitlines()


@pytest.mark.tampers
def test_an_entry_recorded_before_its_predecessor_is_found(
    world: World, engine: Engine, database_url: str
) -> None:
    """Every hash recomputed, every signature intact (none covers recorded_at): only the
    time going back tells the rewrite, at the entry where it goes back."""
    populate(world, 3)  # seqs 1..4, all at the frozen clock's time
    _drop_trigger(engine)
    at = datetime.fromisoformat(stored_rows(engine)[1].recorded_at)
    earlier = format_timestamp(at - timedelta(microseconds=1))
    rehash_from(engine, 3, {"recorded_at": earlier})
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == (
        f"seq 3: recorded_at goes back in time: {earlier} is before seq 2's {format_timestamp(at)}"
    ), lines
    # Moved a day later instead, seq 3 is fine and its successor goes back.
    rehash_from(engine, 3, {"recorded_at": format_timestamp(at + timedelta(days=1))})
    code, lines = verify_output(database_url)
    assert code == 1 and lines[0].startswith("seq 4: recorded_at goes back in time"), lines
    rehash_from(engine, 3, {"recorded_at": "2026-03-02 01:00:00"})  # not the journal's form
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == "seq 3: recorded_at '2026-03-02 01:00:00' is not a time the ledger writes"
    rehash_from(engine, 3, {"recorded_at": format_timestamp(at)})  # as it was: all well
    code, lines = verify_output(database_url)
    assert code == 0, lines


@pytest.mark.tampers
def test_a_rewritten_command_with_a_recomputed_chain_fails_its_signature(
    world: World, engine: Engine, database_url: str
) -> None:
    populate(world, 4)  # seqs 1..5
    _drop_trigger(engine)
    command = stored_rows(engine)[2].command
    forged = command.replace('"name":"Supplier 1"', '"name":"Supplier X"')
    assert forged != command
    rehash_from(engine, 3, {"command": forged})
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0].startswith("seq 3: signature does not verify"), lines


@pytest.mark.tampers
def test_an_entry_signed_with_a_retired_key_is_found(
    world: World, engine: Engine, database_url: str
) -> None:
    """A forger with an old, leaked key appends a well-hashed entry after the rotation."""
    from ledger.signing import sign_command

    member = world.admit("supplier")
    new_key = Ed25519PrivateKey.generate()
    from ledger.keys import public_key_b64

    rotated = world.client(member).submit(
        "member.rotate_key", {"public_key": public_key_b64(new_key.public_key())}
    )
    assert rotated.status_code == 201, rotated.text
    rotated_at = rotated.json()["seq"]
    # Through the service, the old key is refused.
    stale = world.client(member).submit("member.rotate_key", {"public_key": new_actor().public_key})
    assert stale.json()["type"] == "retired-key"
    # Behind its back, an entry signed with the old key, correctly chained and hashed.
    envelope = sign_command(
        member.key,
        member.id,
        "member.rotate_key",
        {"public_key": new_actor().public_key},
        issued_at=world.clock(),
        ledger=world.ledger.ledger_id(),
    )
    last = stored_rows(engine)[-1]
    seq = last.seq + 1
    command = envelope["command"]
    hashed = {
        "seq": seq,
        "prev_hash": last.entry_hash,
        "recorded_at": last.recorded_at,
        "command": command,
        "signature": envelope["signature"],
        "effects": {},
    }
    entry_hash = hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO entries (seq, prev_hash, entry_hash, recorded_at, type, signer, "
                "nonce, command, signature, effects) VALUES (:seq, :prev, :hash, :at, :type, "
                ":signer, :nonce, :command, :signature, '{}')"
            ),
            {
                "seq": seq,
                "prev": last.entry_hash,
                "hash": entry_hash,
                "at": last.recorded_at,
                "type": command["type"],
                "signer": member.id,
                "nonce": command["nonce"],
                "command": rfc8785.dumps(command).decode(),
                "signature": envelope["signature"],
            },
        )
        conn.execute(
            text("UPDATE ledger_head SET seq = :s, entry_hash = :h"), {"s": seq, "h": entry_hash}
        )
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == f"seq {seq}: signed with a key retired at seq {rotated_at}", lines


@pytest.mark.tampers
def test_effects_stored_in_a_non_canonical_form_are_found(
    world: World, engine: Engine, database_url: str
) -> None:
    populate(world, 3)
    _drop_trigger(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET effects = REPLACE(effects, ',', ', ') WHERE seq = 3"))
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == "seq 3: stored effects text is not in canonical form", lines


@pytest.mark.tampers
def test_an_unparsable_entry_is_reported_not_crashed_on(
    world: World, engine: Engine, database_url: str
) -> None:
    populate(world, 3)
    _drop_trigger(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET effects = :e WHERE seq = 2"), {"e": '{"x":1.5'})
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0].startswith("seq 2: stored command or effects is not valid JSON"), lines
    response = world.client(world.operator).get("/v1/ledger/verify")
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is False and response.json()["first_bad_seq"] == 2


@pytest.mark.tampers
def test_a_well_hashed_entry_of_the_wrong_shape_is_reported_not_crashed_on(
    world: World, engine: Engine, database_url: str
) -> None:
    populate(world, 3)  # seqs 1..4
    _drop_trigger(engine)
    rehash_from(engine, 3, {"command": "[]"})
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == "seq 3: stored command or effects is not a JSON object", lines
    rehash_from(engine, 3, {"command": '{"type":"member.admit","body":7}'})
    code, lines = verify_output(database_url)
    assert code == 1 and lines[0].startswith("seq 3: "), lines
    response = world.client(world.operator).get("/v1/ledger/verify")
    assert response.status_code == 200 and response.json()["first_bad_seq"] == 3


@pytest.mark.tampers
@pytest.mark.parametrize(
    "edit",
    [
        {"command": '"key_id":["x"]'},  # a signed command naming an unhashable key
        {"effects": '{"keys":[{"key_id":"k"}]}'},  # a key without its member
        {"effects": '{"members":[{"id":7}]}'},  # a member of the wrong shape
    ],
    ids=["key-id-a-list", "key-without-member", "member-of-wrong-shape"],
)
def test_well_hashed_key_rows_of_the_wrong_shape_are_reported_not_crashed_on(
    world: World, engine: Engine, database_url: str, edit: dict[str, str]
) -> None:
    """What the walk itself reads of an entry — which key signed it, what it did to
    members and keys — can be of any shape an insider writes: reported at its seq."""
    populate(world, 3)  # seqs 1..4
    _drop_trigger(engine)
    row = stored_rows(engine)[2]
    if "command" in edit:
        command = re.sub(r'"key_id":"[^"]*"', edit["command"], row.command)
        assert command != row.command
        edit = {"command": command}
    rehash_from(engine, 3, edit)
    code, lines = verify_output(database_url)
    assert code == 1 and lines and lines[0].startswith("seq 3: "), lines
    response = world.client(world.operator).get("/v1/ledger/verify")
    assert response.status_code == 200 and response.json()["first_bad_seq"] == 3


@pytest.mark.tampers
def test_a_system_entry_granting_a_key_fails_even_the_chain_alone(
    world: World, engine: Engine, database_url: str
) -> None:
    """Only the genesis entry, among those the service writes unsigned, gives a member a
    key. One appended to give an insider's key to a supplier (so that commands "by" that
    supplier verify) is refused by the chain pass itself, not only by the projections'."""
    from ledger.db import snapshot
    from ledger.repository import Repository
    from ledger.verify import verify

    supplier = world.admit("supplier", name="Supplier 0")  # seqs 1..2
    populate(world, 1)  # seq 3
    _drop_trigger(engine)
    forged_key = {
        "key_id": "evil",
        "member": supplier.id,
        "public_key": new_actor().public_key,
        "name": "evil",
        "added_seq": 3,
        "retired_seq": None,
    }
    command = '{"body":{},"type":"ledger.settings"}'
    effects = '{"keys":[' + rfc8785.dumps(forged_key).decode() + "]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE entries SET type = 'ledger.settings', signer = NULL, nonce = NULL, "
                "signature = NULL WHERE seq = 3"
            )
        )
    rehash_from(engine, 3, {"command": command, "effects": effects, "signature": None})
    with snapshot(engine) as conn, conn.begin():
        report = verify(Repository(conn), projections=False, reexecute=False)
    assert [problem.seq for problem in report.problems] == [3], report.problems
    code, lines = verify_output(database_url)
    assert code == 1 and lines and lines[0].startswith("seq 3: "), lines


@pytest.mark.tampers
def test_a_head_row_that_disagrees_with_the_last_entry_is_found(
    world: World, engine: Engine, database_url: str
) -> None:
    populate(world, 3)  # seqs 1..4
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET seq = 2"))
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == "seq 4: the ledger head row names seq 2, but the last entry is seq 4"


def test_verify_of_a_database_without_a_journal_fails_cleanly(tmp_path: Path) -> None:
    """A file that is there but holds no journal (one that is not there is not created:
    tests/integration/test_cli_mistakes.py)."""
    (tmp_path / "empty.db").touch()
    code, lines = verify_output(f"sqlite:///{tmp_path / 'empty.db'}")
    assert code == 1
    assert lines[0].startswith("seq 0: cannot read the journal"), lines


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    out = tmp_path / "steel"
    runner = CliRunner()
    result = runner.invoke(cli_app, ["keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    key_path, pub_path = Path(f"{out}.key"), Path(f"{out}.pub")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    private = load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    lines = pub_path.read_text().splitlines()
    assert len(lines) == 1 and "=" not in lines[0]
    raw = base64.urlsafe_b64decode(lines[0] + "=")
    assert raw == private.public_key().public_bytes_raw()
    again = runner.invoke(cli_app, ["keygen", "--out", str(out)])
    assert again.exit_code != 0  # never overwrite a private key
    assert (
        load_pem_private_key(key_path.read_bytes(), password=None).public_key().public_bytes_raw()
        == raw
    )


def test_db_upgrade_then_init_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"  # a database that does not exist yet
    runner = CliRunner()
    upgraded = runner.invoke(cli_app, ["db", "upgrade", "--db", url])
    assert upgraded.exit_code == 0 and upgraded.output.startswith("database at revision")
    keygen = runner.invoke(cli_app, ["keygen", "--out", str(tmp_path / "op")])
    assert keygen.exit_code == 0, keygen.output
    init = [
        "init",
        "--db",
        url,
        "--operator-key",
        str(tmp_path / "op.pub"),
        "--operator-id",
        new_actor().id,
        "--operator-name",
        "Operator",
    ]
    first = runner.invoke(cli_app, init)
    assert first.exit_code == 0 and first.output.startswith("genesis written: seq 1"), first.output
    second = runner.invoke(cli_app, init)
    assert second.exit_code == 2
    assert "already-initialised" in second.output
    code, lines = verify_output(url)
    assert code == 0 and lines[0].startswith("ok: 1 entries"), lines


@pytest.mark.tampers
def test_an_expiry_whose_effects_do_not_follow_from_its_pieces_is_found(
    chain: Any, engine: Engine, database_url: str
) -> None:
    """Nobody signs a system entry: the auditor decides its effects again instead."""
    assert chain.issue("100.00").status_code == 201  # pending until its deadline
    chain.clock.advance(seconds=chain.ledger.settings.pending_expiry_s + 1)
    receipt = chain.ledger.sweep()
    assert receipt is not None
    _drop_trigger(engine)
    effects = stored_rows(engine)[receipt.seq - 1].effects
    # The issuer's limit back to where it was, yet still counting the expired root.
    forged = effects.replace('"outstanding":"0.00"', '"outstanding":"100.00"')
    assert forged != effects
    rehash_from(engine, receipt.seq, {"effects": forged})
    code, lines = verify_output(database_url)
    assert code == 1
    assert (
        lines[0]
        == f"seq {receipt.seq}: the expiry's effects do not follow from the pieces it names"
    ), lines


@pytest.mark.tampers
def test_a_genesis_whose_effects_do_not_follow_from_its_command_is_found(
    world: World, engine: Engine, database_url: str
) -> None:
    _drop_trigger(engine)
    effects = stored_rows(engine)[0].effects
    forged = effects.replace('"roles":["operator"]', '"roles":["bank","operator"]')
    assert forged != effects
    rehash_from(engine, 1, {"effects": forged})
    code, lines = verify_output(database_url)
    assert code == 1
    assert lines[0] == "seq 1: the genesis entry's effects do not follow from its command", lines


def _forged_then_verified(
    engine: Engine, database_url: str, entry: Any, field: str, old: str, new: str
) -> str:
    """Replace ``old`` by ``new`` in the stored ``field`` of ``entry``, rehash the chain
    from it, and return what `dcc verify` says of it (after checking it names its seq)."""
    _drop_trigger(engine)
    stored = getattr(entry, field)
    forged = stored.replace(old, new)
    assert forged != stored, stored
    rehash_from(engine, entry.seq, {field: forged})
    code, lines = verify_output(database_url)
    assert code == 1 and lines[0].startswith(f"seq {entry.seq}: "), lines
    return str(lines[0])


def _financing_expiry(chain: Any) -> Any:
    """A line, an application, and its expiry at the end of its window (seq of the last)."""
    line = {
        "core": chain.core.id,
        "amount": "1000.00",
        "annual_rate": "0.0385",
        "expires_on": "2027-01-01",
    }
    assert chain.client(chain.bank).submit("credit_line.set", line).status_code == 201
    applied = chain.client(chain.s1).submit(
        "financing.apply", {"certificate": chain.issued("100.00"), "bank": chain.bank.id}
    )
    assert applied.status_code == 201, applied.text
    chain.clock.advance(seconds=chain.ledger.settings.financing_window_s)
    receipt = chain.ledger.sweep()
    assert receipt is not None and receipt.effects["financings"][0]["state"] == "expired"
    return receipt


@pytest.mark.tampers
@pytest.mark.parametrize(
    ("field", "old", "new", "found"),
    [
        # The piece given back to someone else than its applicant.
        ("effects", '"state":"active"', '"state":"spent"', "effects do not follow"),
        # The same application named twice (its reserve freed twice).
        ("command", '"ids":["', '"ids":["{id}","', "names an application twice"),
        # A business date that is no date of its time anywhere.
        ("command", '"business_date":"2026-03-03"', '"business_date":"2026-03-09"', "date"),
    ],
)
def test_a_financing_expiry_that_does_not_follow_is_found(
    chain: Any, engine: Engine, database_url: str, field: str, old: str, new: str, found: str
) -> None:
    receipt = _financing_expiry(chain)
    financing_id = receipt.effects["financings"][0]["id"]
    entry = stored_rows(engine)[receipt.seq - 1]
    new = new.replace("{id}", financing_id)
    assert found in _forged_then_verified(engine, database_url, entry, field, old, new)


def _overdue_mark(chain: Any) -> Any:
    """A one-day piece left unpaid: the sweep marks it overdue (the entry's receipt).
    The frozen today is Monday 2026-03-02: it matures Tuesday 03-03, its payment date;
    on Thursday 03-05 it is 2 days late."""
    root = chain.issued("100.00", days=1)
    chain.clock.advance(days=3)
    chain.ledger.sweep_all()
    rows = stored_rows(chain.ledger.engine)
    (entry,) = [r for r in rows if '"type":"certificate.overdue"' in r.command]
    assert root in entry.effects
    return entry


@pytest.mark.tampers
@pytest.mark.parametrize(
    ("field", "old", "new", "found"),
    [
        # Marked overdue before its payment date (and grace) had passed.
        (
            "command",
            '"payment_dates":["2026-03-03"]',
            '"payment_dates":["2026-03-05"]',
            "not overdue",
        ),
        # A payment date no calendar gives its maturity.
        (
            "command",
            '"payment_dates":["2026-03-03"]',
            '"payment_dates":["2026-03-02"]',
            "not overdue",
        ),
        # A grace the mark did not respect.
        ("command", '"grace_days":0', '"grace_days":2', "not overdue"),
        # The mark writes something else than the overdue piece.
        ("effects", '"state":"overdue"', '"state":"settled"', "effects do not follow"),
    ],
)
def test_an_overdue_mark_that_does_not_follow_is_found(
    chain: Any, engine: Engine, database_url: str, field: str, old: str, new: str, found: str
) -> None:
    entry = _overdue_mark(chain)
    assert found in _forged_then_verified(engine, database_url, entry, field, old, new)


@pytest.mark.tampers
def test_a_notice_that_overstates_what_is_due_is_found(
    chain: Any, engine: Engine, database_url: str
) -> None:
    chain.issued("100.00", days=2)
    chain.ledger.sweep_all()  # the issuer is told: it matures within the notice days
    rows = stored_rows(engine)
    (entry,) = [r for r in rows if '"type":"settlement.notice"' in r.command]
    assert '"pieces":1' in entry.effects and '"amount":"100.00"' in entry.effects
    _drop_trigger(engine)
    forged = entry.effects.replace('"holder":"', '"holder":"X', 1)
    rehash_from(engine, entry.seq, {"effects": forged})
    code, lines = verify_output(database_url)
    assert code == 1
    assert (
        lines[0] == f"seq {entry.seq}: the notice's effects do not follow from the pieces it lists"
    )


@pytest.mark.tampers
def test_effects_rewritten_with_their_projections_are_found_by_re_execution(
    world: World, engine: Engine, database_url: str
) -> None:
    """The blind spot of the chain and the projections: an insider rewrites what an entry
    did (a member admitted under another name than the operator signed), recomputes every
    later hash, and edits the projection to match. Only running the command again tells."""
    from ledger.db import snapshot
    from ledger.repository import Repository
    from ledger.verify import verify

    populate(world, 4)  # seqs 1..5
    code, lines = verify_output(database_url, "--reexecute")
    assert code == 0 and lines[0].startswith("ok: 5 entries"), lines
    _drop_trigger(engine)
    row = stored_rows(engine)[2]
    forged = row.effects.replace('"name":"Supplier 1"', '"name":"Supplier X"')
    assert forged != row.effects
    rehash_from(engine, 3, {"effects": forged})
    with engine.begin() as conn:
        conn.execute(text("UPDATE members SET name = 'Supplier X' WHERE name = 'Supplier 1'"))
    with snapshot(engine) as conn, conn.begin():  # the chain and projections hold
        assert verify(Repository(conn), reexecute=False).ok
    for options in ((), ("--reexecute",)):
        code, lines = verify_output(database_url, *options)
        assert code == 1
        assert lines == ["seq 3: effects do not follow from the command"], lines


@pytest.mark.tampers
@pytest.mark.parametrize(("batch_max", "known_max"), [(1, 1), (2, 5), (3, 8), (2, 1000)])
def test_re_execution_holds_wherever_its_scratch_writes_fall(
    chain: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    batch_max: int,
    known_max: int,
) -> None:
    """Re-execution writes its scratch batch every ``REEXECUTE_BATCH_MAX`` entries and
    keeps what it knows until ``REEXECUTE_KNOWN_MAX``: wherever those fall, a ledger of
    issuance, split-transfer, acceptance and one invoice cited across them re-executes
    to the byte, and effects rewritten late in it are still found at their seq."""
    from ledger import reexecute
    from ledger.db import snapshot
    from ledger.repository import Repository
    from ledger.verify import verify

    monkeypatch.setattr(reexecute, "REEXECUTE_BATCH_MAX", batch_max)
    monkeypatch.setattr(reexecute, "REEXECUTE_KNOWN_MAX", known_max)
    shared = chain.new_invoice("400.00")  # cited by three issuances, far apart
    for round_ in range(3):
        trade = {"contract_no": f"HT-{round_}", "invoices": [shared]}
        root = chain.issued("100.00", trade=trade)
        sent = chain.transfer(chain.s1, [root], [(chain.s2, "40.00"), (chain.s1, "60.00")])
        assert sent.status_code == 201, sent.text
        piece = next(
            c for c in sent.json()["effects"]["certificates"] if c["holder"] == chain.s2.id
        )
        answer = "certificate.accept" if round_ != 1 else "certificate.reject"
        assert chain.client(chain.s2).submit(answer, {"id": piece["id"]}).status_code == 201
    last = chain.issue("100.00", trade={"contract_no": "HT-3", "invoices": [shared]})
    assert last.status_code == 201, last.text

    def reexecuted() -> Any:
        with snapshot(engine) as conn, conn.begin():
            return verify(Repository(conn), chain=False)

    report = reexecuted()
    assert report.ok and report.entries == last.json()["seq"], report.problems
    assert gc.get_freeze_count() == 0  # what it froze for the collector is handed back
    _drop_trigger(engine)
    row = stored_rows(engine)[-1]
    forged = row.effects.replace('"holder":"' + chain.s1.id, '"holder":"' + chain.s3.id, 1)
    assert forged != row.effects
    rehash_from(engine, row.seq, {"effects": forged})
    problems = [str(problem) for problem in reexecuted().problems]
    assert problems == [f"seq {row.seq}: effects do not follow from the command"]
    assert gc.get_freeze_count() == 0


@pytest.mark.tampers
@pytest.mark.parametrize("effects", ['{"x":1.5}', '{"x":1,"x":2}', '{"x":', "[]"])
def test_the_projections_alone_report_texts_the_chain_did_not_check(
    world: World, engine: Engine, effects: str
) -> None:
    """Run without the chain pass, the projections pass parses each text as strictly as
    the chain pass would: a float, a duplicate key, broken JSON is reported at its seq."""
    from ledger.db import snapshot
    from ledger.repository import Repository
    from ledger.verify import verify

    populate(world, 3)  # seqs 1..4
    _drop_trigger(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE entries SET effects = :e WHERE seq = 3"), {"e": effects})
    with snapshot(engine) as conn, conn.begin():
        report = verify(Repository(conn), chain=False, projections=True, reexecute=False)
    assert [problem.seq for problem in report.problems] == [3], report.problems


def test_re_execution_leaves_what_its_process_froze_frozen(world: World, engine: Engine) -> None:
    """``gc.freeze`` is the process's: a server that froze objects of its own (as one
    does before forking workers) finds them frozen still after an audit in it."""
    from ledger.db import snapshot
    from ledger.repository import Repository
    from ledger.verify import verify

    populate(world, 2)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 1_000  # every module's objects, say
        with snapshot(engine) as conn, conn.begin():
            assert verify(Repository(conn), chain=False).ok
        # Frozen objects are still freed when nothing refers to them (a few are, on
        # PostgreSQL): the count may fall a little, never to nothing.
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()
