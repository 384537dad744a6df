"""Every command type, declared once.

A :class:`CommandType` names everything about one type of signed command: its body
model, the roles of which the signer needs one, the loader that reads the state its
rule needs and calls the rule (``ledger.handlers``), an optional plan run before the
sequencer (for work too long to hold the ledger for), and the refusals the rule may
raise. From :data:`CATALOG` are derived:

* the parser's body models (:func:`parse`);
* the sequencer's dispatch (``ledger.service``);
* the refusals each type may answer with, whose titles and HTTP statuses come from
  ``ledger.errors.PROBLEMS`` (a test fails when one has none), and which the sequencer
  holds every rule to (a refusal not declared is our bug: an assertion);
* the command types listed in the API guide and the OpenAPI document.

Adding a command type is adding one entry here (and its body model, loader and rule).

    >>> CATALOG["certificate.accept"].roles
    frozenset()
    >>> "insufficient-amount" in CATALOG["certificate.transfer"].refusals
    True
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger import (
    certificates,
    credit,
    financing,
    handlers,
    log_keys,
    members,
    netting_run,
    obligations,
    settlement,
    webhooks,
)
from ledger.commands import Command, WireModel, parse_envelope
from ledger.handlers import Needs, Plan, Run

# What any command may be refused with, before or around its rule: its shape, its
# signature and freshness, the signer's standing, and the size of the entry it writes.
COMMON_REFUSALS = frozenset(
    {
        "validation",
        "invalid-amount",
        "unknown-command",
        "bad-signature",
        "stale-timestamp",
        "replayed-nonce",
        "retired-key",
        "member-suspended",
        "forbidden",
        "not-initialised",
        "entry-too-large",
        "unavailable",
    }
)
# What a certificate rule may answer whenever it finds a pending piece past its deadline.
_PENDING = frozenset({"certificate-not-found", "not-holder", "not-pending", "certificate-expired"})
_RECIPIENT = frozenset({"recipient-not-admitted", "recipient-suspended"})
_TRADE = frozenset({"invoice-overused", "invoice-conflict"})
_OBLIGATION = frozenset({"obligation-not-found", "invalid-obligation-state"})
_FINANCING = frozenset({"financing-not-found", "financing-expired", "already-decided"})


@dataclass(frozen=True)
class CommandType:
    """One command type. ``refusals`` are those of its rule (``COMMON_REFUSALS`` apply
    to every type and are added); ``plan``, when given, runs before the sequencer on one
    snapshot of the ledger and ``run`` gets its result as ``planned``."""

    type: str
    body: builtins.type[WireModel]
    roles: frozenset[str]
    run: Run
    refusals: frozenset[str]
    summary: str
    plan: Plan | None = None
    needs: Callable[[Command], Needs] | None = None  # what to read ahead for a batch

    def __post_init__(self) -> None:
        object.__setattr__(self, "refusals", self.refusals | COMMON_REFUSALS)


OPERATOR: frozenset[str] = frozenset({"operator"})
CORE: frozenset[str] = frozenset({"core"})
BANK: frozenset[str] = frozenset({"bank"})
ANY_MEMBER: frozenset[str] = frozenset()

_DECLARED = (
    CommandType(
        "member.admit",
        members.AdmitBody,
        OPERATOR,
        handlers.admit,
        frozenset({"member-exists", "key-in-use"}),
        "Admit an enterprise as a member with its roles and first public key",
    ),
    CommandType(
        "member.suspend",
        members.MemberRefBody,
        OPERATOR,
        handlers.suspend,
        frozenset({"member-not-found", "invalid-member-state"}),
        "Suspend a member: it can neither act nor receive",
    ),
    CommandType(
        "member.reinstate",
        members.MemberRefBody,
        OPERATOR,
        handlers.reinstate,
        frozenset({"member-not-found", "invalid-member-state"}),
        "Reinstate a suspended member",
    ),
    CommandType(
        "member.rotate_key",
        members.RotateKeyBody,
        ANY_MEMBER,
        handlers.rotate_key,
        frozenset({"key-in-use"}),
        "Replace the signing key by a new key of the same name; the old one is retired",
    ),
    CommandType(
        "member.add_key",
        members.AddKeyBody,
        ANY_MEMBER,
        handlers.add_key,
        frozenset({"key-in-use", "key-name-taken", "member-keys-exceeded"}),
        "Give the signer another active key, with a name of its own (a clerk's, a treasurer's)",
    ),
    CommandType(
        "member.remove_key",
        members.RemoveKeyBody,
        ANY_MEMBER,
        handlers.remove_key,
        frozenset({"key-not-found", "last-key"}),
        "Retire one of the signer's active keys, by name; never its last",
    ),
    CommandType(
        "member.reset_key",
        members.ResetKeyBody,
        OPERATOR,
        handlers.reset_key,
        frozenset({"member-not-found", "key-in-use"}),
        "Replace every active key of a member that lost its keys, recording why",
    ),
    CommandType(
        "member.netting_consent",
        obligations.ConsentBody,
        ANY_MEMBER,
        handlers.consent,
        frozenset(),
        "Give or withdraw the signer's consent to netting",
    ),
    CommandType(
        "limit.set",
        credit.LimitSetBody,
        OPERATOR,
        handlers.limit_set,
        frozenset({"member-not-found", "role-mismatch"}),
        "Set a core enterprise's issuance limit",
    ),
    CommandType(
        "certificate.issue",
        certificates.IssueBody,
        CORE,
        handlers.issue,
        _RECIPIENT
        | _TRADE
        | {
            "recipient-is-issuer",
            "issuance-limit-exceeded",
            "maturity-out-of-range",
            "piece-too-small",
            "holder-pieces-exceeded",
            "issuer-overdue",
        },
        "Issue a certificate to a supplier, citing the trade it pays",
        needs=handlers.issue_needs,
    ),
    CommandType(
        "certificate.accept",
        certificates.CertificateRef,
        ANY_MEMBER,
        handlers.accept,
        _PENDING | {"holder-pieces-exceeded"},
        "Accept a pending certificate sent to the signer",
        needs=handlers.piece_needs,
    ),
    CommandType(
        "certificate.reject",
        certificates.CertificateRef,
        ANY_MEMBER,
        handlers.reject,
        _PENDING,
        "Reject a pending certificate: its value goes back to the sender",
        needs=handlers.piece_needs,
    ),
    CommandType(
        "certificate.cancel",
        certificates.CertificateRef,
        CORE,
        handlers.cancel,
        _PENDING | {"not-issuer"},
        "Cancel a root certificate its recipient has not yet accepted",
        needs=handlers.piece_needs,
    ),
    CommandType(
        "certificate.transfer",
        certificates.TransferBody,
        ANY_MEMBER,
        handlers.transfer,
        _PENDING
        | _RECIPIENT
        | _TRADE
        | {
            "recipient-is-issuer",
            "not-spendable",
            "duplicate-input",
            "mixed-roots",
            "insufficient-amount",
            "too-many-outputs",
            "piece-too-small",
            "root-pieces-exceeded",
            "holder-pieces-exceeded",
            "certificate-matured",
            "max-level-exceeded",
            "mixed-financings",
        },
        "Split whole input pieces into outputs to others and change to the signer",
        needs=handlers.transfer_needs,
    ),
    CommandType(
        "obligation.register",
        obligations.RegisterBody,
        ANY_MEMBER,
        handlers.obligation_register,
        _RECIPIENT | {"obligation-too-large", "member-obligations-exceeded"},
        "Register a trade payable the signer owes a creditor",
        needs=handlers.creditor_needs,
    ),
    CommandType(
        "obligation.confirm",
        obligations.ObligationRef,
        ANY_MEMBER,
        handlers.obligation_confirm,
        _OBLIGATION,
        "The creditor confirms a registered obligation",
        needs=handlers.obligation_needs,
    ),
    CommandType(
        "obligation.reject",
        obligations.ObligationRef,
        ANY_MEMBER,
        handlers.obligation_reject,
        _OBLIGATION,
        "The creditor rejects a registered obligation",
        needs=handlers.obligation_needs,
    ),
    CommandType(
        "obligation.settle",
        obligations.SettleBody,
        ANY_MEMBER,
        handlers.obligation_settle,
        _OBLIGATION | {"settlement-too-large"},
        "The debtor claims a payment outside the ledger, for the creditor to confirm",
        needs=handlers.obligation_needs,
    ),
    CommandType(
        "obligation.confirm_settlement",
        obligations.ObligationRef,
        ANY_MEMBER,
        handlers.confirm_settlement,
        _OBLIGATION,
        "The creditor confirms the claimed payment",
        needs=handlers.obligation_needs,
    ),
    CommandType(
        "obligation.dispute_settlement",
        obligations.DisputeBody,
        ANY_MEMBER,
        handlers.dispute_settlement,
        _OBLIGATION,
        "The creditor disputes the claimed payment",
        needs=handlers.obligation_needs,
    ),
    CommandType(
        "member.set_tier",
        financing.SetTierBody,
        OPERATOR,
        handlers.set_tier,
        frozenset({"member-not-found", "role-mismatch"}),
        "Rate a supplier A, B or C: its tier multiplies the rate it is quoted",
    ),
    CommandType(
        "credit_line.set",
        financing.CreditLineBody,
        BANK,
        handlers.credit_line_set,
        frozenset(
            {"member-not-found", "role-mismatch", "credit-line-below-use", "credit-lines-exceeded"}
        ),
        "Set or replace the bank's credit line and agreed rate for a core enterprise's paper",
    ),
    CommandType(
        "financing.apply",
        financing.ApplyBody,
        ANY_MEMBER,
        handlers.financing_apply,
        _PENDING
        | {
            "not-spendable",
            "already-financed",
            "certificate-overdue",
            "certificate-matured",
            "not-a-bank",
            "recipient-suspended",
            "no-credit-line",
            "credit-line-expired",
            "credit-line-exceeded",
            "insufficient-amount",
            "piece-too-small",
            "root-pieces-exceeded",
            "holder-pieces-exceeded",
        },
        "Ask a bank to finance a piece (or part of it): the financed piece is locked",
        needs=handlers.apply_needs,
    ),
    CommandType(
        "financing.decide",
        financing.DecideBody,
        BANK,
        handlers.financing_decide,
        _FINANCING
        | {
            "certificate-matured",
            "credit-line-expired",
            "registration-required",
            "rate-above-quote",
            "recipient-suspended",
            "holder-pieces-exceeded",
        },
        "The bank approves (the piece becomes its own) or rejects an application",
    ),
    CommandType(
        "financing.cancel",
        financing.FinancingRef,
        ANY_MEMBER,
        handlers.financing_cancel,
        _FINANCING,
        "The applicant withdraws an application the bank has not decided",
    ),
    CommandType(
        "settlement.pay",
        settlement.PayBody,
        CORE,
        handlers.settlement_pay,
        frozenset(
            {
                "certificate-not-found",
                "certificate-expired",
                "not-matured",
                "not-payable",
                "not-a-root",
                "already-settled",
                "amount-exceeds-outstanding",
            }
        ),
        "The issuer pays pieces of its paper in full, or a root in part, at maturity",
        needs=handlers.pay_needs,
    ),
    CommandType(
        "limit.lift_overdue_block",
        settlement.LiftBlockBody,
        OPERATOR,
        handlers.lift_overdue_block,
        frozenset({"member-not-found", "role-mismatch"}),
        "Let an issuer with overdue paper issue until a date, recording why",
    ),
    CommandType(
        "member.set_payout_account",
        settlement.PayoutAccountBody,
        ANY_MEMBER,
        handlers.set_payout_account,
        frozenset(),
        "Register the bank account the signer is paid into at maturity",
    ),
    CommandType(
        "webhook.set",
        webhooks.SetBody,
        ANY_MEMBER,
        handlers.webhook_set,
        frozenset({"webhook-endpoints-exceeded"}),
        "Register where the signer is told of the events that concern it (or change them)",
    ),
    CommandType(
        "webhook.delete",
        webhooks.UrlBody,
        ANY_MEMBER,
        handlers.webhook_delete,
        frozenset({"webhook-not-found"}),
        "Remove one of the signer's webhook endpoints",
    ),
    CommandType(
        "webhook.rotate_secret",
        webhooks.UrlBody,
        ANY_MEMBER,
        handlers.webhook_rotate_secret,
        frozenset({"webhook-not-found"}),
        "Give an endpoint a new signing secret; the old one signs too for 24 h",
    ),
    CommandType(
        "ledger.log_key",
        log_keys.LogKeyBody,
        OPERATOR,
        handlers.publish_log_key,
        frozenset({"key-in-use"}),
        "Publish the service's log key, which signs checkpoints (retiring the one before)",
    ),
    CommandType(
        "netting.run",
        netting_run.RunBody,
        OPERATOR,
        handlers.netting,
        frozenset(),
        "Clear cycles of debt between consenting members by set-off",
        plan=handlers.netting_plan,
    ),
)

CATALOG: dict[str, CommandType] = {kind.type: kind for kind in _DECLARED}
assert len(CATALOG) == len(_DECLARED), "a command type is declared twice"


def parse(data: bytes | dict[str, Any], *, signed: bytes | None = None) -> Command:
    """Parse an envelope of any declared command type (``ledger.commands``)."""
    return parse_envelope(data, CATALOG, signed=signed)


def command_types() -> list[str]:
    return sorted(CATALOG)
