"""Refusals: the named ways a request can be turned down.

A refusal is a bad *request* — the client asked for something the rules do not allow
(``insufficient-amount``), and nothing is written. It is raised as :class:`Refusal`
with a stable ``type`` that clients code against, and a ``detail`` sentence for
people. A broken invariant of our own code is not a refusal: it is an ``assert``.

``api/errors.py`` is the one place that maps each type to an HTTP status.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request refused by a rule; ``type`` is a stable slug from :data:`TITLES`."""

    def __init__(self, type_: str, detail: str, **extra: Any) -> None:
        assert type_ in TITLES, f"unregistered refusal type {type_!r}"
        super().__init__(f"{type_}: {detail}")
        self.type = type_
        self.detail = detail
        self.extra = extra

    @property
    def title(self) -> str:
        return TITLES[self.type]


# Every refusal type, with its one-line title. Adding a type here is adding to the
# published contract: never rename or remove one.
TITLES: dict[str, str] = {
    # request shape
    "validation": "The request is malformed",
    "invalid-amount": "An amount is not a positive decimal string with at most two decimals",
    "payload-too-large": "The request body is too large",
    "body-not-allowed": "This method takes no request body",
    "unsupported-media-type": "A command is sent as application/json in UTF-8",
    "request-timeout": "The request did not arrive in time",
    "bad-request": "The HTTP request itself is malformed",
    "method-not-allowed": "This path does not take this method",
    "unavailable": "The ledger is busy or its database is unreachable; retry",
    "internal-error": "An unexpected error; nothing was applied",
    "unknown-command": "No such command type",
    # authentication and authorisation
    "unauthenticated": "The signed-request headers are missing or malformed",
    "bad-signature": "The signature does not verify",
    "unknown-member": "The signer is not an admitted member",
    "unknown-key": "The key id is not a key of this member",
    "retired-key": "The key has been rotated out",
    "member-suspended": "The member is suspended",
    "stale-timestamp": "The signed time is too far from the server clock",
    "forbidden": "The member's role does not allow this",
    "not-found": "No such resource, or not visible to this member",
    # journal
    "replayed-nonce": "The nonce was already used for a different command",
    "not-initialised": "The ledger has no genesis entry yet",
    "already-initialised": "The ledger already has a genesis entry",
    # members
    "member-exists": "A member with this id is already admitted",
    "member-not-found": "No member with this id",
    "key-in-use": "This public key is already registered",
    "invalid-member-state": "The member is not in a state that allows this",
    "role-mismatch": "The member does not have the role this needs",
    # limits
    "issuance-limit-exceeded": "The issuance would exceed the issuer's limit",
    # certificates
    "certificate-not-found": "No such certificate, or not visible to this member",
    "maturity-out-of-range": "The maturity date is not allowed",
    "recipient-not-admitted": "The recipient is not an admitted member",
    "recipient-suspended": "The recipient is suspended",
    "recipient-is-issuer": "A certificate cannot be paid to its own issuer",
    "not-holder": "The signer does not hold this certificate",
    "not-spendable": "The certificate is not active",
    "not-pending": "The certificate is not pending",
    "not-issuer": "Only the issuer may do this",
    "certificate-expired": "The pending certificate has expired and went back to its sender",
    "certificate-matured": "The certificate has reached maturity",
    "duplicate-input": "A certificate is used twice in one transfer",
    "mixed-roots": "The inputs come from different root certificates",
    "insufficient-amount": "The outputs exceed the inputs",
    "too-many-outputs": "Too many outputs in one transfer",
    "piece-too-small": "A piece is below the minimum size",
    "max-level-exceeded": "The transfer would go beyond the maximum level",
    # obligations and netting
    "obligation-not-found": "No such obligation, or not visible to this member",
    "invalid-obligation-state": "The obligation is not in a state that allows this",
    "netting-too-large": "The debt graph is beyond what one netting can take",
    # trade background
    "invoice-overused": "The cited invoices cannot back this amount",
    "invoice-conflict": "The invoice is registered with a different amount",
}
