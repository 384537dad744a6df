"""The rule settings are in the journal: the genesis entry records those a ledger starts
under, a deployment that writes under others records them first, and re-execution
decides every entry under the settings recorded before it — not the verifier's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.app import create_app
from ledger.db import snapshot
from ledger.repository import Repository
from ledger.service import Ledger
from ledger.settings import OPERATIONAL, Settings
from ledger.verify import verify
from tests.conftest import Chain, World
from tests.helpers import ok
from tests.integration.test_audit import rehash_from
from tests.integration.test_journal import _drop_trigger, stored_rows


def on(chain: Chain, ledger: Ledger, http: TestClient) -> Chain:
    """``chain``'s parties, talking to ``ledger`` (another deployment on its database)."""
    other = Chain.__new__(Chain)
    other.__dict__.update(chain.__dict__, http=http, ledger=ledger)
    return other


def entries_of_type(engine: Engine, type_: str) -> list[Any]:
    return [row for row in stored_rows(engine) if row.type == type_]


def test_genesis_records_every_rule_setting_and_no_operational_one(
    world: World, engine: Engine
) -> None:
    genesis = json.loads(stored_rows(engine)[0].command)
    recorded = genesis["body"]["settings"]
    assert recorded["piece_fen_min"] == "1" and recorded["late_daily_rate"] == "0.0005"
    assert not set(recorded) & OPERATIONAL
    # Every setting a rule reads is recorded: those a rule reads here, by name.
    for name in ("entry_bytes_max", "overdue_grace_days", "netting_component_gross_fen_max"):
        assert name in recorded
    assert recorded["netting_component_gross_fen_max"] == str(2**62)


def test_a_deployment_under_other_settings_records_them_once_before_it_writes(
    chain: Chain, engine: Engine
) -> None:
    assert entries_of_type(engine, "ledger.settings") == []
    for _ in range(2):  # a restart under the same settings records nothing more
        strict = Ledger(engine, Settings(piece_fen_min=100), chain.clock)
        with TestClient(create_app(strict)) as http:
            refused = on(chain, strict, http).issue("0.50")
            assert refused.json()["type"] == "piece-too-small", refused.text
            ok(on(chain, strict, http).issue("2.00"))
        strict.close()
    [recorded] = entries_of_type(engine, "ledger.settings")
    assert json.loads(recorded.command)["body"]["settings"]["piece_fen_min"] == "100"
    assert json.loads(recorded.effects) == {}
    # Back under the first settings: recorded again, and 0.50 is a piece again.
    ok(chain.issue("0.50"))
    assert len(entries_of_type(engine, "ledger.settings")) == 2
    # Whoever verifies, under whatever settings, re-executes each entry under its own,
    # and is shown every change of the rules, for holding against the deployment's
    # records (no signature vouches for a settings entry).
    first, back = (row.seq for row in entries_of_type(engine, "ledger.settings"))
    for settings in (Settings(), Settings(piece_fen_min=100), Settings(piece_fen_min=7)):
        with snapshot(engine) as conn, conn.begin():
            report = verify(Repository(conn), settings)
        assert report.ok, report.problems
        assert report.settings_changes == [
            (first, {"piece_fen_min": ("1", "100")}),
            (back, {"piece_fen_min": ("100", "1")}),
        ]
    assert (
        report.settings_lines()[0] == f"seq {first}: rule settings changed: piece_fen_min 1 -> 100"
    )


@pytest.mark.tampers
@pytest.mark.parametrize(
    "settings",
    [
        {"no_such_setting": "1"},
        {"piece_fen_min": "0"},
        {"piece_fen_min": 5},
        {"late_daily_rate": "abc"},
        "all",
    ],
)
def test_a_settings_entry_the_service_could_not_have_written_is_reported(
    world: World, engine: Engine, settings: Any
) -> None:
    world.admit("supplier")
    _drop_trigger(engine)
    row = stored_rows(engine)[1]
    forged = {
        "type": "ledger.settings",
        "issued_at": row.recorded_at,
        "body": {"settings": settings},
    }
    canonical = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    rehash_from(engine, 2, {"command": canonical, "signature": None, "effects": "{}"})
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE entries SET type = 'ledger.settings', signer = NULL, nonce = NULL "
                "WHERE seq = 2"
            )
        )
    with snapshot(engine) as conn, conn.begin():
        report = verify(Repository(conn), reexecute=False)
    assert str(report.problems[0]).startswith(
        "seq 2: a settings entry the service could not have written"
    ), report.problems


def test_a_rule_change_after_entries_were_written_does_not_fail_their_re_execution(
    chain: Chain, engine: Engine
) -> None:
    """What a lower ceiling would refuse today was accepted under the old one: verify
    must not call the old entry a forgery."""
    ok(chain.issue("1.00", days=200))
    shorter = Ledger(engine, Settings(maturity_days_max=90), chain.clock)
    report = shorter.verify()
    assert report.ok, report.problems  # nothing recorded yet: the journal's settings rule
    with TestClient(create_app(shorter)) as http:
        again = on(chain, shorter, http).issue("1.00", days=200)
        assert again.status_code == 422, again.text
    shorter.close()
    with snapshot(engine) as conn, conn.begin():
        assert verify(Repository(conn), Settings(maturity_days_max=90)).ok
