"""``dcc audit`` over HTTP: it passes on an honest ledger, and reports a rollback (an
older tree served after a newer one), a fork (two checkpoints of one size with different
roots, or a consistency proof that fails) and a changed log key, with the signed
checkpoints as evidence."""

from __future__ import annotations

import json
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api import audit as audit_module
from api import cli
from api.audit import audit, load_state, save_state
from api.client import DccClient
from ledger.checkpoint import Checkpoint, sign_note, verifier_key
from ledger.keys import generate_private_key, load_private_key_pem, private_key_pem, public_key_raw
from tests.conftest import Actor, Chain
from tests.helpers import ok, publish_log_key

OLD, SIZE = 10, 20


class Rollback(DccClient):
    """A server that answers the latest checkpoint with an older one."""

    def get(self, path_query: str, accept: str | None = None) -> httpx.Response:
        if path_query == "/v1/ledger/checkpoint":
            path_query = f"/v1/ledger/checkpoints/{OLD}"
        return super().get(path_query, accept)


@pytest.fixture
def grown(chain: Chain, tmp_path: Path) -> tuple[Chain, Actor, Path]:
    """s1 holds a piece and sent part of it; checkpoints of OLD and SIZE entries are kept."""
    log_key = tmp_path / "log.key"
    publish_log_key(chain, tmp_path)
    root = chain.issued("500.00")
    while chain.ledger.head().seq < OLD:  # type: ignore[union-attr]
        chain.admit("supplier")
    assert chain.ledger.checkpoint(force=True) == OLD
    ok(chain.transfer(chain.s1, [root], [(chain.s2, "100.00"), (chain.s1, "400.00")]))
    while chain.ledger.head().seq < SIZE:  # type: ignore[union-attr]
        chain.admit("supplier")
    assert chain.ledger.checkpoint(force=True) == SIZE
    return chain, chain.s1, log_key


def _forged_note(log_key: Path, origin: str, size: int) -> str:
    """A checkpoint of ``size`` entries with another root, signed by the log key."""
    private = load_private_key_pem(log_key.read_bytes())
    return sign_note(Checkpoint(origin, size, b"\x07" * 32).text(), origin, private)


def _run_cli(chain: Chain, actor: Actor, state: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``dcc audit`` as a process would run it, against the in-process app."""
    key = state.parent / "member.key"
    key.write_bytes(private_key_pem(actor.key))
    monkeypatch.setattr(cli, "_http", lambda url: nullcontext(chain.http))
    monkeypatch.setattr("api.client.DccClient", partial(DccClient, clock=chain.clock))
    args = ["audit", "--member", actor.id, "--key", str(key), "--state", str(state)]
    return CliRunner().invoke(cli.app, [*args, "--url", "http://testserver"])


def test_an_honest_ledger_passes_and_the_next_run_checks_only_new_entries(
    grown: tuple[Chain, Actor, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, s1, _ = grown
    state = tmp_path / "state"
    result = _run_cli(chain, s1, state, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "checkpoint of 20 entries" in result.output and result.output.endswith("ok\n")
    kept = load_state(state)
    assert kept["checked_seq"] == SIZE and kept["member"] == s1.id
    # s1's entries: its admission, the issuance to it, its acceptance, its transfer.
    first = audit(chain.client(s1), state)
    assert first.ok and first.entries_checked == 0
    ok(chain.client(chain.s2).submit("certificate.accept", {"id": _sent_piece(chain, s1)}))
    chain.ledger.checkpoint(force=True)
    again = audit(chain.client(s1), state)
    assert again.ok, again.lines()
    assert again.checkpoint_size == SIZE + 1 and again.entries_checked == 0
    chain.admit("supplier")
    # The seller of the accepted piece is a party to its acceptance.
    assert audit(chain.client(chain.s2), tmp_path / "s2").entries_checked >= 3


def _sent_piece(chain: Chain, s1: Actor) -> str:
    wallet = ok(chain.client(chain.s2).get(f"/v1/wallets/{chain.s2.id}"))
    return str(wallet["certificates"][0]["id"])


def test_a_fresh_audit_checks_every_entry_of_the_member(
    grown: tuple[Chain, Actor, Path], tmp_path: Path
) -> None:
    chain, s1, _ = grown
    report = audit(chain.client(s1), tmp_path / "state")
    assert report.ok, report.lines()
    assert report.entries_checked == 4  # admission, issuance, acceptance, transfer
    assert report.unchecked_signatures == []


def test_a_rollback_is_reported_with_both_checkpoints(
    grown: tuple[Chain, Actor, Path], tmp_path: Path
) -> None:
    chain, s1, _ = grown
    state = tmp_path / "state"
    assert audit(chain.client(s1), state).ok
    seen = load_state(state)["checkpoint"]["note"]
    rolled = Rollback(chain.http, s1.id, s1.key, clock=chain.clock)
    report = audit(rolled, state)
    assert [f.kind for f in report.findings] == ["rollback"]
    older = ok(chain.client(s1).get(f"/v1/ledger/checkpoints/{OLD}"))["note"]
    assert report.findings[0].evidence == (seen, older)
    text = "\n".join(report.lines())
    assert seen.rstrip("\n") in text and older.rstrip("\n") in text
    assert load_state(state)["checkpoint"]["note"] == seen  # the evidence is kept
    assert [f.kind for f in audit(rolled, state).findings] == ["rollback"]


def _pretend_seen(state: Path, note: str) -> None:
    kept = load_state(state)
    kept["checkpoint"]["note"] = note
    save_state(state, kept)


def test_two_checkpoints_of_one_size_are_a_fork(
    grown: tuple[Chain, Actor, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, s1, log_key = grown
    state = tmp_path / "state"
    assert audit(chain.client(s1), state).ok
    origin = load_state(state)["checkpoint"]["note"].split("\n")[0]
    forged = _forged_note(log_key, origin, SIZE)
    _pretend_seen(state, forged)  # what the log showed this member before
    result = _run_cli(chain, s1, state, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "fork" in result.output and "two checkpoints of 20 entries" in result.output
    honest = ok(chain.client(s1).get("/v1/ledger/checkpoint"))["note"]
    assert forged.rstrip("\n") in result.output and honest.rstrip("\n") in result.output


def test_a_tree_that_does_not_extend_the_one_seen_is_a_fork(
    grown: tuple[Chain, Actor, Path], tmp_path: Path
) -> None:
    chain, s1, log_key = grown
    state = tmp_path / "state"
    assert audit(chain.client(s1), state).ok
    origin = load_state(state)["checkpoint"]["note"].split("\n")[0]
    forged = _forged_note(log_key, origin, OLD)
    _pretend_seen(state, forged)
    report = audit(chain.client(s1), state)
    assert [f.kind for f in report.findings] == ["fork"]
    assert "does not extend" in report.findings[0].message
    assert report.findings[0].evidence[0] == forged


def test_growth_from_an_older_checkpoint_is_proved_consistent(
    grown: tuple[Chain, Actor, Path], tmp_path: Path
) -> None:
    chain, s1, _ = grown
    state = tmp_path / "state"
    honest = ok(chain.client(s1).get(f"/v1/ledger/checkpoints/{OLD}"))
    pinned = honest["log_key"]["verifier_key"]
    seen = {"note": honest["note"], "verifier_key": pinned}
    save_state(state, {"verifier_key": pinned, "checkpoint": seen, "checked_seq": 0})
    report = audit(chain.client(s1), state)
    assert report.ok and report.checkpoint_size == SIZE, report.lines()
    assert load_state(state)["checkpoint"]["note"] != honest["note"]


def test_a_changed_log_key_is_reported(grown: tuple[Chain, Actor, Path], tmp_path: Path) -> None:
    chain, s1, _ = grown
    state = tmp_path / "state"
    assert audit(chain.client(s1), state).ok
    other = generate_private_key()
    kept = load_state(state)
    name = kept["verifier_key"].split("+")[0]
    kept["verifier_key"] = verifier_key(name, public_key_raw(other.public_key()))
    save_state(state, kept)
    report = audit(chain.client(s1), state)
    assert [f.kind for f in report.findings] == ["log-key"]
    assert json.loads((state / audit_module.STATE_FILE).read_text()) == kept
