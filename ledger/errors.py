"""Refusals: the named ways a request can be turned down.

A refusal is a bad *request* — the client asked for something the rules do not allow
(``insufficient-amount``), and nothing is written. It is raised as :class:`Refusal`
with a stable ``type`` that clients code against, and a ``detail`` sentence for
people. A broken invariant of our own code is not a refusal: it is an ``assert``.

:data:`PROBLEMS` declares every type once, with its title and HTTP status;
``api/errors.py`` turns a refusal into a response from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Refusal(Exception):
    """A request refused by a rule; ``type`` is a stable slug from :data:`PROBLEMS`."""

    def __init__(self, type_: str, detail: str, **extra: Any) -> None:
        assert type_ in PROBLEMS, f"unregistered refusal type {type_!r}"
        super().__init__(f"{type_}: {detail}")
        self.type = type_
        self.detail = detail
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (to and from the sequencer process, ledger.remote).
        return (_refusal, (self.type, self.detail, self.extra))

    @property
    def title(self) -> str:
        return PROBLEMS[self.type].title

    @property
    def status(self) -> int:
        return PROBLEMS[self.type].status


def _refusal(type_: str, detail: str, extra: dict[str, Any]) -> Refusal:
    return Refusal(type_, detail, **extra)


@dataclass(frozen=True)
class Problem:
    """How a refusal type is published: its one-line title and its HTTP status."""

    title: str
    status: int


# Every refusal type, with its title and HTTP status: the one declaration from which the
# problem responses (api/errors.py), the OpenAPI document and the docs' table are
# checked. Adding a type here is adding to the published contract: never rename or
# remove one.
PROBLEMS: dict[str, Problem] = {
    # request shape
    "validation": Problem("The request is malformed", 422),
    "invalid-amount": Problem(
        "An amount is not a positive decimal string with at most two decimals", 422
    ),
    "payload-too-large": Problem("The request body is too large", 413),
    "body-not-allowed": Problem("This method takes no request body", 400),
    "unsupported-media-type": Problem("A command is sent as application/json in UTF-8", 415),
    "request-timeout": Problem("The request did not arrive in time", 408),
    "bad-request": Problem("The HTTP request itself is malformed", 400),
    "method-not-allowed": Problem("This path does not take this method", 405),
    "unavailable": Problem("The ledger is busy or its database is unreachable; retry", 503),
    "internal-error": Problem("An unexpected error; nothing was applied", 500),
    "unknown-command": Problem("No such command type", 422),
    # authentication and authorisation
    "unauthenticated": Problem("The signed-request headers are missing or malformed", 401),
    "bad-signature": Problem("The signature does not verify", 401),
    "unknown-member": Problem("The signer is not an admitted member", 401),
    "unknown-key": Problem("The key id is not a key of this member", 401),
    "retired-key": Problem("The key has been rotated out", 401),
    "member-suspended": Problem("The member is suspended", 403),
    "stale-timestamp": Problem("The signed time is too far from the server clock", 401),
    "forbidden": Problem("The member's role does not allow this", 403),
    "not-found": Problem("No such resource, or not visible to this member", 404),
    # journal
    "replayed-nonce": Problem("The nonce was already used for a different command", 409),
    "not-initialised": Problem("The ledger has no genesis entry yet", 409),
    "already-initialised": Problem("The ledger already has a genesis entry", 409),
    # members
    "member-exists": Problem("A member with this id is already admitted", 409),
    "member-not-found": Problem("No member with this id", 404),
    "key-in-use": Problem("This public key is already registered", 409),
    "invalid-member-state": Problem("The member is not in a state that allows this", 409),
    "role-mismatch": Problem("The member does not have the role this needs", 422),
    "key-not-found": Problem("The member has no active key of this name", 404),
    "key-name-taken": Problem("The member has an active key of this name already", 409),
    "last-key": Problem("A member's last active key cannot be removed", 409),
    "member-keys-exceeded": Problem("The member has as many active keys as allowed", 422),
    # limits
    "issuance-limit-exceeded": Problem("The issuance would exceed the issuer's limit", 422),
    # certificates
    "certificate-not-found": Problem("No such certificate, or not visible to this member", 404),
    "maturity-out-of-range": Problem("The maturity date is not allowed", 422),
    "recipient-not-admitted": Problem("The recipient is not an admitted member", 422),
    "recipient-suspended": Problem("The recipient is suspended", 422),
    "recipient-is-issuer": Problem("A certificate cannot be paid to its own issuer", 422),
    "not-holder": Problem("The signer does not hold this certificate", 403),
    "not-spendable": Problem("The certificate is not active", 409),
    "not-pending": Problem("The certificate is not pending", 409),
    "not-issuer": Problem("Only the issuer may do this", 403),
    "certificate-expired": Problem(
        "The pending certificate has expired and went back to its sender", 409
    ),
    "certificate-matured": Problem("The certificate has reached maturity", 409),
    "duplicate-input": Problem("A certificate is used twice in one transfer", 422),
    "mixed-roots": Problem("The inputs come from different root certificates", 422),
    "insufficient-amount": Problem("The outputs exceed the inputs", 422),
    "too-many-outputs": Problem("Too many outputs in one transfer", 422),
    "piece-too-small": Problem("A piece is below the minimum size", 422),
    "max-level-exceeded": Problem("The transfer would go beyond the maximum level", 422),
    "root-pieces-exceeded": Problem(
        "A piece is below the smallest piece its root can be split into", 422
    ),
    "holder-pieces-exceeded": Problem("The signer would have more live pieces than allowed", 422),
    # obligations and netting
    "obligation-not-found": Problem("No such obligation, or not visible to this member", 404),
    "invalid-obligation-state": Problem("The obligation is not in a state that allows this", 409),
    "settlement-too-large": Problem("The claimed payment exceeds what is outstanding", 422),
    "netting-too-large": Problem("The debt graph is beyond what one netting can take", 422),
    "obligation-too-large": Problem(
        "The obligation's amount is above the ceiling for one obligation", 422
    ),
    "member-obligations-exceeded": Problem(
        "The debtor owes as many live obligations as allowed", 422
    ),
    # journal
    "entry-too-large": Problem(
        "The command would write a journal entry beyond the size limit", 422
    ),
    # discounting
    "not-a-bank": Problem("The member applied to is not a bank", 422),
    "no-credit-line": Problem("The bank has no credit line for this issuer's paper", 422),
    "credit-line-expired": Problem("The bank's credit line for this issuer has expired", 422),
    "credit-line-exceeded": Problem("The face is above what is left of the credit line", 422),
    "credit-line-below-use": Problem("A credit line cannot go below what is in use", 409),
    "credit-lines-exceeded": Problem("The bank holds as many credit lines as allowed", 422),
    "certificate-overdue": Problem("The certificate is overdue", 409),
    "already-financed": Problem("The certificate was financed already", 409),
    "financing-not-found": Problem("No such financing, or not this member's to act on", 404),
    "financing-expired": Problem("The application expired undecided", 409),
    "already-decided": Problem("The financing has already been decided", 409),
    "registration-required": Problem("An approval names its filing in the financing registry", 422),
    "rate-above-quote": Problem("The rate is above the one quoted", 422),
    "ancestry-too-large": Problem("The piece descends from more pieces than one read returns", 422),
    # settlement
    "mixed-financings": Problem("The inputs came by different financings", 422),
    "not-matured": Problem("The certificate has not matured", 409),
    "not-payable": Problem("The certificate holds nothing to pay", 409),
    "not-a-root": Problem("The certificate is not a root", 422),
    "already-settled": Problem("The certificate is settled", 409),
    "amount-exceeds-outstanding": Problem("The amount is more than is outstanding", 422),
    "issuer-overdue": Problem("The issuer has overdue paper and may not issue", 409),
    # webhooks
    "webhook-not-found": Problem("The signer has no webhook endpoint at this URL", 404),
    "webhook-endpoints-exceeded": Problem(
        "The member has as many webhook endpoints as allowed", 422
    ),
    "redeliveries-exceeded": Problem(
        "This message has been sent again as many times as allowed", 429
    ),
    # trade background
    "invoice-overused": Problem("The cited invoices cannot back this amount", 422),
    "invoice-conflict": Problem("The invoice is registered with a different amount", 409),
}
