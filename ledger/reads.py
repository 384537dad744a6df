"""Read views, authorised by who is asking.

A supplier sees its own wallet; an issuer sees every piece of its own paper; the
operator sees everything. Anyone else is told "not found" — never "forbidden", which
would leak that the thing exists.
"""

from __future__ import annotations

import base64
import binascii
import re
from calendar import monthrange
from collections.abc import Callable
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from pydantic import ValidationError

from ledger import calendar, credit, financing, outbox
from ledger.certificates import Certificate, RootState, root_state
from ledger.context import Context
from ledger.errors import Refusal
from ledger.financing import REQUESTED, ApplyBody, Financing, FinancingState
from ledger.limits import (
    ANCESTRY_PIECES_MAX,
    PAGE_BYTES_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    ROOT_PAGE_SIZE_MAX,
)
from ledger.members import Key, Member
from ledger.money import format_fen, parse_amount
from ledger.projections import parties_of
from ledger.repository import Repository, line_key
from ledger.settings import Settings
from ledger.uscc import is_valid_uscc
from ledger.webhooks import DeliveryState

_ID = re.compile(r"[0-9a-f]{32}")
_SEQ = re.compile(r"[1-9][0-9]{0,17}")  # a seq: below 10^18, so within a signed 64-bit int


def _not_found(what: str) -> Refusal:
    return Refusal("not-found", f"no {what}, or not visible to this member")


def page_size(requested: int | None, maximum: int = PAGE_SIZE_MAX) -> int:
    if requested is None:
        return min(PAGE_SIZE_DEFAULT, maximum)
    if not 1 <= requested <= maximum:
        raise Refusal("validation", f"limit must be between 1 and {maximum}")
    return requested


def encode_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _bad_cursor() -> Refusal:
    return Refusal("validation", "cursor is not one this service issued")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _bad_cursor() from exc


def _cursor_seq(text: str) -> int:
    if _SEQ.fullmatch(text) is None:
        raise _bad_cursor()
    return int(text)


def _id_or_not_found(text: str, what: str) -> str:
    """Refuse an id that cannot exist before it reaches a query (no existence leak)."""
    if _ID.fullmatch(text) is None:
        raise _not_found(what)
    return text


def can_see(viewer: Member, piece: Certificate) -> bool:
    """Its holder, its issuer, the operator — and its sender, a party to the payment, for
    as long as the piece names one (pending, or rejected or expired back to the sender)."""
    return viewer.has_role("operator") or viewer.id in (piece.holder, piece.issuer, piece.sender)


def certificate(repo: Repository, viewer: Member, certificate_id: str) -> dict[str, Any]:
    piece = repo.certificate(_id_or_not_found(certificate_id, "certificate"))
    if piece is None or not can_see(viewer, piece):
        raise _not_found("certificate")
    return piece.wire()


def tree(
    repo: Repository,
    viewer: Member,
    certificate_id: str,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """One page of the pieces of a root, in order of creation (issuer, operator)."""
    piece = repo.certificate(_id_or_not_found(certificate_id, "certificate"))
    if piece is None or not (viewer.has_role("operator") or viewer.id == piece.issuer):
        raise _not_found("certificate")
    size = page_size(limit)
    root = repo.certificate(piece.root_id)
    assert root is not None, piece
    pieces = repo.tree_page(root.id, _piece_cursor(cursor), size + 1)
    return {
        "root_id": root.id,
        "face_amount": format_fen(root.amount_fen),
        "issuer": root.issuer,
        "maturity": root.maturity.isoformat(),
        "pieces": [p.wire() for p in pieces[:size]],
        "next_cursor": _next_piece_cursor(pieces, size),
    }


def _piece_cursor(
    cursor: str | None, is_id: Callable[[str], object] = _ID.fullmatch
) -> tuple[int, str] | None:
    """A page ordered by (seq, id) — pieces, financings, obligations by ``created_seq``,
    members by ``admitted_seq`` — continues after the cursor's pair."""
    if not cursor:
        return None
    seq_text, _, item_id = decode_cursor(cursor).partition(":")
    if not is_id(item_id):
        raise _bad_cursor()
    return _cursor_seq(seq_text), item_id


def _next_cursor(pairs: list[tuple[int, str]], size: int) -> str | None:
    """The cursor after the ``size``-th of ``size + 1`` fetched (seq, id) pairs, if any."""
    if len(pairs) <= size:
        return None
    seq, item_id = pairs[size - 1]
    return encode_cursor(f"{seq}:{item_id}")


def _next_piece_cursor(pieces: list[Certificate], size: int) -> str | None:
    return _next_cursor([(p.created_seq, p.id) for p in pieces], size)


def _check_own(repo: Repository, viewer: Member, member: str, what: str = "wallet") -> None:
    if viewer.id == member:
        return
    if not viewer.has_role("operator") or not is_valid_uscc(member) or not repo.member(member):
        raise _not_found(what)


def wallet(
    repo: Repository, viewer: Member, member: str, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    _check_own(repo, viewer, member)
    size = page_size(limit)
    pieces = repo.wallet_page(member, _piece_cursor(cursor), size + 1)
    totals = [
        {"issuer": issuer, "maturity": maturity, "state": state, "amount": format_fen(amount)}
        for issuer, maturity, state, amount in repo.wallet_totals(member)
    ]
    return {
        "member": member,
        "totals": totals,
        "certificates": [p.wire() for p in pieces[:size]],
        "next_cursor": _next_piece_cursor(pieces, size),
    }


def history(
    repo: Repository, viewer: Member, member: str, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    _check_own(repo, viewer, member)
    size = page_size(limit)
    before = _cursor_seq(decode_cursor(cursor)) if cursor else None
    items: list[dict[str, Any]] = []
    more, page_bytes = False, 0
    entries = repo.history(member, before, size + 1)
    for stored in entries:
        # A page ends at ``size`` entries, or once it holds PAGE_BYTES_MAX of them: one
        # netting entry may be thousands of times the size of an acceptance.
        if len(items) == size or (items and page_bytes >= PAGE_BYTES_MAX):
            more = True
            break
        page_bytes += len(stored.command_text) + len(stored.effects_text)
        entry = stored.entry
        assert member in parties_of(entry.command, entry.effects), (member, entry.seq)
        # The pieces of the member's own applications, and those assigned it owes.
        financed = {
            f["certificate"]
            for f in entry.effects.get("financings", [])
            if member in (f["applicant"], f["bank"])
            or (member == f["core"] and f["state"] == FinancingState.APPROVED)
        }
        mine = [
            c
            for c in entry.effects.get("certificates", [])
            if member in (c["holder"], c["sender"])
            or (c["issuer"] == member and c["id"] == c["root_id"])
            or c["id"] in financed
        ]
        items.append(
            {
                "seq": entry.seq,
                "entry_hash": entry.entry_hash,
                "recorded_at": entry.recorded_at,
                "type": stored.type,
                "signer": stored.signer,
                "certificates": mine,
                "objects": touched_objects(entry.seq, entry.effects, member, stored.signer, mine),
            }
        )
    entries.close()  # a page may end early: release the query's cursor now
    next_cursor = encode_cursor(str(items[-1]["seq"])) if more and items else None
    return {"member": member, "entries": items, "next_cursor": next_cursor}


Row = dict[str, Any]

# What a history row names, per collection of an entry's effects: the kind of object,
# its id (one a read takes: GET /v1/certificates/{id}, /v1/obligations/{id},
# /v1/financings/{id}, /v1/members/{id}, /v1/limits/{core}…) and whether it concerns
# the member whose history it is. Certificates are the row's own ``certificates``.
_OBJECTS: tuple[tuple[str, str, Callable[[Row], str], Callable[[Row, str], bool]], ...] = (
    ("obligations", "obligation", itemgetter("id"), lambda o, m: m in (o["debtor"], o["creditor"])),
    (
        "financings",
        "financing",
        itemgetter("id"),
        lambda f, m: (
            m in (f["applicant"], f["bank"])
            or (m == f["core"] and f["state"] == FinancingState.APPROVED)
        ),
    ),
    ("payments", "payment", itemgetter("id"), lambda p, m: m in (p["issuer"], p["holder"])),
    ("notices", "settlement-notice", itemgetter("id"), lambda n, m: n["issuer"] == m),
    ("members", "member", itemgetter("id"), lambda x, m: x["id"] == m),
    ("keys", "key", itemgetter("key_id"), lambda k, m: k["member"] == m),
    ("limits", "limit", itemgetter("member"), lambda x, m: x["member"] == m),
    ("credit_lines", "credit-line", lambda x: line_key(x["bank"], x["core"]), lambda x, m: False),
    ("webhooks", "webhook", itemgetter("id"), lambda w, m: w["member"] == m),
    ("log_keys", "log-key", itemgetter("key_id"), lambda k, m: False),
)


def touched_objects(
    seq: int, effects: Row, member: str, signer: str | None, mine: list[Row]
) -> list[dict[str, str]]:
    """``[{kind, id}]``: what an entry in ``member``'s history touched that concerns it
    — a netting run (its id is its entry's seq), the pieces of ``mine``, and the rows of
    :data:`_OBJECTS` it is a party to; every row of an entry it signed itself, but for a
    netting run, which names only the run to its signer (it may clear thousands).

    >>> touched_objects(9, {"netting": {}, "obligations": [
    ...     {"id": "o1", "debtor": "A", "creditor": "B"},
    ...     {"id": "o2", "debtor": "C", "creditor": "D"}]}, "A", "OP", [])
    [{'kind': 'netting-run', 'id': '9'}, {'kind': 'obligation', 'id': 'o1'}]
    """
    found: list[dict[str, str]] = []
    signed = member == signer
    if "netting" in effects:
        found.append({"kind": "netting-run", "id": str(seq)})
        if signed:
            return found
    found += [{"kind": "certificate", "id": piece["id"]} for piece in mine]
    for collection, kind, key, concerns in _OBJECTS:
        for row in effects.get(collection, ()):
            if signed or concerns(row, member):
                found.append({"kind": kind, "id": key(row)})
    return found


def flagged_roots(
    repo: Repository, viewer: Member, flag: str, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    """Live roots carrying ``flag`` (``long-tenor``), for the operator's review."""
    assert viewer.has_role("operator"), viewer
    size = page_size(limit)
    after = _cursor_seq(decode_cursor(cursor)) if cursor else None
    roots = repo.flagged_roots(flag, after, size + 1)
    more = len(roots) > size
    roots = roots[:size]
    outstanding = repo.outstanding_by_root(root.id for root in roots)
    return {
        "flag": flag,
        "roots": [
            {
                "root_id": root.id,
                "issuer": root.issuer,
                "first_holder": root.holder,
                "face_amount": format_fen(root.amount_fen),
                "outstanding": format_fen(outstanding.get(root.id, 0)),
                "maturity": root.maturity.isoformat(),
                "issued_seq": root.created_seq,
                "flags": list(root.flags),
            }
            for root in roots
        ],
        "next_cursor": encode_cursor(str(roots[-1].created_seq)) if more and roots else None,
    }


def obligation(repo: Repository, viewer: Member, obligation_id: str) -> dict[str, Any]:
    found = repo.obligation(_id_or_not_found(obligation_id, "obligation"))
    if found is None or not (
        viewer.has_role("operator") or viewer.id in (found.debtor, found.creditor)
    ):
        raise _not_found("obligation")
    return found.wire()


def netting_preview(
    repo: Repository, viewer: Member, mode: str, settings: Settings
) -> dict[str, Any]:
    """What a netting run would clear now, without applying it (operator only)."""
    from ledger.handlers import netting_state
    from ledger.netting_run import preview

    assert viewer.has_role("operator"), viewer
    if mode not in ("setoff", "novation"):
        raise Refusal("validation", "mode must be setoff or novation")
    return preview(netting_state(repo), mode, settings)


# -- listings ------------------------------------------------------------------------------


def members(
    repo: Repository, viewer: Member, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    """Every member, by admission: the operator's register, not found for anyone else
    (who may read one member by id)."""
    if not viewer.has_role("operator"):
        raise _not_found("member register")
    size = page_size(limit)
    found = repo.member_page(_piece_cursor(cursor, is_valid_uscc), size + 1)
    return {
        "members": [member.wire() for member in found[:size]],
        "next_cursor": _next_cursor([(m.admitted_seq, m.id) for m in found], size),
    }


def _listed_member(repo: Repository, viewer: Member, member: str | None, what: str) -> str | None:
    """Whose list is read: ``member`` if the viewer may see it (itself; the operator,
    anyone admitted), by default the viewer's own, or everyone's (None) for the operator."""
    if member is None:
        return None if viewer.has_role("operator") else viewer.id
    _check_own(repo, viewer, member, what)
    return member


def obligations(
    repo: Repository,
    viewer: Member,
    member: str | None,
    role: str | None,
    state: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A member's obligations as debtor, creditor or either, oldest first (the member
    itself, the operator; the operator without ``member``: everyone's)."""
    listed = _listed_member(repo, viewer, member, "obligations")
    if role is not None and listed is None:
        raise Refusal(
            "validation",
            "role needs member",
            errors=[{"field": "query.role", "message": "role is given only with member"}],
        )
    size = page_size(limit)
    found = repo.obligation_page(listed, role, state, _piece_cursor(cursor), size + 1)
    return {
        "member": listed,
        "obligations": [
            obligation.wire() | {"updated_seq": seq} for obligation, seq in found[:size]
        ],
        "next_cursor": _next_cursor([(o.created_seq, o.id) for o, _ in found], size),
    }


def certificates(
    repo: Repository,
    viewer: Member,
    issuer: str | None,
    state: RootState | None,
    maturity_from: date | None,
    maturity_to: date | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """An issuer's certificates (roots), by issue: face, outstanding, paid, overdue,
    maturity and :class:`RootState` (the issuer itself, the operator; the operator
    without ``issuer``: every issuer's)."""
    listed = _listed_member(repo, viewer, issuer, "certificates")
    if maturity_from is not None and maturity_to is not None and maturity_from > maturity_to:
        raise Refusal(
            "validation",
            "maturity_from is after maturity_to",
            errors=[{"field": "query.maturity_to", "message": "is before maturity_from"}],
        )
    size = page_size(limit, ROOT_PAGE_SIZE_MAX)
    first, last = (d.isoformat() if d else None for d in (maturity_from, maturity_to))
    roots = repo.root_page(listed, state, first, last, _piece_cursor(cursor), size + 1)
    sums = repo.root_sums(root.id for root in roots[:size])
    return {
        "issuer": listed,
        "certificates": [_root_row(root, sums[root.id]) for root in roots[:size]],
        "next_cursor": _next_piece_cursor(roots, size),
    }


def _root_row(root: Certificate, sums: dict[str, int]) -> dict[str, Any]:
    outstanding, overdue, paid = sums["outstanding_fen"], sums["overdue_fen"], sums["paid_fen"]
    return {
        "id": root.id,
        "issuer": root.issuer,
        "first_holder": root.holder,
        "face": format_fen(root.amount_fen),
        "outstanding": format_fen(outstanding),
        "paid": format_fen(paid),
        "overdue": format_fen(overdue),
        "maturity": root.maturity.isoformat(),
        "state": root_state(outstanding, overdue, paid).value,
        "pieces": sums["pieces"],
        "created_seq": root.created_seq,
    }


def issuance_limit(repo: Repository, viewer: Member, core: str) -> dict[str, Any]:
    """A core enterprise's issuance limit: what it may issue in all, what is outstanding,
    what is left (the core itself, the operator)."""
    _check_own(repo, viewer, core, "limit")
    found = repo.member(core) if viewer.id != core else viewer
    if found is None or not found.has_role("core"):
        raise _not_found("limit")
    limit = repo.issuance_limits([core]).get(core) or credit.none_for(core)
    wire = limit.wire()
    wire.pop("member")
    available_fen = max(0, limit.limit_fen - limit.outstanding_fen)
    return {"core": core, **wire, "available": format_fen(available_fen)}


# -- discounting -------------------------------------------------------------------------


def quote(
    repo: Repository,
    viewer: Member,
    certificate_id: str,
    bank: str,
    amount: str | None,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """What ``financing.apply`` would be quoted now (the holder), refused as it would be."""
    from ledger.handlers import apply_state

    try:
        body = ApplyBody.model_validate(
            {"certificate": certificate_id, "bank": bank}
            | ({"amount": amount} if amount is not None else {})
        )
    except ValidationError as exc:
        raise Refusal("validation", "certificate, bank and amount must be well formed") from exc
    ctx = Context(0, now, "", settings)
    try:
        state = apply_state(repo, viewer, body)
        priced = financing.price(state, viewer.id, body, ctx, reserve=False)
    except Refusal as refusal:
        if refusal.type == "certificate-not-found":
            raise _not_found("certificate") from refusal
        raise
    return {
        "certificate": body.certificate,
        "bank": body.bank,
        "applicant": viewer.id,
        **priced.wire(),
        "provisional": calendar.is_provisional(priced.payment_date),
    }


def _visible_financing(repo: Repository, viewer: Member, financing_id: str) -> Financing:
    found = repo.financing(_id_or_not_found(financing_id, "financing"))
    if found is None or not (
        viewer.has_role("operator") or viewer.id in (found.applicant, found.bank)
    ):
        raise _not_found("financing")
    return found


def financing_view(repo: Repository, viewer: Member, financing_id: str) -> dict[str, Any]:
    """One financing (its applicant, its bank, the operator)."""
    return _visible_financing(repo, viewer, financing_id).wire()


def financings(
    repo: Repository,
    viewer: Member,
    member: str,
    state: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A member's financings, as applicant and as bank, oldest first (the member itself,
    the operator)."""
    _check_own(repo, viewer, member, "financings")
    if state is not None and state not in set(FinancingState):
        raise Refusal("validation", f"state must be one of {', '.join(FinancingState)}")
    size = page_size(limit)
    page = repo.financing_page(member, state, _piece_cursor(cursor), size + 1)
    return {
        "member": member,
        "financings": [f.wire() for f in page[:size]],
        "next_cursor": _next_cursor([(f.created_seq, f.id) for f in page], size),
    }


def ancestry(repo: Repository, viewer: Member, financing_id: str) -> dict[str, Any]:
    """Due diligence (穿透): the financed piece and every piece it came from up to its
    root, each with its trade background — not the branches beside them (the bank
    applied to, the operator)."""
    found = _visible_financing(repo, viewer, financing_id)
    bank_may = viewer.id == found.bank and found.state in (REQUESTED, FinancingState.APPROVED)
    # A bank that declined, or let the application lapse, learns nothing of what the
    # piece became since.
    if not (bank_may or viewer.has_role("operator")):
        raise _not_found("financing")
    ordered = lineage(repo, found.certificate)
    return {"financing": found.id, "pieces": [piece.wire() for piece in ordered]}


def lineage(repo: Repository, certificate_id: str) -> list[Certificate]:
    """The piece and every piece it came from up to its root, oldest first: one query
    per generation, at most ``ANCESTRY_PIECES_MAX`` pieces."""
    pieces: dict[str, Certificate] = {}
    wanted = [certificate_id]
    while wanted:
        if len(pieces) + len(wanted) > ANCESTRY_PIECES_MAX:
            raise Refusal(
                "ancestry-too-large",
                f"the piece descends from more than {ANCESTRY_PIECES_MAX} pieces",
            )
        level = repo.certificates(wanted)
        pieces.update(level)
        wanted = sorted({p for piece in level.values() for p in piece.parent_ids} - set(pieces))
    return sorted(pieces.values(), key=lambda p: (p.created_seq, p.id))


def exposure(repo: Repository, viewer: Member, bank: str, today: date) -> dict[str, Any]:
    """A bank's credit lines, per core enterprise: line, rate, expiry, used, pending,
    available (the bank itself, the operator)."""
    _check_own(repo, viewer, bank, "bank")
    lines = repo.lines_of(bank)
    pending = repo.pending_on_lines(line_key(bank, line.core) for line in lines)
    views = []
    for line in lines:
        reserved = pending.get(line_key(bank, line.core), 0)
        expired = today > line.expires_on
        views.append(
            line.wire()
            | {
                "pending": format_fen(reserved),
                "available": format_fen(0 if expired else line.available_fen(reserved)),
                "expired": expired,
            }
        )
    return {"bank": bank, "lines": views}


_MONTH = re.compile(r"(20[0-9]{2})-(0[1-9]|1[0-2])")


def financing_report(repo: Repository, viewer: Member, core: str, month: str) -> dict[str, Any]:
    """What was financed of ``core``'s paper in a month (by decision date), by bank:
    count, face, interest, spread, fees and what was paid out (the core itself, the
    operator)."""
    _check_own(repo, viewer, core, "report")
    matched = _MONTH.fullmatch(month or "")
    if matched is None:
        raise Refusal("validation", "month is YYYY-MM")
    year, number = int(matched[1]), int(matched[2])
    last_day = monthrange(year, number)[1]
    first, last = f"{month}-01", f"{month}-{last_day:02d}"
    sums: dict[str, list[int]] = {}
    for found in repo.approved_financings(core, first, last):
        assert found.terms is not None, found
        row = sums.setdefault(found.bank, [0, 0, 0, 0, 0, 0])
        terms = [_signed_fen(found.terms[k]) for k in _REPORTED]
        for index, value in enumerate([1, found.face_fen, *terms]):
            row[index] += value
    keys = ("count", "face", *_REPORTED)
    return {
        "core": core,
        "month": month,
        "banks": [
            {"bank": bank}
            | {k: (v if k == "count" else format_fen(v)) for k, v in zip(keys, row, strict=True)}
            for bank, row in sorted(sums.items())
        ],
    }


_REPORTED = ("interest", "spread", "fee", "disbursement")


def _signed_fen(amount: str) -> int:
    """A wire amount that may be negative (a spread, when a bank approves below the
    agreed rate) in fen."""
    if amount.startswith("-"):
        return -parse_amount(amount[1:], allow_zero=True)
    return parse_amount(amount, allow_zero=True)


# -- webhooks --------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"msg_[0-9a-f]{32}")


def webhook_endpoints(repo: Repository, viewer: Member, member: str) -> dict[str, Any]:
    """A member's live endpoints and whether the relay disabled any (the member,
    operator); never their secrets."""
    _check_own(repo, viewer, member, "webhooks")
    endpoints = repo.member_webhooks(member)
    kept = outbox.secrets_of(repo.conn, (e.id for e in endpoints))
    listed = []
    for endpoint in endpoints:
        secret = kept.get(endpoint.id)
        disabled = secret.disabled_ms if secret is not None else None
        reason = secret.disabled_reason if secret is not None else None
        listed.append(endpoint.wire() | {"disabled_ms": disabled, "disabled_reason": reason})
    return {"member": member, "endpoints": listed}


def webhook_secrets(repo: Repository, viewer: Member, member: str) -> dict[str, Any]:
    """The signing secret of each of the member's live endpoints: for the member alone
    (not the operator), in a write transaction, since a secret whose operational row
    was lost is made again here."""
    if viewer.id != member:
        raise _not_found("webhooks")
    endpoints = repo.member_webhooks(member)
    listed: list[dict[str, Any]] = []
    for endpoint in endpoints:
        secret = outbox.ensure_secret(repo.conn, endpoint.id, member, endpoint.secret_seq)
        listed.append(
            {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events)}
            | {"secret_seq": endpoint.secret_seq, "secret": secret}
        )
    kept = outbox.secrets_of(repo.conn, (e.id for e in endpoints))
    for item in listed:
        row = kept[item["id"]]
        keeps = row.previous_secret is not None and row.previous_until_ms is not None
        item["previous_secret_until_ms"] = row.previous_until_ms if keeps else None
    return {"member": member, "endpoints": listed}


def _visible_delivery(repo: Repository, viewer: Member, message: str) -> Any:
    row = outbox.delivery(repo.conn, message) if _MESSAGE_ID.fullmatch(message) else None
    if row is None or not (viewer.has_role("operator") or row.member == viewer.id):
        raise _not_found("delivery")
    return row


def webhook_deliveries(
    repo: Repository,
    viewer: Member,
    member: str | None,
    state: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """Outbox messages newest first: a member's own; the operator's, anyone's (or those
    of ``member``)."""
    if not viewer.has_role("operator"):
        if member not in (None, viewer.id):
            raise _not_found("deliveries")
        member = viewer.id
    if state is not None and state not in {s.value for s in DeliveryState}:
        raise Refusal("validation", f"state must be one of {[s.value for s in DeliveryState]}")
    size = page_size(limit)
    before = _delivery_cursor(cursor)
    rows = outbox.deliveries(repo.conn, member, state, before, size + 1)
    last = rows[size - 1] if len(rows) > size else None
    return {
        "deliveries": [outbox.delivery_wire(row) for row in rows[:size]],
        "next_cursor": encode_cursor(f"{last.seq}:{last.id}") if last is not None else None,
    }


def _delivery_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    seq_text, _, message = decode_cursor(cursor).partition(":")
    if _MESSAGE_ID.fullmatch(message) is None:
        raise _bad_cursor()
    return _cursor_seq(seq_text), message


def webhook_delivery(repo: Repository, viewer: Member, message: str) -> dict[str, Any]:
    """One message with every attempt made of it (its member, operator)."""
    row = _visible_delivery(repo, viewer, message)
    return outbox.delivery_wire(row) | {"attempts_made": outbox.attempts_of(repo.conn, row.id)}


def redeliver(
    repo: Repository, viewer: Member, message: str, now_ms: int, settings: Settings
) -> dict[str, Any]:
    """Send a message again, from the start of the schedule (its member, operator)."""
    _visible_delivery(repo, viewer, message)
    outbox.redeliver(repo.conn, message, now_ms, settings.webhook_redeliveries_max)
    return webhook_delivery(repo, viewer, message)


# -- members and their keys -------------------------------------------------------------


def member_record(repo: Repository, viewer: Member, member_id: str) -> dict[str, Any]:
    """A member's public record, for any admitted member, with its active keys (at most
    ``KEYS_PER_MEMBER_MAX``, oldest first). A supplier's rating, where a member is paid
    and what its keys are called are its own and the operator's."""
    member = repo.member(member_id) if is_valid_uscc(member_id) else None
    if member is None:  # an id that cannot be a member's is not looked for
        raise Refusal("not-found", f"no member {member_id}")
    own = viewer.id == member.id or viewer.has_role("operator")
    record = member.wire()
    if not own:
        # An issuer that owes a holder sees its account in the clearing list.
        record.pop("tier", None)
        record.pop("payout_account", None)
    record["keys"] = [key_record(key, named=own) for key in repo.active_keys(member.id)]
    return record


def key_record(key: Key, *, named: bool) -> dict[str, Any]:
    """A key as reads show it: always with its name when ``named`` (the wire shape of a
    journal row leaves out the default name)."""
    record: dict[str, Any] = {"key_id": key.key_id}
    if named:
        record["name"] = key.name
    record |= {"public_key": key.public_key, "added_seq": key.added_seq}
    if key.retired_seq is not None:
        record["retired_seq"] = key.retired_seq
    return record


def entry_key(repo: Repository, viewer: Member, seq: int) -> dict[str, Any]:
    """Which key signed entry ``seq``: whoever may read the entry may read this (the
    route checks), and checks ``public_key`` against the command's ``key_id`` itself. The
    key's name only to its member and the operator, as in the member's record."""
    stored = repo.entry(seq)
    if stored is None:
        raise _not_found("such entry")
    key_id = stored.entry.command.get("key_id")
    key = repo.key(key_id) if stored.entry.signature is not None and key_id else None
    if key is None:
        raise Refusal("not-found", f"entry {seq} is a system entry: no member's key signed it")
    named = viewer.id == key.member or viewer.has_role("operator")
    return {"seq": seq, "signer": key.member, **key_record(key, named=named)}
