"""The catalogue declares every command type once, and what is derived from it holds."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.catalog import CATALOG, COMMON_REFUSALS, command_types
from ledger.commands import WireModel
from ledger.errors import PROBLEMS
from tests.unit.test_problem_types import RETIRED

ROOT = Path(__file__).resolve().parents[2]
# The command types of the published contract, written out (docs/api.md): a type
# renamed or dropped from the catalogue fails here, not in a client.
PUBLISHED = {
    "member.admit",
    "member.suspend",
    "member.reinstate",
    "member.rotate_key",
    "member.add_key",
    "member.remove_key",
    "member.reset_key",
    "member.netting_consent",
    "limit.set",
    "certificate.issue",
    "certificate.accept",
    "certificate.reject",
    "certificate.cancel",
    "certificate.transfer",
    "obligation.register",
    "obligation.confirm",
    "obligation.reject",
    "obligation.settle",
    "obligation.confirm_settlement",
    "obligation.dispute_settlement",
    "netting.run",
    "member.set_tier",
    "credit_line.set",
    "financing.apply",
    "financing.decide",
    "financing.cancel",
    "webhook.set",
    "webhook.delete",
    "webhook.rotate_secret",
    "settlement.pay",
    "limit.lift_overdue_block",
    "member.set_payout_account",
    "ledger.log_key",
}


def test_the_catalogue_holds_the_published_command_types() -> None:
    assert set(command_types()) == PUBLISHED


def test_every_refusal_a_type_declares_has_a_title_and_a_status() -> None:
    for kind in CATALOG.values():
        assert kind.refusals >= COMMON_REFUSALS, kind.type
        for type_ in kind.refusals:
            assert type_ in PROBLEMS, (kind.type, type_)
            assert type_ not in RETIRED, (kind.type, type_)
            assert PROBLEMS[type_].title and 400 <= PROBLEMS[type_].status <= 599


def test_every_body_refuses_unknown_fields_and_coercion() -> None:
    for kind in CATALOG.values():
        assert issubclass(kind.body, WireModel), kind.type
        assert kind.body.model_config.get("extra") == "forbid", kind.type
        assert kind.body.model_config.get("strict") is True, kind.type


def test_the_api_guide_lists_every_command_type() -> None:
    guide = (ROOT / "docs" / "api.md").read_text()
    rows = re.findall(r"^\| (`[a-z_]+\.[a-z_]+`(?: / `[a-z_]+\.[a-z_]+`)*) \|", guide, re.M)
    listed = {name for row in rows for name in re.findall(r"`([^`]+)`", row)}
    assert listed >= set(CATALOG), set(CATALOG) - listed
