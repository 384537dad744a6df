"""What the API answers, as pydantic models for the OpenAPI document.

These models document answers; they do not build them. The reads return the dicts that
``wire()`` and the views in ``ledger.reads``/``ledger.reports``/``ledger.transparency``
make, and a route names the model of its answer with :func:`api.openapi.answers` in its
decorator. Every model allows fields it does not name (``extra="allow"``): a field added
to an answer is not a break for a generated client, and a client reads it as an
additional property until the model names it.

Amounts are decimal strings (``"1000.00"``), never numbers; dates are ``YYYY-MM-DD``.

The projected things (a certificate, an obligation, a financing, a member...) are not
described here a second time: :func:`wire_model` derives each one's model from its
declaration in ``ledger.entities``, the one from which its wire shape is made, so a new
field there is a new field here. ``tests/integration/test_openapi_answers.py`` holds
every read's real answer to its model.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import BigInteger, Boolean, Integer

from ledger import entities
from ledger.certificates import RootState


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# A decimal string of yuan with two decimals: "1000.00" (ledger.money.format_fen).
Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["1000.00"])]
Rate = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", examples=["0.0385"])]


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


# --- the projected things, from ledger.entities ----------------------------------------


class InvoiceUse(Answer):
    no: str
    amount: Money
    buyer: str
    seller: str


_BY_CODEC: dict[int, Any] = {
    id(entities.FEN): Money,
    id(entities.ISO_DATE): date,
    id(entities.BOOL): bool,
    id(entities.DECIMAL): Rate,
    id(entities.JSON_LIST): list[Any],
    id(entities.COMMA_LIST): list[str],
    id(entities.JSON_OBJECT): dict[str, Any],
    id(entities.INVOICE_USES): list[InvoiceUse],
}


def _wire_type(field: entities.Field) -> Any:
    """The type of one entity field's value on the wire."""
    states = field.codec.to_object
    if isinstance(states, type) and issubclass(states, StrEnum):
        return Literal[tuple(s.value for s in states)]
    if id(field.codec) in _BY_CODEC:
        return _BY_CODEC[id(field.codec)]
    if field.type_ is None:  # a constant (entities.constant)
        return type(field.getter(None))
    column = field.type_ if isinstance(field.type_, type) else type(field.type_)
    if issubclass(column, Boolean):
        return bool
    return int if issubclass(column, BigInteger | Integer) else str


def wire_model(entity: entities.Entity[Any], name: str) -> type[BaseModel]:
    """The answer model of ``entity``'s wire shape: a field a shape may leave out (or
    that may be null) is optional."""
    fields: dict[str, Any] = {}
    for field in entity.fields:
        type_ = _wire_type(field)
        fields[field.wire_key] = (type_ | None, None) if field.optional_on_wire else (type_, ...)
    model: type[BaseModel] = create_model(name, __base__=Answer, **fields)
    return model


def _list_of(model: type[BaseModel]) -> Any:
    return list[model]  # type: ignore[valid-type]


def _row_name(collection: str) -> str:
    """``credit_lines`` -> ``CreditLineRow``."""
    return "".join(part.capitalize() for part in collection.removesuffix("s").split("_")) + "Row"


MemberView = wire_model(entities.MEMBERS, "MemberView")
CertificateView = wire_model(entities.CERTIFICATES, "CertificateView")


class KeyView(Answer):
    """A member's key as reads show it (``ledger.reads.key_record``): its name only to
    the member itself and the operator."""

    key_id: str
    name: str | None = None
    public_key: str
    added_seq: int
    retired_seq: int | None = None


class EntryKey(KeyView):
    """The key that signed an entry, named, even if retired since."""

    seq: int
    signer: str


MemberRecord = create_model("MemberRecord", __base__=MemberView, keys=(list[KeyView], ...))
ObligationView = wire_model(entities.OBLIGATIONS, "ObligationView")
FinancingView = wire_model(entities.FINANCINGS, "FinancingView")
CreditLineView = wire_model(entities.CREDIT_LINES, "CreditLineView")
WebhookView = wire_model(entities.WEBHOOKS, "WebhookView")
# What an entry wrote, by collection: every entity's rows, as its wire shape.
Effects = create_model(
    "Effects",
    __base__=Answer,
    **{  # type: ignore[call-overload]
        collection: (_list_of(wire_model(e, _row_name(collection))) | None, None)
        for collection, e in entities.ENTITIES.items()
    },
)


# --- commands ---------------------------------------------------------------------------


class Receipt(Answer):
    """An applied command: its entry's seq and hash, and the rows it wrote."""

    seq: int
    entry_hash: str
    effects: Effects = Field(description="the rows the entry wrote, by collection")  # type: ignore[valid-type]


# --- certificates -----------------------------------------------------------------------


class TreePage(Answer):
    root_id: str
    face_amount: Money
    issuer: str
    maturity: date
    pieces: list[CertificateView]  # type: ignore[valid-type]
    next_cursor: str | None


class WalletTotal(Answer):
    issuer: str
    maturity: date
    state: str
    amount: Money


class WalletPage(Answer):
    member: str
    totals: list[WalletTotal]
    certificates: list[CertificateView]  # type: ignore[valid-type]
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


# --- the journal and its proofs ---------------------------------------------------------


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
    command: dict[str, Any] = Field(description="the command as signed")
    signature: str
    effects: Effects  # type: ignore[valid-type]
    entry_hash: str


class EvidenceBundle(Answer):
    format: str
    certificate: str
    lineage: list[str]
    checkpoint: CheckpointView
    log_key: LogKeyView
    log_key_entry: dict[str, Any]
    entries: list[dict[str, Any]]


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


class NotInitialised(Health):
    """Up, but without a genesis entry (`dcc init` not run): status "not-initialised"."""

    status: Literal["not-initialised"]
    detail: str


# --- obligations and netting ------------------------------------------------------------


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
    """What a financing would be quoted now (``ledger.pricing.Quote``)."""

    certificate: str
    bank: str
    applicant: str
    face: Money
    annual_rate: Rate
    rate: Rate
    value_date: date
    payment_date: date
    days: int
    basis_days: int
    interest: Money
    fee: Money
    disbursement: Money
    spread: Money
    all_in_rate: Rate
    interest_payer: str
    provisional: bool = Field(description="whether the payment date's calendar is provisional")


class Ancestry(Answer):
    """The financed piece and its ancestry to the root, oldest first."""

    financing: str
    pieces: list[CertificateView]  # type: ignore[valid-type]


class FinancingsPage(Answer):
    member: str
    financings: list[FinancingView]  # type: ignore[valid-type]
    next_cursor: str | None


class LineUse(CreditLineView):  # type: ignore[valid-type,misc]
    pending: Money
    available: Money
    expired: bool


class Exposure(Answer):
    bank: str
    lines: list[LineUse]


class FinancingReport(Answer):
    core: str
    month: str
    banks: list[dict[str, Any]]


# --- settlement and reports (also as text/csv) -----------------------------------------


class DuePage(Answer):
    """The clearing list: what an issuer owes on a day, to whom."""

    issuer: str
    on: date
    pieces: list[dict[str, Any]]
    totals: dict[str, Any]
    next_cursor: str | None


class RootRow(Answer):
    id: str
    maturity: date
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
    on: date
    roots: list[RootRow]
    totals: dict[str, Any]
    next_cursor: str | None


class OverduePage(Answer):
    issuer: str | None
    on: date
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


class Delivery(Answer):
    """One outbox message (``ledger.outbox.delivery_wire``)."""

    id: str
    endpoint_id: str
    url: str
    member: str
    event: str
    seq: int
    state: str
    attempts: int
    redeliveries: int
    next_attempt_ms: int | None
    created_ms: int
    done_ms: int | None
    last_status: int | None
    last_error: str | None


class DeliveryAttempts(Delivery):
    attempts_made: list[dict[str, Any]]


class DeliveriesPage(Answer):
    deliveries: list[Delivery]
    next_cursor: str | None


class EndpointView(WebhookView):  # type: ignore[valid-type,misc]
    disabled_ms: int | None = None
    disabled_reason: str | None = None


class Endpoints(Answer):
    member: str
    endpoints: list[EndpointView]


class SecretView(Answer):
    id: str
    url: str
    events: list[str]
    secret_seq: int
    secret: str
    previous_secret: str | None = None
    previous_secret_until_ms: int | None = None


class Secrets(Answer):
    member: str
    endpoints: list[SecretView]


# --- listings (api/routes/listings.py) -------------------------------------------------


class MemberPage(Answer):
    members: list[MemberView]  # type: ignore[valid-type]
    next_cursor: str | None


ObligationItem = create_model(
    "ObligationItem",
    __base__=ObligationView,
    updated_seq=(int, Field(description="the entry that last changed it")),
)


class ObligationPage(Answer):
    member: str | None = Field(description="whose obligations; null: everyone's (operator)")
    obligations: list[ObligationItem]  # type: ignore[valid-type]
    next_cursor: str | None


class CertificateItem(Answer):
    """A root, summed over its pieces (``ledger.reads.certificates``)."""

    id: str = Field(description="the root's id")
    issuer: str
    first_holder: str
    face: Money
    outstanding: Money
    paid: Money
    overdue: Money
    maturity: str
    state: RootState
    pieces: int = Field(description="pieces holding value")
    created_seq: int


class CertificatePage(Answer):
    issuer: str | None = Field(description="whose certificates; null: every issuer's (operator)")
    certificates: list[CertificateItem]
    next_cursor: str | None


class IssuanceLimitView(Answer):
    core: str
    kind: str
    limit: Money
    outstanding: Money
    available: Money
    block_lifted_until: str | None = None
    block_lift_reason: str | None = None
