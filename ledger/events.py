"""Events: what an entry tells the members it concerns, declared in one place.

A member hears about an entry through its webhook endpoints (``ledger.webhooks``). What
it hears is derived from the entry alone — its type, its seq and its effects — plus, for
a row the entry changed, the row as it was before (a ``certificate.accept`` no longer
names the sender it tells). Each :class:`EventRule` says which rows of which collection
make an event, to whom it goes and what its data is; :data:`EVENT_RULES` is the whole
published list::

    >>> piece = {"id": "p1", "state": "pending", "holder": "S1", "sender": "C",
    ...          "created_seq": 7}
    >>> [(e.type.value, e.recipients) for e in derive("certificate.issue", 7,
    ...     {"certificates": [piece]}, lambda collection, id_: None)]
    [('certificate.received', ('S1',))]

The data of an event is the row in the shape the API returns it (``GET
/v1/certificates/{id}`` for a certificate); the relay adds the entry's ``seq`` and
``entry_hash`` (:func:`payload`). Derivation is pure: the batch calls it as it appends
each entry (``ledger.batch``), and the outbox rows it leads to are written in the
entry's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledger.canonical import canonical_text
from ledger.certificates import CertificateState
from ledger.chain import OVERDUE_TYPE
from ledger.financing import FinancingState

Row = Mapping[str, Any]
# (collection, id) -> the row's wire shape before the entry, or None if it was new
Before = Callable[[str, str], Row | None]


class EventType(StrEnum):
    """Every event a member may subscribe to (the published list, docs/api.md)."""

    CERTIFICATE_RECEIVED = "certificate.received"
    CERTIFICATE_ACCEPTED = "certificate.accepted"
    CERTIFICATE_REJECTED = "certificate.rejected"
    CERTIFICATE_EXPIRED = "certificate.expired"
    CERTIFICATE_ASSIGNED = "certificate.assigned"
    FINANCING_REQUESTED = "financing.requested"
    FINANCING_DECIDED = "financing.decided"
    FINANCING_EXPIRED = "financing.expired"
    CERTIFICATE_SETTLED = "certificate.settled"
    CERTIFICATE_OVERDUE = "certificate.overdue"
    SETTLEMENT_DUE = "settlement.due"


@dataclass(frozen=True)
class EntryView:
    """What a rule sees of the entry it derives events from."""

    type: str
    seq: int
    effects: Mapping[str, Any]
    before: Before


@dataclass(frozen=True)
class Event:
    type: EventType
    subject: str  # the id of the row it is about: part of each message's id
    recipients: tuple[str, ...]
    data: Row


def _row(row: Row, entry: EntryView) -> Row | None:
    return row


def _financed_certificate(row: Row, entry: EntryView) -> Row | None:
    """The financed certificate as the same entry wrote it (assigned to the bank)."""
    wanted = row["certificate"]
    return next((c for c in entry.effects.get("certificates", ()) if c["id"] == wanted), None)


@dataclass(frozen=True)
class EventRule:
    """Rows of ``collection`` for which ``when`` holds make an event ``type`` to the
    members ``to`` names (None and repeats dropped), with data ``data`` (no event when
    it is None)."""

    type: EventType
    collection: str
    when: Callable[[Row, EntryView], bool]
    to: Callable[[Row, EntryView], tuple[str | None, ...]]
    data: Callable[[Row, EntryView], Row | None] = _row


def _before_sender(row: Row, entry: EntryView) -> tuple[str | None, ...]:
    before = entry.before("certificates", row["id"])
    return (before["sender"] if before else None,)


def _parties(*fields: str) -> Callable[[Row, EntryView], tuple[str | None, ...]]:
    return lambda row, entry: tuple(row.get(name) for name in fields)


# The states rows are in when they make an event (StrEnums: equal to their wire values).
PENDING, ACTIVE, OVERDUE = (
    CertificateState.PENDING,
    CertificateState.ACTIVE,
    CertificateState.OVERDUE,
)
REJECTED, EXPIRED = CertificateState.REJECTED, CertificateState.EXPIRED
REQUESTED, APPROVED = FinancingState.REQUESTED, FinancingState.APPROVED
DECIDED = frozenset({FinancingState.APPROVED, FinancingState.REJECTED})

EVENT_RULES: tuple[EventRule, ...] = (
    # A pending piece the entry made: its recipient is asked to accept it.
    EventRule(
        EventType.CERTIFICATE_RECEIVED,
        "certificates",
        lambda row, e: row["state"] == PENDING and row["created_seq"] == e.seq,
        _parties("holder"),
    ),
    # The recipient accepted: the sender hears (the accepted row names no sender).
    EventRule(
        EventType.CERTIFICATE_ACCEPTED,
        "certificates",
        lambda row, e: e.type == "certificate.accept" and row["state"] == ACTIVE,
        _before_sender,
    ),
    EventRule(
        EventType.CERTIFICATE_REJECTED,
        "certificates",
        lambda row, e: row["state"] == REJECTED,
        _parties("sender"),
    ),
    EventRule(
        EventType.CERTIFICATE_EXPIRED,
        "certificates",
        lambda row, e: row["state"] == EXPIRED,
        _parties("sender"),
    ),
    EventRule(
        EventType.FINANCING_REQUESTED,
        "financings",
        lambda row, e: e.type == "financing.apply" and row["state"] == REQUESTED,
        _parties("bank"),
    ),
    EventRule(
        EventType.FINANCING_DECIDED,
        "financings",
        lambda row, e: e.type == "financing.decide" and row["state"] in DECIDED,
        _parties("applicant", "bank"),
    ),
    EventRule(
        EventType.CERTIFICATE_ASSIGNED,
        "financings",
        lambda row, e: e.type == "financing.decide" and row["state"] == APPROVED,
        _parties("core"),
        _financed_certificate,
    ),
    EventRule(
        EventType.FINANCING_EXPIRED,
        "financings",
        lambda row, e: row["state"] == FinancingState.EXPIRED,
        _parties("applicant", "bank"),
    ),
    # The issuer paid a piece, in full (settled) or in part (``paid`` grew): its holder.
    EventRule(
        EventType.CERTIFICATE_SETTLED,
        "certificates",
        lambda row, e: e.type == "settlement.pay",
        _parties("holder"),
    ),
    EventRule(
        EventType.CERTIFICATE_OVERDUE,
        "certificates",
        lambda row, e: e.type == OVERDUE_TYPE and row["state"] == OVERDUE,
        _parties("holder", "issuer"),
    ),
    # A few days before a maturity: what the issuer will owe on it.
    EventRule(EventType.SETTLEMENT_DUE, "notices", lambda row, e: True, _parties("issuer")),
)
assert {rule.type for rule in EVENT_RULES} == set(EventType), "an event type has no rule"
_BY_COLLECTION: dict[str, tuple[EventRule, ...]] = {
    collection: tuple(rule for rule in EVENT_RULES if rule.collection == collection)
    for collection in {rule.collection for rule in EVENT_RULES}
}


def derive(entry_type: str, seq: int, effects: Mapping[str, Any], before: Before) -> list[Event]:
    """The events of one entry, in the order of its effects and of :data:`EVENT_RULES`."""
    entry = EntryView(entry_type, seq, effects, before)
    events: list[Event] = []
    for collection, rules in _BY_COLLECTION.items():
        for row in effects.get(collection, ()):
            for rule in rules:
                if not rule.when(row, entry):
                    continue
                data = rule.data(row, entry)
                recipients = tuple(dict.fromkeys(m for m in rule.to(row, entry) if m))
                if data is not None and recipients:
                    events.append(Event(rule.type, str(row["id"]), recipients, data))
    return events


def payload(event: Event, seq: int, entry_hash: str, recorded_at: str) -> str:
    """The body every endpoint is sent for ``event``: ``{type, timestamp, data}`` with
    the entry's ``seq`` and ``entry_hash`` in ``data``, as RFC 8785 text (the same bytes
    on every retry, so a signature can be checked against them)."""
    data = {**event.data, "seq": seq, "entry_hash": entry_hash}
    return canonical_text({"type": event.type.value, "timestamp": recorded_at, "data": data})
