"""System entries: what the service writes itself, unsigned, declared in one place.

A system entry is a consequence of the ledger's own set-up or of the clock, not an act
of a member, so nobody signs it. Each is declared here once, with how the service
builds it (into a sequencer batch) and how ``dcc verify`` checks it from the journal
alone, since no signature vouches for it:

* ``ledger.genesis`` (seq 1 only): admits the operator; its hash is the ledger's id.
* ``certificate.expire``: ends pending pieces whose deadline had passed when it was
  written, giving each one's value back to its sender.
* ``financing.expire``: ends applications for financing their bank left undecided past
  their window, giving each locked piece back to its applicant.

Settlement will add its clock-driven entries here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar

from ledger import certificates, financing, members
from ledger.batch import Batch, Receipt
from ledger.canonical import canonical_bytes, canonical_text, sha256_hex
from ledger.certificates import Certificate, CertificateState
from ledger.chain import EXPIRE_TYPE, FINANCING_EXPIRE_TYPE, GENESIS_TYPE
from ledger.commands import format_timestamp, validate_model
from ledger.context import Context
from ledger.entities import CERTIFICATES, FINANCINGS, INVOICES, LIMITS
from ledger.errors import Refusal
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
    return None


def _check_expiry(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """An expiry may only end pieces that were pending and past their deadline, and only
    as the rule does: its effects are decided again from the state before it."""
    issued_at = command.get("issued_at")
    due: list[Certificate] = []
    for certificate_id in command.get("body", {}).get("ids", []):
        row = replayed["certificates"].get((certificate_id,))
        pending = row is not None and row["state"] == CertificateState.PENDING
        if row is None or not pending or not row["expires_at"] <= issued_at:
            return f"expiry of {certificate_id}, which was not due"
        due.append(CERTIFICATES.from_row(row))
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
    if certificates.expire(due, registered, limits, _context(seq, command)) != effects:
        return "the expiry's effects do not follow from the pieces it names"
    return None


def _check_financing_expiry(
    seq: int, command: dict[str, Any], effects: dict[str, Any], replayed: Replayed
) -> str | None:
    """A financing expiry may only end applications still requested past their window,
    each once, on a business date that is the date of its time somewhere on earth, and
    only as the rule does."""
    ctx = _context(seq, command)
    body = command.get("body", {})
    ids = body.get("ids", [])
    try:
        business_date = date.fromisoformat(str(body.get("business_date")))
    except ValueError:
        return "a financing expiry without a business date"
    if abs((business_date - ctx.now.astimezone(UTC).date()).days) > 1:
        return "a financing expiry's business date is not the date of its time"
    if len(set(ids)) != len(ids):
        return "a financing expiry names an application twice"
    due: list[financing.Financing] = []
    for financing_id in ids:
        row = replayed["financings"].get((financing_id,))
        if row is None or not financing.is_due(FINANCINGS.from_row(row), ctx.now):
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
    written = {"id": operator_id, "name": name, "public_key": public_key}
    decide = partial(members.genesis, validate_model(members.GenesisBody, written, ""))
    salted = {"salt": salt or secrets.token_hex(16)}
    return _append(batch, GENESIS_TYPE, now, settings, written, decide, salted)


def expiry(
    batch: Batch, now: datetime, settings: Settings, ids: Sequence[str], batch_max: int
) -> Receipt | None:
    """Expire pending pieces past their deadline (all due ones, or those of ``ids``, at
    most ``batch_max``, fewer if they would fill the entry); None when none is due."""
    due = batch.due_pending(format_timestamp(now), batch_max, ids)
    if not due:
        return None
    due = _fitting(due, settings.entry_bytes_max // 2)
    registered = batch.invoices(use.key for piece in due for use in piece.invoice_uses)
    limits = batch.issuance_limits(piece.issuer for piece in due if piece.is_root)
    decide = partial(certificates.expire, due, registered, limits)
    return _append(batch, EXPIRE_TYPE, now, settings, {"ids": [p.id for p in due]}, decide)


def financing_expiry(
    batch: Batch, now: datetime, settings: Settings, ids: Sequence[str], batch_max: int
) -> Receipt | None:
    """Expire applications past their window (all due ones, or those of ``ids``, at
    most ``batch_max``, fewer if they would fill the entry); None when none is due."""
    due = batch.due_financings(format_timestamp(now), batch_max, ids)
    if not due:
        return None
    pieces = batch.certificates(f.certificate for f in due)
    due = _fitting(due, settings.entry_bytes_max // 2, lambda f: (f, pieces[f.certificate]))
    today = now.astimezone(settings.business_timezone).date()
    body = {"ids": [f.id for f in due], "business_date": today.isoformat()}
    decide = partial(financing.expire, due, pieces, today)
    return _append(batch, FINANCING_EXPIRE_TYPE, now, settings, body, decide)


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
