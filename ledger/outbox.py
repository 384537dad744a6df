"""The webhook outbox and the endpoints' secrets: operational state, and all its SQL.

When a batch writes its entries (``ledger.batch.Batch.flush``) it also writes, in the
same transaction, :func:`write`:

* the secret of every endpoint an entry created or rotated (random, never in the
  journal; a rotated-out secret kept as ``previous_secret`` while it still signs), and
  the re-enabling of an endpoint its member set again;
* one outbox message per event (``ledger.events``) and subscribed endpoint of each
  member it concerns, with the exact body every attempt will send.

So an event is in the outbox if and only if its entry is in the journal: a crash loses
neither, and the relay (``ledger.jobs.relay``) sends what is pending after a restart.
None of these tables is replayed or compared by ``dcc verify``: they are not the
ledger's state, and no entry's hash covers them.

The rest of this module is the relay's and the routes' SQL over the same tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, tuple_, update

from ledger import models
from ledger.canonical import parse_json
from ledger.errors import Refusal
from ledger.events import Event
from ledger.settings import Settings
from ledger.webhooks import DeliveryState, EndpointState, Next, new_secret

_o, _a, _s, _e = (
    models.webhook_outbox,
    models.webhook_attempts,
    models.webhook_secrets,
    models.webhook_endpoints,
)
PENDING, DELIVERED, FAILED = DeliveryState.PENDING, DeliveryState.DELIVERED, DeliveryState.FAILED
ERROR_LENGTH_MAX = 200


@dataclass(frozen=True)
class Message:
    """An event of one entry, with the body every endpoint it goes to is sent."""

    event: Event
    seq: int
    body: str


def message_id(seq: int, event: Event, endpoint_id: str) -> str:
    """The ``webhook-id`` of an event sent to one endpoint: the same on every attempt."""
    key = f"{seq}:{event.type.value}:{event.subject}:{endpoint_id}"
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


# -- written with a batch ----------------------------------------------------------------


def write(
    conn: Connection,
    webhook_rows: Sequence[dict[str, Any]],
    messages: Sequence[Message],
    settings: Settings,
) -> None:
    """What a batch's entries add to the operational tables (see the module)."""
    moment = now_ms()
    if webhook_rows:
        _sync_secrets(conn, webhook_rows, moment, settings.webhook_secret_overlap_s)
    if messages:
        _enqueue(conn, messages, moment)


def _sync_secrets(
    conn: Connection, rows: Sequence[dict[str, Any]], moment: int, overlap_s: int
) -> None:
    found = {
        row.endpoint_id: row
        for row in conn.execute(select(_s).where(_s.c.endpoint_id.in_([r["id"] for r in rows])))
    }
    for row in rows:
        have = found.get(row["id"])
        if row["state"] == EndpointState.DELETED:
            if have is not None:
                conn.execute(delete(_s).where(_s.c.endpoint_id == row["id"]))
        elif have is None:  # a new endpoint (or one whose secret was lost): a new secret
            conn.execute(insert(_s), [_new_secret_row(row["id"], row["member"], row["secret_seq"])])
        elif have.secret_seq != row["secret_seq"]:  # rotated: the old one signs a while
            conn.execute(
                update(_s)
                .where(_s.c.endpoint_id == row["id"])
                .values(
                    secret=new_secret(),
                    secret_seq=row["secret_seq"],
                    previous_secret=have.secret,
                    previous_until_ms=moment + overlap_s * 1000,
                    disabled_ms=None,
                    disabled_reason=None,
                )
            )
        elif have.disabled_ms is not None:  # set again: enabled again
            conn.execute(
                update(_s)
                .where(_s.c.endpoint_id == row["id"])
                .values(disabled_ms=None, disabled_reason=None)
            )


def _new_secret_row(endpoint_id: str, member: str, secret_seq: int) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "member": member,
        "secret": new_secret(),
        "secret_seq": secret_seq,
        "previous_secret": None,
        "previous_until_ms": None,
        "disabled_ms": None,
        "disabled_reason": None,
    }


def _enqueue(conn: Connection, messages: Sequence[Message], moment: int) -> None:
    """One outbox row per message and subscribed, enabled endpoint of its recipients
    (one query for the endpoints of the whole batch)."""
    recipients = sorted({m for message in messages for m in message.event.recipients})
    subscribed: dict[str, list[tuple[str, frozenset[str]]]] = {}
    query = (
        select(_e.c.id, _e.c.member, _e.c.events)
        .outerjoin(_s, _s.c.endpoint_id == _e.c.id)
        .where(_e.c.member.in_(recipients), _e.c.state == EndpointState.ACTIVE)
        .where(_s.c.disabled_ms.is_(None))
    )
    for row in conn.execute(query):
        subscribed.setdefault(row.member, []).append((row.id, frozenset(parse_json(row.events))))
    rows = [
        {
            "id": message_id(message.seq, message.event, endpoint),
            "endpoint_id": endpoint,
            "member": member,
            "event": message.event.type.value,
            "seq": message.seq,
            "body": message.body,
            "state": PENDING.value,
            "attempts": 0,
            "round_attempts": 0,
            "redeliveries": 0,
            "next_attempt_ms": moment,
            "created_ms": moment,
            "done_ms": None,
            "last_status": None,
            "last_error": None,
        }
        for message in messages
        for member in message.event.recipients
        for endpoint, events in subscribed.get(member, ())
        if message.event.type.value in events
    ]
    if rows:
        conn.execute(insert(_o), rows)


# -- the relay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A pending message due now, with what sending it needs."""

    id: str
    endpoint_id: str
    member: str
    body: str
    attempts: int
    round_attempts: int
    next_attempt_ms: int
    url: str
    endpoint_state: str
    secrets: tuple[str, ...]  # in force now: the current one, and the previous if kept
    disabled: bool


def due(conn: Connection, moment: int, limit: int) -> list[Due]:
    query = (
        select(
            _o.c.id,
            _o.c.endpoint_id,
            _o.c.member,
            _o.c.body,
            _o.c.attempts,
            _o.c.round_attempts,
            _o.c.next_attempt_ms,
            _e.c.url,
            _e.c.state.label("endpoint_state"),
            _s.c.secret,
            _s.c.previous_secret,
            _s.c.previous_until_ms,
            _s.c.disabled_ms,
        )
        .join(_e, _e.c.id == _o.c.endpoint_id)
        .outerjoin(_s, _s.c.endpoint_id == _o.c.endpoint_id)
        .where(_o.c.state == PENDING, _o.c.next_attempt_ms <= moment)
        .order_by(_o.c.next_attempt_ms, _o.c.id)
        .limit(limit)
    )
    found = []
    for row in conn.execute(query):
        kept = row.previous_secret and (row.previous_until_ms or 0) > moment
        in_force = tuple(s for s in (row.secret, row.previous_secret if kept else None) if s)
        found.append(
            Due(
                row.id,
                row.endpoint_id,
                row.member,
                row.body,
                row.attempts,
                row.round_attempts,
                row.next_attempt_ms,
                row.url,
                row.endpoint_state,
                in_force,
                row.disabled_ms is not None,
            )
        )
    return found


def claim(conn: Connection, message: Due, lease_until_ms: int) -> bool:
    """Take ``message`` for one attempt: move its next attempt past the lease, so that
    should this process die while sending, it is due again then (at least once); False
    if another relay took it first."""
    claimed = conn.execute(
        update(_o)
        .where(
            _o.c.id == message.id,
            _o.c.state == PENDING,
            _o.c.next_attempt_ms == message.next_attempt_ms,
        )
        .values(next_attempt_ms=lease_until_ms)
    )
    return claimed.rowcount == 1


def ensure_secret(conn: Connection, endpoint_id: str, member: str, secret_seq: int) -> str:
    """The endpoint's secret, made now if it has none (its operational row was lost)."""
    found = conn.execute(select(_s.c.secret).where(_s.c.endpoint_id == endpoint_id)).first()
    if found is not None:
        return str(found.secret)
    row = _new_secret_row(endpoint_id, member, secret_seq)
    conn.execute(insert(_s), [row])
    return str(row["secret"])


@dataclass(frozen=True)
class Attempt:
    """One attempt as it is recorded."""

    at_ms: int
    status: int | None
    latency_ms: int
    error: str | None
    response: str | None


def record(conn: Connection, message: Due, attempt: Attempt, step: Next) -> None:
    """Record an attempt and its consequence, in one transaction with the claim's end."""
    conn.execute(
        insert(_a),
        [
            {
                "message_id": message.id,
                "attempt": message.attempts + 1,
                "at_ms": attempt.at_ms,
                "status": attempt.status,
                "latency_ms": attempt.latency_ms,
                "error": _short(attempt.error),
                "response": attempt.response,
            }
        ],
    )
    done = step.state != PENDING
    ended_ms = attempt.at_ms + attempt.latency_ms
    conn.execute(
        update(_o)
        .where(_o.c.id == message.id)
        .values(
            state=step.state.value,
            attempts=_o.c.attempts + 1,
            round_attempts=_o.c.round_attempts + 1,
            next_attempt_ms=ended_ms + int((step.delay_s or 0) * 1000),
            done_ms=ended_ms if done else None,
            last_status=attempt.status,
            last_error=_short(attempt.error),
        )
    )
    if step.disable:
        conn.execute(
            update(_s)
            .where(_s.c.endpoint_id == message.endpoint_id)
            .values(disabled_ms=ended_ms, disabled_reason="the endpoint answered 410 Gone")
        )


def _short(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_LENGTH_MAX]


def purge(conn: Connection, before_ms: int, limit: int) -> int:
    """Delete up to ``limit`` delivered or failed messages done before ``before_ms``,
    with their attempts; how many."""
    ids = list(
        conn.execute(
            select(_o.c.id)
            .where(_o.c.state != PENDING, _o.c.done_ms < before_ms)
            .order_by(_o.c.done_ms)
            .limit(limit)
        ).scalars()
    )
    if ids:
        conn.execute(delete(_a).where(_a.c.message_id.in_(ids)))
        conn.execute(delete(_o).where(_o.c.id.in_(ids)))
    return len(ids)


# -- the routes ----------------------------------------------------------------------------


def delivery_wire(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "url": row.url,
        "member": row.member,
        "event": row.event,
        "seq": row.seq,
        "state": row.state,
        "attempts": row.attempts,
        "redeliveries": row.redeliveries,
        "next_attempt_ms": row.next_attempt_ms if row.state == PENDING else None,
        "created_ms": row.created_ms,
        "done_ms": row.done_ms,
        "last_status": row.last_status,
        "last_error": row.last_error,
    }


_DELIVERY = select(_o, _e.c.url).join(_e, _e.c.id == _o.c.endpoint_id)


def deliveries(
    conn: Connection,
    member: str | None,
    state: str | None,
    before: tuple[int, str] | None,
    limit: int,
) -> list[Any]:
    """Messages newest first (by seq, then id), of one member or of all."""
    query = _DELIVERY
    if member is not None:
        query = query.where(_o.c.member == member)
    if state is not None:
        query = query.where(_o.c.state == state)
    if before is not None:
        query = query.where(tuple_(_o.c.seq, _o.c.id) < tuple_(*before))
    return list(conn.execute(query.order_by(_o.c.seq.desc(), _o.c.id.desc()).limit(limit)))


def delivery(conn: Connection, message: str) -> Any:
    return conn.execute(_DELIVERY.where(_o.c.id == message)).first()


def attempts_of(conn: Connection, message: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(_a).where(_a.c.message_id == message).order_by(_a.c.attempt))
    return [
        {
            "attempt": row.attempt,
            "at_ms": row.at_ms,
            "status": row.status,
            "latency_ms": row.latency_ms,
            "error": row.error,
            "response": row.response,
        }
        for row in rows
    ]


def redeliver(conn: Connection, message: str, moment: int, redeliveries_max: int) -> None:
    """Start a new round of attempts of ``message`` now (its webhook-id unchanged)."""
    row = conn.execute(select(_o.c.redeliveries).where(_o.c.id == message)).first()
    assert row is not None, message
    if row.redeliveries >= redeliveries_max:
        raise Refusal(
            "redeliveries-exceeded",
            f"message {message} was sent again {row.redeliveries} times; "
            f"at most {redeliveries_max} are allowed",
        )
    conn.execute(
        update(_o)
        .where(_o.c.id == message)
        .values(
            state=PENDING.value,
            round_attempts=0,
            redeliveries=_o.c.redeliveries + 1,
            next_attempt_ms=moment,
            done_ms=None,
        )
    )


def secrets_of(conn: Connection, endpoint_ids: Iterable[str]) -> dict[str, Any]:
    wanted = sorted(set(endpoint_ids))
    if not wanted:
        return {}
    rows = conn.execute(select(_s).where(_s.c.endpoint_id.in_(wanted)))
    return {row.endpoint_id: row for row in rows}


def pending_count(conn: Connection) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(_o).where(and_(_o.c.state == PENDING))
    return int(conn.execute(query).scalar_one())
