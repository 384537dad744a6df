"""Entities: one declaration per projected thing, from which everything else is derived.

A certificate (a member, a key, an invoice, a limit, an obligation) has four shapes:
the frozen domain object the rules work on, its wire shape in a journal entry's effects,
its row in a projection table, and the table itself. Each entity lists its fields once,
each with its column type and a :class:`Codec` saying how its value reads in each
shape; the :class:`Entity` derives the ``Table`` and the three conversions from that
list, so a new field is one edit::

    >>> wire = LIMITS.to_wire(IssuanceLimit("C", 500_00, 120_00))
    >>> wire
    {'member': 'C', 'kind': 'issuance', 'limit': '500.00', 'outstanding': '120.00'}
    >>> row = LIMITS.to_row(wire)
    >>> row
    {'member': 'C', 'limit_fen': 50000, 'outstanding_fen': 12000, 'block_lifted_until': None,
     'block_lift_reason': None}
    >>> LIMITS.from_row(row)
    IssuanceLimit(member='C', limit_fen=50000, outstanding_fen=12000, block_lifted_until=None,
                  block_lift_reason=None)

Wire shapes are hashed into the journal, so they never change: a field an older entry
lacks names the value it had then (``legacy``), and a field that older shapes left out
is left out again for those values (``omit``). Every table carries ``updated_seq``, the
entry that last wrote the row; the projection (``ledger.projections``) stamps it.

The schema itself only changes through Alembic migrations: a test holds these tables
to what the migrations build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from ledger.canonical import column_text, parse_json
from ledger.certificates import Certificate, CertificateState
from ledger.credit import ISSUANCE, IssuanceLimit
from ledger.financing import CreditLine, Financing, FinancingState
from ledger.invoices import LEGACY, Invoice, InvoiceKey, InvoiceUse
from ledger.limits import KEY_NAME_LENGTH_MAX, WEBHOOK_URL_LENGTH_MAX
from ledger.log_keys import LogKey
from ledger.members import DEFAULT_KEY_NAME, Key, Member, MemberStatus
from ledger.money import format_fen, parse_amount
from ledger.obligations import Obligation, ObligationState
from ledger.pricing import InterestPayer
from ledger.settlement import Notice, Payment
from ledger.webhooks import Endpoint, EndpointState

T = TypeVar("T")
_Convert = Callable[[Any], Any]  # one value from one shape to another

metadata = MetaData()  # every table of the ledger (``ledger.models`` adds the journal's)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Codec:
    """How a field's value goes between its three shapes (None passes untouched in a
    nullable field)."""

    to_column: _Convert = _same  # wire -> column
    to_object: _Convert = _same  # column -> domain object
    to_wire: _Convert = _same  # domain object -> wire


PLAIN = Codec()
# Money: a decimal string on the wire, integer fen in the column and the object.
FEN = Codec(to_column=lambda text: parse_amount(text, allow_zero=True), to_wire=format_fen)
# A date: ISO text on the wire and in the column.
ISO_DATE = Codec(to_object=date.fromisoformat, to_wire=date.isoformat)
BOOL = Codec(to_column=bool)
# A rate: a decimal string on the wire and in the column, a Decimal inside.
DECIMAL = Codec(to_object=Decimal, to_wire=lambda rate: format(rate, "f"))  # never "1E-8"
# A list of strings: JSON on the wire, canonical JSON text in the column, a tuple inside.
JSON_LIST = Codec(
    to_column=column_text, to_object=lambda text: tuple(parse_json(text)), to_wire=list
)
# A JSON object kept as it is (a certificate's trade), canonical JSON text in the column.
JSON_OBJECT = Codec(to_column=column_text, to_object=parse_json)
# A sorted list of names, comma-separated in its column.
COMMA_LIST = Codec(to_column=",".join, to_object=lambda text: tuple(text.split(",")), to_wire=list)
INVOICE_USES = Codec(
    to_column=column_text,
    to_object=lambda text: tuple(InvoiceUse.from_wire(use) for use in parse_json(text)),
    to_wire=lambda uses: [use.wire() for use in uses],
)


def state_codec(states: type[StrEnum]) -> Codec:
    """A state of one state machine: its value on the wire and in the column, the enum
    member inside. A value the machine does not know is refused (``ValueError``)."""
    return Codec(
        to_column=lambda text: states(text).value,
        to_object=states,
        to_wire=str,  # a StrEnum's str() is its value, as a plain str
    )


_REQUIRED: Any = object()  # no legacy value: every entry carries the field
_NEVER: Any = object()  # never left out of the wire shape


@dataclass(frozen=True)
class Field:
    """One field of an entity: a domain attribute, a wire key and a column."""

    name: str  # the domain object's attribute (and its constructor's argument)
    # The column's type; None for a field only on the wire (see :func:`constant`).
    type_: TypeEngine[Any] | type[TypeEngine[Any]] | None
    codec: Codec = PLAIN
    nullable: bool = False
    wire: str = ""  # the wire key, when it is not ``name``
    column: str = ""  # the column, when it is not ``name``
    get: _Convert | None = None  # reads it from the object, when not ``name``
    legacy: Any = _REQUIRED  # the value of an entry written before the field existed
    omit: Any = _NEVER  # the value for which the wire shape leaves the field out
    server_default: ColumnElement[Any] | str | None = None

    @property
    def wire_key(self) -> str:
        return self.wire or self.name

    @property
    def optional_on_wire(self) -> bool:
        """Whether a wire shape may hold null for it, or leave it out."""
        return self.nullable or self.omit is not _NEVER

    @property
    def column_name(self) -> str:
        return self.column or self.name

    @property
    def getter(self) -> _Convert:
        return self.get or attrgetter(self.name)


def _convert(convert: _Convert, nullable: bool) -> _Convert | None:
    """``convert``, letting None through in a nullable field; None for the identity."""
    if convert is _same:
        return None
    if not nullable:
        return convert
    return lambda value: None if value is None else convert(value)


def fen(name: str, *, nullable: bool = False, legacy: Any = _REQUIRED) -> Field:
    """An amount: ``amount_fen`` inside and in its column, ``amount`` on the wire."""
    return Field(
        name, BigInteger, FEN, nullable=nullable, wire=name.removesuffix("_fen"), legacy=legacy
    )


def constant(name: str, value: Any) -> Field:
    """A key every wire shape of the entity carries with the same value, kept nowhere."""
    return Field(name, None, get=lambda _: value)


@dataclass(frozen=True)
class Entity(Generic[T]):
    """One kind of projected thing: its table, and its conversions between shapes."""

    collection: str  # the key of its rows in an entry's effects
    table: Table
    key_columns: tuple[str, ...]
    fields: tuple[Field, ...]  # in the order of the wire shape
    make: Callable[..., T]  # builds the domain object from its fields by name
    # The conversions, worked out once from ``fields`` (the write path runs them for
    # every row of every entry): (column, wire key, legacy value, convert) ...
    _to_row: tuple[tuple[str, str, Any, _Convert | None], ...] = field(init=False, repr=False)
    _from_row: tuple[tuple[str, str, _Convert | None], ...] = field(init=False, repr=False)
    _to_wire: tuple[tuple[str, _Convert, _Convert | None, Any], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        stored = [f for f in self.fields if f.type_ is not None]
        plans = {
            "_to_row": tuple(
                (f.column_name, f.wire_key, f.legacy, _convert(f.codec.to_column, f.nullable))
                for f in stored
            ),
            "_from_row": tuple(
                (f.name, f.column_name, _convert(f.codec.to_object, f.nullable)) for f in stored
            ),
            "_to_wire": tuple(
                (f.wire_key, f.getter, _convert(f.codec.to_wire, f.nullable), f.omit)
                for f in self.fields
            ),
        }
        for name, plan in plans.items():
            object.__setattr__(self, name, plan)

    def to_row(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        """Wire shape -> columns (without ``updated_seq``)."""
        row: dict[str, Any] = {}
        for column, key, legacy, convert in self._to_row:
            value = wire[key] if legacy is _REQUIRED else wire.get(key, legacy)
            row[column] = value if convert is None else convert(value)
        return row

    def from_row(self, row: Mapping[Any, Any]) -> T:
        """Columns (a dict, or a result row's ``_mapping``) -> domain object."""
        return self.make(
            **{
                name: row[column] if convert is None else convert(row[column])
                for name, column, convert in self._from_row
            }
        )

    def to_wire(self, obj: T) -> dict[str, Any]:
        """Domain object -> wire shape, in its published key order."""
        wire: dict[str, Any] = {}
        for key, get, convert, omit in self._to_wire:
            value = get(obj)
            if omit is _NEVER or value != omit:
                wire[key] = value if convert is None else convert(value)
        return wire

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The primary key of a column row."""
        return tuple(row[column] for column in self.key_columns)


def entity(
    collection: str,
    table_name: str,
    make: Callable[..., T],
    key: Sequence[str],
    fields: Sequence[Field],
    indexes: Sequence[Sequence[str]] = (),
) -> Entity[T]:
    """Declare an entity; its table (on :data:`metadata`) gets a column per stored field,
    then ``updated_seq``, the primary key ``key`` and an index ``ix_<table>_<columns>``
    per entry of ``indexes``."""
    columns = [
        Column(f.column_name, f.type_, nullable=f.nullable, server_default=f.server_default)
        for f in fields
        if f.type_ is not None
    ]
    table = Table(
        table_name,
        metadata,
        *columns,
        Column("updated_seq", BigInteger, nullable=False),
        PrimaryKeyConstraint(*key),
        *(Index(f"ix_{table_name}_{'_'.join(index)}", *index) for index in indexes),
    )
    return Entity(collection, table, tuple(key), tuple(fields), make)


MEMBER_ID = 18  # a unified social credit code
ID = 32  # an id derived from an entry
REFERENCE = 100
RATE = 12  # "0.036" … "0.360000"

MEMBERS: Entity[Member] = entity(
    "members",
    "members",
    Member,
    key=("id",),
    fields=(
        Field("id", String(MEMBER_ID)),
        Field("name", String(200)),
        Field("roles", String(64), COMMA_LIST),
        Field("status", String(16), state_codec(MemberStatus)),
        Field("key_id", String(ID)),
        Field("public_key", String(64)),
        Field("admitted_seq", BigInteger),
        # Entries written before netting existed carry no consent: it defaults to no.
        Field("netting_consent", Boolean, BOOL, legacy=False, server_default=false()),
        # A supplier's rating for discounting; unrated (C) until the operator sets one.
        Field("tier", String(1), nullable=True, legacy=None, omit=None),
        # Where it is paid at maturity (ledger.settlement); shown to itself, the
        # operator and the issuers that owe it.
        Field("payout_account", Text, JSON_OBJECT, nullable=True, legacy=None, omit=None),
    ),
    indexes=(("admitted_seq",),),  # the operator's listing, by admission
)

KEYS: Entity[Key] = entity(
    "keys",
    "member_keys",
    Key,
    key=("key_id",),
    fields=(
        Field("key_id", String(ID)),
        Field("member", String(MEMBER_ID), column="member_id"),
        Field("public_key", String(64)),
        Field("added_seq", BigInteger),
        Field("retired_seq", BigInteger, nullable=True),
        # A member's keys are named (ledger.members); keys from before names, and a
        # member's first key, are "primary", which their wire shape leaves out.
        Field(
            "name",
            String(KEY_NAME_LENGTH_MAX),
            legacy=DEFAULT_KEY_NAME,
            omit=DEFAULT_KEY_NAME,
            server_default=DEFAULT_KEY_NAME,
        ),
    ),
    indexes=(("member_id",),),
)

CERTIFICATES: Entity[Certificate] = entity(
    "certificates",
    "certificates",
    Certificate,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("root_id", String(ID)),
        Field("parent_ids", Text, JSON_LIST),
        Field("issuer", String(MEMBER_ID)),
        Field("holder", String(MEMBER_ID)),
        fen("amount_fen"),
        Field("maturity", String(10), ISO_DATE),
        Field("state", String(16), state_codec(CertificateState)),
        Field("level", Integer),
        Field("trade", Text, JSON_OBJECT),
        Field("sender", String(MEMBER_ID), nullable=True),
        Field("expires_at", String(40), nullable=True),  # RFC 3339 UTC
        Field("invoice_uses", Text, INVOICE_USES),
        Field("flags", Text, JSON_LIST),
        Field("memo", Text, nullable=True),
        Field("created_seq", BigInteger),
        # Entries written before discounting name neither: the holder paid any interest,
        # and no piece was financed.
        Field(
            "interest_payer",
            String(8),
            legacy="holder",
            omit="holder",
            server_default="holder",
        ),
        Field("financing", String(ID), nullable=True, legacy=None, omit=None),
        # Entries written before settlement name neither: nothing was paid, and the
        # late rate is the deployment's default (ledger.settlement).
        Field(
            "paid_fen",
            BigInteger,
            FEN,
            wire="paid",
            legacy="0.00",
            omit=0,
            server_default="0",
        ),
        Field("late_daily_rate", String(RATE), DECIMAL, nullable=True, legacy=None, omit=None),
    ),
    indexes=(
        ("holder", "state"),
        ("sender", "state"),
        ("root_id",),
        ("state", "expires_at"),
        ("issuer", "state", "maturity"),
        ("state", "maturity"),
        # The listing of certificates (roots) by issue, of one issuer or of all.
        ("issuer", "created_seq"),
        ("created_seq",),
    ),
)


def _invoice(buyer: str, seller: str, no: str, amount_fen: int, used_fen: int) -> Invoice:
    return Invoice(InvoiceKey(buyer, seller, no), amount_fen, used_fen)


# An invoice is its trade's: keyed by buyer (the payer, who cites it), number (normal
# form) and seller (the payee), in that order so a payment's look-up is a key prefix.
# Invoices from before invoices had parties have an empty buyer and seller (LEGACY),
# and their wire shape names neither.
INVOICES: Entity[Invoice] = entity(
    "invoices",
    "invoices",
    _invoice,
    key=("buyer", "no", "seller"),
    fields=(
        Field("no", String(40), get=attrgetter("key.no")),
        fen("amount_fen"),
        fen("used_fen"),
        Field("buyer", String(MEMBER_ID), get=attrgetter("key.buyer"), legacy=LEGACY, omit=LEGACY),
        Field(
            "seller", String(MEMBER_ID), get=attrgetter("key.seller"), legacy=LEGACY, omit=LEGACY
        ),
    ),
)

LIMITS: Entity[IssuanceLimit] = entity(
    "limits",
    "issuance_limits",
    IssuanceLimit,
    key=("member",),
    fields=(
        Field("member", String(MEMBER_ID)),
        constant("kind", ISSUANCE),
        fen("limit_fen"),
        fen("outstanding_fen"),
        # The operator's lift of the block on issuing with overdue paper, and why.
        Field("block_lifted_until", String(10), ISO_DATE, nullable=True, legacy=None, omit=None),
        Field("block_lift_reason", String(REFERENCE), nullable=True, legacy=None, omit=None),
    ),
)

OBLIGATIONS: Entity[Obligation] = entity(
    "obligations",
    "obligations",
    Obligation,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("debtor", String(MEMBER_ID)),
        Field("creditor", String(MEMBER_ID)),
        fen("amount_fen"),
        fen("outstanding_fen"),
        Field("due_date", String(10), ISO_DATE),
        Field("state", String(24), state_codec(ObligationState)),
        Field("reference", String(REFERENCE)),
        Field("payment_ref", String(REFERENCE), nullable=True),  # the last confirmed payment
        Field("created_seq", BigInteger),
        # A payment the debtor claims and the creditor has not yet confirmed or disputed;
        # entries written before settlement claims existed carry none.
        fen("claimed_fen", nullable=True, legacy=None),
        Field("claim_ref", String(REFERENCE), nullable=True, legacy=None),
    ),
    indexes=(("state",), ("debtor",), ("creditor", "created_seq"), ("created_seq",)),
)


CREDIT_LINES: Entity[CreditLine] = entity(
    "credit_lines",
    "credit_lines",
    CreditLine,
    key=("bank", "core"),
    fields=(
        Field("bank", String(MEMBER_ID)),
        Field("core", String(MEMBER_ID)),
        fen("amount_fen"),
        Field("annual_rate", String(RATE), DECIMAL),
        Field("expires_on", String(10), ISO_DATE),
        fen("used_fen"),
    ),
)

FINANCINGS: Entity[Financing] = entity(
    "financings",
    "financings",
    Financing,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("certificate", String(ID)),
        Field("applicant", String(MEMBER_ID)),
        Field("bank", String(MEMBER_ID)),
        Field("core", String(MEMBER_ID)),
        fen("face_fen"),
        Field("state", String(16), state_codec(FinancingState)),
        Field("interest_payer", String(8), state_codec(InterestPayer)),
        Field("quote", Text, JSON_OBJECT),
        Field("expires_at", String(40)),  # RFC 3339 UTC
        Field("created_seq", BigInteger),
        Field("decided_seq", BigInteger, nullable=True),
        Field("decided_on", String(10), ISO_DATE, nullable=True),
        Field("terms", Text, JSON_OBJECT, nullable=True),
        Field("registration_ref", String(REFERENCE), nullable=True),
        Field("disbursement_ref", String(REFERENCE), nullable=True),
        Field("reason", String(REFERENCE), nullable=True),
        Field("obligation", String(ID), nullable=True),
        Field("maturity", String(10), ISO_DATE, nullable=True, legacy=None, omit=None),
    ),
    indexes=(("bank", "state"), ("applicant", "state"), ("state", "expires_at"), ("core",)),
)

# What one settlement.pay paid of one piece (ledger.settlement).
PAYMENTS: Entity[Payment] = entity(
    "payments",
    "payments",
    Payment,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("certificate", String(ID)),
        Field("root_id", String(ID)),
        Field("issuer", String(MEMBER_ID)),
        Field("holder", String(MEMBER_ID)),
        fen("amount_fen"),
        Field("paid_on", String(10), ISO_DATE),
        Field("days_late", Integer),
        fen("late_interest_fen"),
        Field("payment_ref", String(REFERENCE)),
        Field("obligation", String(ID), nullable=True),
        Field("created_seq", BigInteger),
    ),
    indexes=(("issuer", "paid_on"), ("root_id",), ("holder",)),
)

# An issuer told what it will owe on a maturity date (ledger.settlement).
NOTICES: Entity[Notice] = entity(
    "notices",
    "settlement_notices",
    Notice,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("issuer", String(MEMBER_ID)),
        Field("maturity", String(10), ISO_DATE),
        Field("payment_date", String(10), ISO_DATE),
        fen("amount_fen"),
        Field("pieces", Integer),
        Field("listed", Text, JSON_OBJECT),
        Field("created_seq", BigInteger),
    ),
    indexes=(("issuer", "maturity"),),
)

# A member's webhook endpoint: where it is told of the events that concern it. Its secret
# is not here (ledger.webhooks): a journal must not hold it.
WEBHOOKS: Entity[Endpoint] = entity(
    "webhooks",
    "webhook_endpoints",
    Endpoint,
    key=("id",),
    fields=(
        Field("id", String(ID)),
        Field("member", String(MEMBER_ID)),
        Field("url", String(WEBHOOK_URL_LENGTH_MAX)),
        Field("events", Text, JSON_LIST),
        Field("state", String(16), state_codec(EndpointState)),
        Field("created_seq", BigInteger),
        Field("secret_seq", BigInteger),
    ),
    indexes=(("member",),),
)

# The service's log keys, published by the operator (ledger.log_keys).
LOG_KEYS: Entity[LogKey] = entity(
    "log_keys",
    "log_keys",
    LogKey,
    key=("key_id",),
    fields=(
        Field("key_id", String(ID)),
        Field("name", String(100)),
        Field("public_key", String(64)),
        Field("published_seq", BigInteger),
        Field("retired_seq", BigInteger, nullable=True),
    ),
)

ENTITIES: dict[str, Entity[Any]] = {
    e.collection: e
    for e in (
        MEMBERS,
        KEYS,
        CERTIFICATES,
        INVOICES,
        LIMITS,
        OBLIGATIONS,
        CREDIT_LINES,
        FINANCINGS,
        WEBHOOKS,
        PAYMENTS,
        NOTICES,
        LOG_KEYS,
    )
}
