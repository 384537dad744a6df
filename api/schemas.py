"""What the API answers, as pydantic models for the OpenAPI document.

These models document answers; they do not build them. The reads return the dicts that
``wire()`` and the views in ``ledger.reads``/``ledger.reports``/``ledger.transparency``
make, and a route names the model of its answer with :func:`api.openapi.answers` in its
decorator. Every model allows fields it does not name (``extra="allow"``): a field added
to an answer is not a break for a generated client, and a client reads it as an
additional property until the model names it.

Amounts are decimal strings (``"1000.00"``), never numbers; dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


Money = str  # a decimal string of yuan with at most two decimals: "1000.00"


# --- problems ---------------------------------------------------------------------------


class FieldError(Answer):
    field: str = Field(description="the field, dotted from the request's root")
    message: str


class Problem(Answer):
    """An RFC 9457 problem: every error the service answers, as application/problem+json.
    ``type`` is a stable slug (docs/api.md, "Problem types"); code against it."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="each malformed field (validation, invalid-amount)"
    )


# --- commands ---------------------------------------------------------------------------


class Receipt(Answer):
    """An applied command: its entry's seq and hash, and the rows it wrote."""

    seq: int
    entry_hash: str
    effects: dict[str, list[dict[str, Any]]] = Field(
        description="the rows the entry wrote, by table (members, certificates, ...)"
    )


# --- members ----------------------------------------------------------------------------


class MemberView(Answer):
    id: str
    name: str
    roles: list[str]
    status: str
    key_id: str
    public_key: str
    admitted_seq: int
    netting_consent: bool
    tier: str | None = None
    payout_account: dict[str, Any] | None = None


# --- certificates -----------------------------------------------------------------------


class InvoiceView(Answer):
    no: str
    amount: Money


class TradeView(Answer):
    contract_no: str
    invoices: list[InvoiceView]


class InvoiceUse(Answer):
    no: str
    amount: Money
    buyer: str
    seller: str


class CertificateView(Answer):
    id: str
    root_id: str
    parent_ids: list[str]
    issuer: str
    holder: str
    amount: Money
    maturity: str
    state: str
    level: int
    trade: TradeView | None = None
    sender: str | None = None
    expires_at: str | None = None
    invoice_uses: list[InvoiceUse] = []
    flags: list[str] = []
    memo: str | None = None
    created_seq: int
    late_daily_rate: str | None = None


class TreePage(Answer):
    root_id: str
    face_amount: Money
    issuer: str
    maturity: str
    pieces: list[CertificateView]
    next_cursor: str | None


class WalletTotal(Answer):
    issuer: str
    maturity: str
    state: str
    amount: Money


class WalletPage(Answer):
    member: str
    totals: list[WalletTotal]
    certificates: list[CertificateView]
    next_cursor: str | None


class HistoryRow(Answer):
    seq: int
    entry_hash: str
    recorded_at: str
    type: str
    signer: str
    certificates: list[Any] = []


class HistoryPage(Answer):
    member: str
    entries: list[HistoryRow]
    next_cursor: str | None


class FlaggedRootsPage(Answer):
    flag: str
    roots: list[dict[str, Any]]
    next_cursor: str | None


class LogKeyView(Answer):
    name: str
    key_id: str
    public_key: str
    verifier_key: str


class CheckpointView(Answer):
    size: int
    root_hash: str
    note: str = Field(description="the signed checkpoint note (also as text/plain)")
    origin: str | None = None
    log_key: LogKeyView | None = None


class EntryView(Answer):
    """A journal entry exactly as hashed."""

    seq: int
    prev_hash: str
    recorded_at: str
    command: dict[str, Any]
    signature: str
    effects: dict[str, list[dict[str, Any]]]
    entry_hash: str


class EvidenceBundle(Answer):
    format: str
    certificate: str
    lineage: list[str]
    checkpoint: CheckpointView
    log_key: LogKeyView
    log_key_entry: dict[str, Any]
    entries: list[dict[str, Any]]


# --- obligations and netting ------------------------------------------------------------


class ObligationView(Answer):
    id: str
    debtor: str
    creditor: str
    amount: Money
    outstanding: Money
    due_date: str
    state: str
    reference: str
    payment_ref: str | None = None
    created_seq: int
    claimed: Money | None = None
    claim_ref: str | None = None


class NettingPreview(Answer):
    mode: str
    gross_before: Money
    gross_after: Money
    cleared: Money
    cleared_percent: str
    edges_before: int
    edges_after: int
    reductions: list[dict[str, Any]]
    largest_reductions: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    nets: list[dict[str, Any]]
    solver: str
    solver_elapsed_ms: int
    excluded: list[Any]
    excluded_unlisted: int
    deferred: dict[str, Any]


# --- discounting ------------------------------------------------------------------------


class Quote(Answer):
    """What a financing would be quoted now."""


class FinancingView(Answer):
    id: str
    state: str


class Ancestry(Answer):
    """The financed piece and its ancestry to the root."""


class FinancingsPage(Answer):
    member: str
    financings: list[dict[str, Any]]
    next_cursor: str | None


class Exposure(Answer):
    bank: str
    lines: list[dict[str, Any]]


class FinancingReport(Answer):
    core: str
    month: str
    banks: list[dict[str, Any]]


# --- settlement and reports (also as text/csv) -----------------------------------------


class DuePage(Answer):
    """The clearing list: what an issuer owes on a day, to whom."""

    issuer: str
    next_cursor: str | None = None


class RootRow(Answer):
    id: str
    maturity: str
    face: Money
    paid: Money
    outstanding: Money
    overdue: Money
    late_interest: Money
    pieces: int
    level: int
    holders: int


class RootsPage(Answer):
    issuer: str
    on: str
    roots: list[RootRow]
    totals: dict[str, Any]
    next_cursor: str | None


class OverduePage(Answer):
    issuer: str | None
    on: str
    pieces: list[dict[str, Any]]
    totals: dict[str, Any]
    next_cursor: str | None


class IssuerPeriod(Answer):
    issuer: str
    from_: str = Field(alias="from")
    to: str
    limit: Money
    outstanding: Money
    issued_count: int
    issued: Money
    paid: Money
    late_interest: Money
    overdue: Money


class IssuerReport(Answer):
    issuer: str
    period: list[IssuerPeriod]
    next_cursor: str | None


class SplittingRow(Answer):
    id: str
    issuer: str
    face: Money
    level: int
    pieces: int
    holders: int
    smallest: Money
    flagged: bool
    reasons: list[str]


class SplittingPage(Answer):
    flagged_only: bool
    roots: list[SplittingRow]
    next_cursor: str | None


# --- webhooks ---------------------------------------------------------------------------


class DeliveriesPage(Answer):
    deliveries: list[dict[str, Any]]
    next_cursor: str | None


class Delivery(Answer):
    """One outbox message and its every attempt."""


class Redelivery(Answer):
    """The message, queued to be sent again."""


class Endpoints(Answer):
    member: str
    endpoints: list[dict[str, Any]]


# --- the ledger -------------------------------------------------------------------------


class LedgerId(Answer):
    ledger_id: str = Field(description="the genesis entry's hash: every signature names it")


class Head(Answer):
    seq: int
    entry_hash: str | None


class VerifyReport(Answer):
    ok: bool
    entries: int
    head_hash: str | None
    first_bad_seq: int | None
    problems: list[Any]


class InclusionProof(Answer):
    seq: int
    size: int
    leaf_index: int
    leaf_hash: str
    proof: list[str]
    root_hash: str


class ConsistencyProof(Answer):
    from_: int = Field(alias="from")
    to: int
    proof: list[str]
    first_root: str
    second_root: str


class Live(Answer):
    status: str


class Health(Answer):
    status: str
    seq: int
    clock_offset_s: int
