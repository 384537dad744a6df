"""System entries: what the service writes itself, unsigned, declared in one place.

A system entry is a consequence of the ledger's own set-up or of the clock, not an act
of a member, so nobody signs it. Each is declared here once, with how the service
builds it (into a sequencer batch) and how ``dcc verify`` checks it from the journal
alone, since no signature vouches for it:

* ``ledger.genesis`` (seq 1 only): admits the operator; its hash is the ledger's id.
  It records the rule settings the ledger starts under (``Settings.recorded``).
* ``ledger.settings``: records the rule settings in force from the next entry on,
  written before the first entry a deployment decides under settings other than the
  last recorded (``ledger.service``). Re-execution decides every entry under the
  settings recorded before it.
* ``certificate.expire``: ends pending pieces whose deadline had passed when it was
  written, or which had matured, giving each one's value back to its sender.
* ``financing.expire``: ends applications for financing their bank left undecided past
  their window or at their piece's maturity, giving each locked piece back to its
  applicant.
* ``certificate.overdue``: marks active pieces unpaid past their payment date and
  grace as overdue.
* ``settlement.notice``: tells an issuer what it will owe on a maturity date, a few
  days before (the ``settlement.due`` event).

Entries the clock decides carry the business date they were decided on
(``business_date``): ``dcc verify`` decides them again on that date, whatever the
deployment's business time zone, and checks that it is the date of the entry's time
somewhere on earth.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from ledger import certificates, financing, members, settlement
from ledger.batch import Batch, Receipt
from ledger.canonical import canonical_bytes, canonical_text, sha256_hex
from ledger.certificates import Certificate, CertificateState
from ledger.chain import (
    EXPIRE_TYPE,
    FINANCING_EXPIRE_TYPE,
    GENESIS_TYPE,
    NOTICE_TYPE,
    OVERDUE_TYPE,
    SETTINGS_TYPE,
)
from ledger.commands import format_timestamp, validate_model
from ledger.context import Context
from ledger.entities import CERTIFICATES, FINANCINGS, INVOICES, LIMITS, NOTICES
from ledger.errors import Refusal
from ledger.limits import SETTLEMENT_NOTICE_PIECES_MAX
from ledger.settings import Settings

T = TypeVar("T")
# The projections replayed so far, by collection and key (``ledger.verify``).
Replayed = Mapping[str, Mapping[Any, Mapping[str, Any]]]
# (seq, command, effects, the projections replayed before it) -> why the service could
# not have written this entry, or None
Check = Callable[[int, dict[str, Any], dict[str, Any], Replayed], str | None]


@dataclass(frozen=True)
class SystemEntry:
    type: str
    summary: str
    check: Check  # re-derives the entry's effects from its command and the state before


def _context(seq: int, command: Mapping[str, Any]) -> Context:
    """The context the service decided the entry in, rebuilt from the entry alone."""
    now = datetime.fromisoformat(str(command["issued_at"]))
    return Context(seq, now, sha256_hex(canonical_bytes(command)), Settings())


def _check_genesis(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    if seq != 1:
        return "a genesis entry after seq 1"
    body = validate_model(members.GenesisBody, command.get("body"), "")
    if members.genesis(body, _context(seq, command)) != effects:
        return "the genesis entry's effects do not follow from its command"
    try:
        recorded_settings(command)
    except ValueError as exc:
        return f"the genesis entry records settings one cannot run with ({exc})"
    return None


def _check_settings(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """A settings entry records rule settings a deployment can run with, and no effect."""
    if seq == 1 or effects:
        return "a settings entry the service could not have written"
    try:
        recorded_settings(command)
    except ValueError as exc:
        return f"a settings entry the service could not have written ({exc})"
    return None


def recorded_settings(command: Mapping[str, Any]) -> dict[str, Any] | None:
    """The rule settings a genesis or settings entry records (None: a genesis entry
    written before they were); ValueError if they are not settings one could run with."""
    values = command.get("body", {}).get("settings")
    if values is None and command.get("type") == GENESIS_TYPE:
        return None
    Settings().with_recorded(values)
    return dict(values)


def _business_date(command: Mapping[str, Any], ctx: Context) -> date | str | None:
    """The business date an entry names (None if it names none); a string saying what
    is wrong with it if it is not a date of the entry's time somewhere on earth."""
    written = command.get("body", {}).get("business_date")
    if written is None:
        return None
    try:
        business_date = date.fromisoformat(str(written))
    except ValueError:
        return "an entry's business date is not a date"
    if abs((business_date - ctx.now.astimezone(UTC).date()).days) > 1:
        return "an entry's business date is not the date of its time"
    return business_date


def _check_expiry(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """An expiry may only end pieces that were pending and past their deadline or
    matured, and only as the rule does: its effects are decided again from the state
    before it. (Entries written before maturity was name no business date.)"""
    ctx = _context(seq, command)
    business_date = _business_date(command, ctx)
    if isinstance(business_date, str):
        return business_date
    due: list[Certificate] = []
    for certificate_id in command.get("body", {}).get("ids", []):
        row = replayed["certificates"].get((certificate_id,))
        piece = CERTIFICATES.from_row(row) if row is not None else None
        if piece is None or not certificates.is_due_to_expire(piece, ctx.now, business_date):
            return f"expiry of {certificate_id}, which was not due"
        due.append(piece)
    keys = {use.key for piece in due for use in piece.invoice_uses}
    registered = {
        key: INVOICES.from_row(row)
        for key in keys
        if (row := replayed["invoices"].get((key.buyer, key.no, key.seller))) is not None
    }
    limits = {
        piece.issuer: LIMITS.from_row(row)
        for piece in due
        if piece.is_root and (row := replayed["limits"].get((piece.issuer,))) is not None
    }
    if certificates.expire(due, registered, limits, business_date, ctx) != effects:
        return "the expiry's effects do not follow from the pieces it names"
    return None


def _check_financing_expiry(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """A financing expiry may only end applications still requested past their window,
    each once, on a business date that is the date of its time somewhere on earth, and
    only as the rule does."""
    ctx = _context(seq, command)
    ids = command.get("body", {}).get("ids", [])
    business_date = _business_date(command, ctx)
    if business_date is None or isinstance(business_date, str):
        return business_date or "a financing expiry without a business date"
    if len(set(ids)) != len(ids):
        return "a financing expiry names an application twice"
    due: list[financing.Financing] = []
    for financing_id in ids:
        row = replayed["financings"].get((financing_id,))
        if row is None or not financing.is_due(FINANCINGS.from_row(row), ctx.now, business_date):
            return f"expiry of financing {financing_id}, which was not due"
        due.append(FINANCINGS.from_row(row))
    pieces = {
        f.certificate: CERTIFICATES.from_row(row)
        for f in due
        if (row := replayed["certificates"].get((f.certificate,))) is not None
    }
    if len(pieces) != len(due):
        return "a financing expiry names an application whose piece is missing"
    if financing.expire(due, pieces, business_date, ctx) != effects:
        return "the financing expiry's effects do not follow from the applications it names"
    return None


def _check_overdue(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """Only active pieces past the payment date the entry records for each (one a
    calendar can give their maturity: the calendar itself may since have changed) and
    the grace it names, each once, and only as the rule marks them."""
    ctx = _context(seq, command)
    body = command.get("body", {})
    ids, grace = body.get("ids", []), body.get("grace_days")
    try:
        paid_on = [date.fromisoformat(str(d)) for d in body.get("payment_dates", [])]
    except ValueError:
        return "an overdue entry's payment dates are not dates"
    if len(paid_on) != len(ids):
        return "an overdue entry names a payment date for each piece"
    business_date = _business_date(command, ctx)
    if business_date is None or isinstance(business_date, str):
        return business_date or "an overdue entry without a business date"
    if (
        not isinstance(grace, int)
        or isinstance(grace, bool)
        or grace < 0
        or len(set(ids)) != len(ids)
    ):
        return "an overdue entry's grace or ids are malformed"
    due = []
    for certificate_id, payment_date in zip(ids, paid_on, strict=True):
        row = replayed["certificates"].get((certificate_id,))
        piece = CERTIFICATES.from_row(row) if row is not None else None
        if piece is None or piece.state != CertificateState.ACTIVE:
            return f"overdue mark of {certificate_id}, which was not active"
        plausible = settlement.is_payment_date_of(payment_date, piece.maturity)
        if not plausible or (business_date - payment_date).days <= grace:
            return f"overdue mark of {certificate_id}, which was not overdue"
        due.append(piece)
    if settlement.mark_overdue(due) != effects:
        return "the overdue entry's effects do not follow from the pieces it names"
    return None


def _check_notice(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """A notice comes before its maturity date and is decided again from the pieces of
    its issuer that held value and matured on that date: their count, what they held,
    and the first of them listed."""
    ctx = _context(seq, command)
    body = command.get("body", {})
    business_date = _business_date(command, ctx)
    if business_date is None or isinstance(business_date, str):
        return business_date or "a notice without a business date"
    notices = effects.get("notices", [])
    if len(notices) != 1 or set(effects) != {"notices"}:
        return "a notice entry writes one notice and nothing else"
    notice = NOTICES.from_row(NOTICES.to_row(notices[0]))
    if (notice.issuer, notice.maturity.isoformat()) != (body.get("issuer"), body.get("maturity")):
        return "a notice's effects are not of the issuer and maturity its command names"
    if notice.maturity < business_date:
        return "a notice of paper that had matured"
    if not settlement.is_payment_date_of(notice.payment_date, notice.maturity):
        return "a notice's payment date is no payment date of its maturity"
    # Decided again from every piece of its issuer and date that held value then (a
    # scan of the replayed pieces: notices are one per issuer and maturity date).
    maturity = notice.maturity.isoformat()
    held = sorted(
        (
            CERTIFICATES.from_row(row)
            for row in replayed["certificates"].values()
            if row["issuer"] == notice.issuer
            and row["maturity"] == maturity
            and row["state"] in certificates.HOLDING
        ),
        key=lambda piece: (piece.holder, piece.id),
    )
    held_fen = sum(piece.outstanding_fen for piece in held)
    first = held[:SETTLEMENT_NOTICE_PIECES_MAX]
    expected = settlement.notice(notice.issuer, notice.maturity, first, len(held), held_fen, ctx)
    # The payment date as the calendar of the day said (a later release may move it).
    expected = replace(expected, payment_date=notice.payment_date)
    if {"notices": [expected.wire()]} != effects:
        return "the notice's effects do not follow from the pieces it lists"
    return None


SYSTEM_ENTRIES: dict[str, SystemEntry] = {
    entry.type: entry
    for entry in (
        SystemEntry(GENESIS_TYPE, "Admit the operator: the ledger's first entry", _check_genesis),
        SystemEntry(
            EXPIRE_TYPE, "Return pending pieces past their deadline to their senders", _check_expiry
        ),
        SystemEntry(
            FINANCING_EXPIRE_TYPE,
            "Return pieces under applications left undecided past their window",
            _check_financing_expiry,
        ),
        SystemEntry(
            OVERDUE_TYPE,
            "Mark pieces unpaid past their payment date and grace as overdue",
            _check_overdue,
        ),
        SystemEntry(
            NOTICE_TYPE,
            "Tell an issuer what it will owe on a maturity date",
            _check_notice,
        ),
        SystemEntry(
            SETTINGS_TYPE,
            "Record the rule settings in force from the next entry on",
            _check_settings,
        ),
    )
}


def genesis(
    batch: Batch,
    operator_id: str,
    name: str,
    public_key: str,
    now: datetime,
    settings: Settings,
    salt: str | None = None,
) -> Receipt:
    """Write seq 1 into an empty ledger's ``batch``. A random ``salt`` keeps two
    deployments initialised alike, at the same microsecond, from sharing an id."""
    if batch.head is not None or batch.repo.entry_count() > 0:
        raise Refusal("already-initialised", "this ledger already has a genesis entry")
    written: dict[str, Any] = {"id": operator_id, "name": name, "public_key": public_key}
    written["settings"] = settings.recorded()
    decide = partial(members.genesis, validate_model(members.GenesisBody, written, ""))
    salted = {"salt": salt or secrets.token_hex(16)}
    return _append(batch, GENESIS_TYPE, now, settings, written, decide, salted)


def record_settings(batch: Batch, now: datetime, settings: Settings) -> Receipt:
    """Record ``settings``' rule settings as those in force from the next entry on."""
    return _append(batch, SETTINGS_TYPE, now, settings, {"settings": settings.recorded()}, _none)


def _none(ctx: Context) -> dict[str, Any]:
    return {}


def expiry(
    batch: Batch, now: datetime, settings: Settings, ids: Sequence[str], batch_max: int
) -> Receipt | None:
    """Expire pending pieces past their deadline (all due ones, or those of ``ids``, at
    most ``batch_max``, fewer if they would fill the entry); None when none is due."""
    today = now.astimezone(settings.business_timezone).date()
    due = batch.due_pending(format_timestamp(now), today.isoformat(), batch_max, ids)
    if not due:
        return None
    due = _fitting(due, settings.entry_bytes_max // 2)
    registered = batch.invoices(use.key for piece in due for use in piece.invoice_uses)
    limits = batch.issuance_limits(piece.issuer for piece in due if piece.is_root)
    decide = partial(certificates.expire, due, registered, limits, today)
    body = {"ids": [p.id for p in due], "business_date": today.isoformat()}
    return _append(batch, EXPIRE_TYPE, now, settings, body, decide)


def financing_expiry(
    batch: Batch, now: datetime, settings: Settings, ids: Sequence[str], batch_max: int
) -> Receipt | None:
    """Expire applications past their window (all due ones, or those of ``ids``, at
    most ``batch_max``, fewer if they would fill the entry); None when none is due."""
    today = now.astimezone(settings.business_timezone).date()
    due = batch.due_financings(format_timestamp(now), today.isoformat(), batch_max, ids)
    if not due:
        return None
    pieces = batch.certificates(f.certificate for f in due)
    due = _fitting(due, settings.entry_bytes_max // 2, lambda f: (f, pieces[f.certificate]))
    body = {"ids": [f.id for f in due], "business_date": today.isoformat()}
    decide = partial(financing.expire, due, pieces, today)
    return _append(batch, FINANCING_EXPIRE_TYPE, now, settings, body, decide)


def overdue(
    batch: Batch, now: datetime, settings: Settings, ids: Sequence[str], batch_max: int
) -> Receipt | None:
    """Mark active pieces unpaid past their payment date and grace as overdue (all, or
    those of ``ids``, at most ``batch_max``); None when none is."""
    today, grace = now.astimezone(settings.business_timezone).date(), settings.overdue_grace_days
    before = settlement.overdue_cutoff(today, grace).isoformat()
    found = batch.maturing_active(before, batch_max, ids)
    due = _fitting(
        [p for p in found if settlement.is_overdue(p, today, grace)],
        settings.entry_bytes_max // 2,
        lambda p: (p,),
    )
    if not due:
        return None
    body = {
        "ids": [p.id for p in due],
        "business_date": today.isoformat(),
        "grace_days": grace,
        "payment_dates": [settlement.payment_date(p.maturity).isoformat() for p in due],
    }
    return _append(batch, OVERDUE_TYPE, now, settings, body, partial(_mark_overdue, due))


def _mark_overdue(due: Sequence[Certificate], ctx: Context) -> dict[str, Any]:
    return settlement.mark_overdue(due)


def notice(batch: Batch, now: datetime, settings: Settings) -> Receipt | None:
    """Tell one issuer what it will owe on a maturity date within the next
    ``settlement_notice_days``, if it has not been told; None when every one has."""
    today = now.astimezone(settings.business_timezone).date()
    last = today + timedelta(days=settings.settlement_notice_days)
    found = batch.maturing_unnoticed(today.isoformat(), last.isoformat(), 1)
    if not found:
        return None
    [(issuer, maturity)] = found
    pieces, count, held_fen = batch.maturing_pieces(issuer, maturity, SETTLEMENT_NOTICE_PIECES_MAX)
    matures = date.fromisoformat(maturity)
    decide = partial(_notice_effects, issuer, matures, pieces, count, held_fen)
    body = {"issuer": issuer, "maturity": maturity, "business_date": today.isoformat()}
    return _append(batch, NOTICE_TYPE, now, settings, body, decide)


def _notice_effects(
    issuer: str,
    maturity: date,
    pieces: Sequence[Certificate],
    count: int,
    held_fen: int,
    ctx: Context,
) -> dict[str, Any]:
    return {"notices": [settlement.notice(issuer, maturity, pieces, count, held_fen, ctx).wire()]}


def _append(
    batch: Batch,
    type_: str,
    now: datetime,
    settings: Settings,
    body: dict[str, Any],
    decide: Callable[[Context], dict[str, Any]],
    extra: Mapping[str, Any] = {},
) -> Receipt:
    """Append a system entry of ``type_`` to ``batch``: its effects are ``decide``'s, in
    the context of the entry (its seq, its time, the hash of its command)."""
    raw = {"type": type_, "issued_at": format_timestamp(now), **extra, "body": body}
    ctx = Context(batch.next_seq, now, sha256_hex(canonical_text(raw).encode()), settings)
    return batch.append(ctx, raw, None, decide(ctx), None)


def _fitting(
    items: list[T], room_bytes: int, rows: Callable[[T], Sequence[Any]] = lambda p: (p, p)
) -> list[T]:
    """The first of ``items`` whose rows fit in ``room_bytes`` of entry (by default a
    piece's two: the ended piece and the one returned); always at least one."""
    used_bytes = 0
    for count, item in enumerate(items):
        used_bytes += sum(len(canonical_bytes(row.wire())) for row in rows(item))
        if used_bytes > room_bytes and count > 0:
            return items[:count]
    return items
