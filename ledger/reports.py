"""Settlement reads: the clearing list (清分表) and the reports, declared once.

Each report is a :class:`Report`: its name, the key its rows go under, and its columns,
each with a :class:`Kind` saying how its value reads. A computation returns a
:class:`Page` of rows in one inner shape (integer fen, dates, counts); the JSON answer,
the CSV answer and the ``dcc report`` table are all derived from that one shape, so a
new column is one edit::

    >>> report = Report("demo", "rows", (Column("id", TEXT), Column("amount", FEN)))
    >>> page = Page(report, {}, [{"id": "a", "amount": 1250050}], {}, None)
    >>> page.wire()["rows"]
    [{'id': 'a', 'amount': '12500.50'}]
    >>> print(page.csv(), end="")
    id,amount
    a,12500.50

Who may read what is decided here too (the issuer, the operator; anyone else is told
"not found", as every other read tells it), so the HTTP routes and the CLI share it; the
CLI reads the database directly and acts as the operator.

Queries are SQL aggregates bounded by pages (``REPORT_PAGE_MAX`` rows at most). Late
interest accrued so far is rounded piece by piece (``settlement.accrued_fen``): it is
summed over groups of equal pieces (same root, maturity, rate and outstanding), which
the database streams, never over every piece loaded at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger import settlement
from ledger.canonical import canonical_text
from ledger.certificates import HOLDING, OVERDUE, PENDING, Certificate
from ledger.errors import Refusal
from ledger.limits import REPORT_PAGE_MAX
from ledger.members import Member
from ledger.money import format_fen
from ledger.reads import decode_cursor, encode_cursor
from ledger.repository import Repository
from ledger.settings import Settings
from ledger.uscc import is_valid_uscc

# -- columns and their three renderings ----------------------------------------------


class Kind(StrEnum):
    TEXT = "text"
    FEN = "fen"  # integer fen inside, a decimal string outside
    INT = "int"
    DATE = "date"
    BOOL = "bool"
    OBJECT = "object"  # a JSON object (a payout account); canonical JSON text in CSV
    LIST = "list"  # strings; joined with ";" in CSV


TEXT, FEN, INT, DATE, BOOL, OBJECT, LIST = tuple(Kind)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


def _wire_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is FEN:
        return format_fen(value)
    if kind is DATE:
        return value.isoformat()
    if kind is LIST:
        return list(value)
    return value


def _text_value(kind: Kind, value: Any) -> str:
    """A value as one CSV cell or table cell: amounts as decimal strings, nothing empty."""
    if value is None:
        return ""
    if kind is OBJECT:
        return canonical_text(value)
    if kind is LIST:
        return ";".join(value)
    if kind is BOOL:
        return "true" if value else "false"
    return str(_wire_value(kind, value))


@dataclass(frozen=True)
class Report:
    """One report: what it is called, the key its rows go under, its columns."""

    name: str
    rows_key: str
    columns: tuple[Column, ...]

    def wire_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {c.name: _wire_value(c.kind, row[c.name]) for c in self.columns}

    def text_row(self, row: Mapping[str, Any]) -> list[str]:
        return [_text_value(c.kind, row[c.name]) for c in self.columns]

    def kind_of(self, name: str) -> Kind:
        return next((c.kind for c in self.columns if c.name == name), INT)


@dataclass(frozen=True)
class Page:
    """One page of a report: its parameters (``head``), rows and totals in the inner
    shape, and the cursor of the next page (None on the last)."""

    report: Report
    head: dict[str, Any]  # already wire values (ids, ISO dates)
    rows: list[dict[str, Any]]
    totals: dict[str, int]  # fen or counts, by column name (a count's kind is INT)
    next_cursor: str | None

    def wire_totals(self) -> dict[str, Any]:
        return {k: _wire_value(self.report.kind_of(k), v) for k, v in self.totals.items()}

    def wire(self) -> dict[str, Any]:
        answer = dict(self.head)
        answer[self.report.rows_key] = [self.report.wire_row(row) for row in self.rows]
        if self.totals:
            answer["totals"] = self.wire_totals()
        answer["next_cursor"] = self.next_cursor
        return answer

    def csv(self) -> str:
        """A header row, then one row per row of the page (the stdlib csv dialect)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.name for c in self.report.columns])
        writer.writerows(self.report.text_row(row) for row in self.rows)
        return out.getvalue()

    def table(self) -> str:
        """The rows as an aligned text table, then the totals (``dcc report``)."""
        header = [c.name for c in self.report.columns]
        cells = [header, *(self.report.text_row(row) for row in self.rows)]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                 for line in cells]  # fmt: skip
        if self.totals:
            totals = self.wire_totals()
            lines.append("totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
        return "\n".join(lines) + "\n"


def _columns(spec: str) -> tuple[Column, ...]:
    """``"id:text amount:fen …"`` → columns."""
    return tuple(Column(name, Kind(kind)) for name, kind in (p.split(":") for p in spec.split()))


DUE = Report(
    "due",
    "pieces",
    _columns(
        "id:text root_id:text holder:text payee:text state:text maturity:date "
        "payment_date:date amount:fen paid:fen days_late:int late_interest:fen "
        "payout_account:object"
    ),
)
ROOTS = Report(
    "roots",
    "roots",
    _columns(
        "id:text maturity:date face:fen paid:fen outstanding:fen overdue:fen "
        "late_interest:fen pieces:int level:int holders:int"
    ),
)
OVERDUE_REPORT = Report(
    "overdue",
    "pieces",
    _columns(
        "id:text root_id:text issuer:text holder:text maturity:date payment_date:date "
        "amount:fen days_late:int late_interest:fen"
    ),
)
ISSUER = Report(
    "issuer",
    "period",
    _columns(
        "issuer:text from:date to:date limit:fen outstanding:fen issued_count:int issued:fen "
        "paid:fen late_interest:fen overdue:fen"
    ),
)
SPLITTING = Report(
    "splitting",
    "roots",
    _columns(
        "id:text issuer:text face:fen level:int pieces:int holders:int smallest:fen "
        "flagged:bool reasons:list"
    ),
)
REPORTS = {r.name: r for r in (DUE, ROOTS, OVERDUE_REPORT, ISSUER, SPLITTING)}

# -- who may read ---------------------------------------------------------------------


def _not_found(what: str) -> Refusal:
    return Refusal("not-found", f"no {what}, or not visible to this member")


def check_issuer(repo: Repository, viewer: Member | None, issuer: str, what: str) -> None:
    """The issuer itself, or the operator (``viewer`` None: the CLI, on the database)
    naming an admitted core; anyone else is told "not found", never "forbidden"."""
    if viewer is not None and viewer.id == issuer:
        return
    if viewer is not None and not viewer.has_role("operator"):
        raise _not_found(what)
    found = repo.member(issuer) if is_valid_uscc(issuer) else None
    if found is None or not found.has_role("core"):
        raise _not_found(what)


def page_size(requested: int | None) -> int:
    """A report page holds ``limit`` rows: REPORT_PAGE_MAX unless fewer are asked for."""
    if requested is None:
        return REPORT_PAGE_MAX
    if not 1 <= requested <= REPORT_PAGE_MAX:
        raise Refusal("validation", f"limit must be between 1 and {REPORT_PAGE_MAX}")
    return requested


DATE_FIRST, DATE_LAST = date(1900, 1, 1), date(9998, 12, 31)


def parse_date(text: str | None, name: str) -> date:
    try:
        if text is None or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is None:
            raise ValueError(text)
        day = date.fromisoformat(text)
        if not DATE_FIRST <= day <= DATE_LAST:  # room for a period's arithmetic either side
            raise ValueError(text)
        return day
    except ValueError as exc:
        raise Refusal(
            "validation", f"{name} is a date, YYYY-MM-DD, from {DATE_FIRST} to {DATE_LAST}"
        ) from exc


def _bad_cursor() -> Refusal:
    return Refusal("validation", "cursor is not one this service issued")


_ID = re.compile(r"[0-9a-f]{32}")


def _piece_cursor(cursor: str | None) -> tuple[str, str, str] | None:
    """Pieces by (maturity, holder, id) continue after the cursor's triple."""
    if not cursor:
        return None
    parts = decode_cursor(cursor).split(":")
    if len(parts) != 3 or _ID.fullmatch(parts[2]) is None or not is_valid_uscc(parts[1]):
        raise _bad_cursor()
    parse_date(parts[0], "cursor")
    return parts[0], parts[1], parts[2]


def _next_piece_cursor(pieces: Sequence[Certificate], size: int) -> str | None:
    if len(pieces) <= size:
        return None
    last = pieces[size - 1]
    return encode_cursor(f"{last.maturity.isoformat()}:{last.holder}:{last.id}")


def _root_cursor(cursor: str | None) -> tuple[int, str] | None:
    """Roots by (created_seq, id) continue after the cursor's pair."""
    if not cursor:
        return None
    seq, _, root_id = decode_cursor(cursor).partition(":")
    if re.fullmatch(r"[1-9][0-9]{0,17}", seq) is None or _ID.fullmatch(root_id) is None:
        raise _bad_cursor()
    return int(seq), root_id


def _next_root_cursor(rows: Sequence[Mapping[str, Any]], size: int) -> str | None:
    if len(rows) <= size:
        return None
    last = rows[size - 1]
    return encode_cursor(f"{last['created_seq']}:{last['id']}")


# -- late interest accrued so far ------------------------------------------------------


def accrued_by_root(
    groups: Iterable[tuple[str, str, str | None, int, int]], on: date, settings: Settings
) -> dict[str, int]:
    """Late interest accrued on ``on`` by root, from (root, maturity, rate, outstanding,
    count) groups of equal pieces: each piece as ``settlement.accrued_fen`` would."""
    accrued: dict[str, int] = {}
    grace = settings.overdue_grace_days
    for root_id, maturity, rate, outstanding_fen, count in groups:
        days = settlement.days_late(date.fromisoformat(maturity), on, grace)
        if days == 0:
            continue
        daily = Decimal(rate) if rate is not None else settings.late_rate
        interest_fen = settlement.late_interest_fen(outstanding_fen, daily, days)
        accrued[root_id] = accrued.get(root_id, 0) + count * interest_fen
    return accrued


def _piece_row(piece: Certificate, on: date, settings: Settings) -> dict[str, Any]:
    return {
        "id": piece.id,
        "root_id": piece.root_id,
        "issuer": piece.issuer,
        "holder": piece.holder,
        "sender": piece.sender,
        "state": str(piece.state),
        "maturity": piece.maturity,
        "payment_date": settlement.payment_date(piece.maturity),
        "amount": piece.outstanding_fen,
        "paid": piece.paid_fen,
        "days_late": settlement.days_late(piece.maturity, on, settings.overdue_grace_days),
        "late_interest": settlement.accrued_fen(piece, on, settings),
    }


def _pieces_page(
    repo: Repository,
    issuer: str | None,
    states: frozenset[str],
    maturity_max: date | None,
    on: date,
    cursor: str | None,
    limit: int | None,
    settings: Settings,
) -> tuple[list[dict[str, Any]], dict[str, int], str | None]:
    size = page_size(limit)
    max_text = maturity_max.isoformat() if maturity_max is not None else None
    pieces = repo.report_pieces(issuer, states, max_text, _piece_cursor(cursor), size + 1)
    count, amount_fen = repo.report_piece_totals(issuer, states, max_text)
    # Only pieces maturing before ``on`` can be late on it (and ``maturity_max`` is
    # never after ``on``).
    assert maturity_max is None or maturity_max <= on, (maturity_max, on)
    groups = repo.accrual_groups(issuer, states, on.isoformat())
    interest_fen = sum(accrued_by_root(groups, on, settings).values())
    rows = [_piece_row(piece, on, settings) for piece in pieces[:size]]
    totals = {"count": count, "amount": amount_fen, "late_interest": interest_fen}
    return rows, totals, _next_piece_cursor(pieces, size)


# -- the clearing list -----------------------------------------------------------------


def due(
    repo: Repository,
    viewer: Member | None,
    issuer: str,
    on_text: str | None,
    cursor: str | None,
    limit: int | None,
    settings: Settings,
) -> Page:
    """The clearing list (清分表): every piece of ``issuer`` holding value that matures
    on or before ``on``, with what it has outstanding and its late interest so far, and
    the holder's payout account (the issuer owes the holder: it may see where to pay)."""
    check_issuer(repo, viewer, issuer, "clearing list")
    on = parse_date(on_text, "on")
    rows, totals, next_cursor = _pieces_page(repo, issuer, HOLDING, on, on, cursor, limit, settings)
    # Who is paid: the holder; for a piece still pending, its sender, to whom it goes
    # back at maturity (its recipient never accepted it: the issuer owes it nothing).
    for row in rows:
        row["payee"] = row["sender"] if row["state"] == PENDING else row["holder"]
    payees = repo.members(row["payee"] for row in rows)
    for row in rows:
        row["payout_account"] = payees[row["payee"]].payout_account
    head = {"issuer": issuer, "on": on.isoformat()}
    return Page(DUE, head, rows, totals, next_cursor)


# -- reports ---------------------------------------------------------------------------


def roots(
    repo: Repository,
    viewer: Member | None,
    issuer: str,
    today: date,
    cursor: str | None,
    limit: int | None,
    settings: Settings,
) -> Page:
    """Per root of ``issuer``, by issue: face, paid, outstanding, overdue, late interest
    (recorded by its payments, and accrued so far on what is unpaid past its payment
    date), live pieces, deepest level, holders of live pieces; totals over them all."""
    check_issuer(repo, viewer, issuer, "report")
    size = page_size(limit)
    found = repo.root_rows(issuer, _root_cursor(cursor), size + 1)
    ids = [row["id"] for row in found[:size]]
    recorded = repo.payment_sums(issuer, ids)
    accrued = accrued_by_root(
        repo.accrual_groups(issuer, HOLDING, today.isoformat(), ids), today, settings
    )
    rows = [
        {
            "id": row["id"],
            "maturity": date.fromisoformat(row["maturity"]),
            "face": int(row["face_fen"]),
            "paid": int(row["paid_fen"]),
            "outstanding": int(row["outstanding_fen"]),
            "overdue": int(row["overdue_fen"]),
            "late_interest": recorded.get(row["id"], (0, 0))[1] + accrued.get(row["id"], 0),
            "pieces": int(row["pieces"]),
            "level": int(row["level"]),
            "holders": int(row["holders"]),
        }
        for row in found[:size]
    ]
    sums = repo.issuer_sums(issuer)
    all_accrued = accrued_by_root(
        repo.accrual_groups(issuer, HOLDING, today.isoformat()), today, settings
    )
    totals = {
        "roots": int(sums["roots"] or 0),
        "face": int(sums["face_fen"] or 0),
        "paid": int(sums["paid_fen"] or 0),
        "outstanding": int(sums["outstanding_fen"] or 0),
        "overdue": int(sums["overdue_fen"] or 0),
        "late_interest": sum(i for _, i in repo.payment_sums(issuer).values())
        + sum(all_accrued.values()),
        "pieces": int(sums["pieces"] or 0),
        "level": int(sums["level"] or 0),
        "holders": int(sums["holders"] or 0),
    }
    head = {"issuer": issuer, "on": today.isoformat()}
    return Page(ROOTS, head, rows, totals, _next_root_cursor(found, size))


def overdue(
    repo: Repository,
    viewer: Member | None,
    issuer: str | None,
    today: date,
    cursor: str | None,
    limit: int | None,
    settings: Settings,
) -> Page:
    """Overdue pieces (by maturity, holder, id) with the holder, what is outstanding,
    the days late and the late interest so far: the operator's, of every issuer or of
    ``issuer``; a core's, of its own paper only."""
    if viewer is not None and not viewer.has_role("operator"):
        if not viewer.has_role("core") or issuer not in (None, viewer.id):
            raise _not_found("report")
        issuer = viewer.id
    elif issuer is not None:
        check_issuer(repo, viewer, issuer, "report")
    rows, totals, next_cursor = _pieces_page(
        repo, issuer, frozenset({OVERDUE}), None, today, cursor, limit, settings
    )
    head = {"issuer": issuer, "on": today.isoformat()}
    return Page(OVERDUE_REPORT, head, rows, totals, next_cursor)


def issuer_report(
    repo: Repository,
    viewer: Member | None,
    issuer: str,
    from_text: str | None,
    to_text: str | None,
    today: date,
    settings: Settings,
) -> Page:
    """An issuer's limit and outstanding now, and for a period (by default the current
    month): the roots it issued (by the business date of the entry that issued them),
    what it paid and the late interest recorded (by ``paid_on``), and what is overdue
    now of the pieces whose payment date falls in the period."""
    check_issuer(repo, viewer, issuer, "report")
    first = parse_date(from_text, "from") if from_text else today.replace(day=1)
    if to_text:
        last = parse_date(to_text, "to")
    else:
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if last < first:
        raise Refusal("validation", "to is on or after from")
    limit = repo.issuance_limits([issuer]).get(issuer)
    zone = settings.business_timezone

    def instant(day: date) -> str:
        moment = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    count, issued_fen = repo.issued_face(issuer, instant(first), instant(last + timedelta(days=1)))
    paid = repo.payment_sums(issuer, first=first.isoformat(), last=last.isoformat()).values()
    # A payment date is the maturity or up to a few days after it: look a fortnight back.
    overdue_fen = sum(
        outstanding
        for maturity, outstanding in repo.overdue_by_maturity(
            issuer, (first - timedelta(days=14)).isoformat(), last.isoformat()
        )
        if first <= settlement.payment_date(date.fromisoformat(maturity)) <= last
    )
    row = {
        "issuer": issuer,
        "from": first,
        "to": last,
        "limit": limit.limit_fen if limit is not None else 0,
        "outstanding": limit.outstanding_fen if limit is not None else 0,
        "issued_count": count,
        "issued": issued_fen,
        "paid": sum(amount for amount, _ in paid),
        "late_interest": sum(interest for _, interest in paid),
        "overdue": overdue_fen,
    }
    return Page(ISSUER, {"issuer": issuer}, [row], {}, None)


def splitting(
    repo: Repository,
    viewer: Member | None,
    flagged_only: bool,
    cursor: str | None,
    limit: int | None,
    settings: Settings,
) -> Page:
    """Per root with value still held (by issue): deepest level, live pieces, holders,
    smallest live piece, and whether it is split beyond the settings' thresholds and
    why (``level``, ``pieces``, ``smallest``). The operator's."""
    if viewer is not None and not viewer.has_role("operator"):
        raise _not_found("report")
    size = page_size(limit)
    thresholds = (
        settings.splitting_level_flag,
        settings.splitting_pieces_flag,
        settings.splitting_piece_fen_flag,
    )
    found = repo.root_rows(
        None, _root_cursor(cursor), size + 1, held_only=True,
        flags=thresholds if flagged_only else None,
    )  # fmt: skip
    rows = []
    for row in found[:size]:
        reasons = [
            reason
            for reason, beyond in (
                ("level", int(row["level"]) > thresholds[0]),
                ("pieces", int(row["pieces"]) > thresholds[1]),
                ("smallest", int(row["smallest_fen"]) < thresholds[2]),
            )
            if beyond
        ]
        rows.append(
            {
                "id": row["id"],
                "issuer": row["issuer"],
                "face": int(row["face_fen"]),
                "level": int(row["level"]),
                "pieces": int(row["pieces"]),
                "holders": int(row["holders"]),
                "smallest": int(row["smallest_fen"]),
                "flagged": bool(reasons),
                "reasons": reasons,
            }
        )
    head = {"flagged_only": flagged_only}
    return Page(SPLITTING, head, rows, {}, _next_root_cursor(found, size))
