"""Webhook endpoints: where a member wants to hear about the events that concern it.

A member registers an endpoint with ``webhook.set {url, events}``; setting the same URL
again changes its events (and re-enables it, should the relay have disabled it);
``webhook.delete {url}`` removes it; ``webhook.rotate_secret {url}`` gives it a new
signing secret. An endpoint is ledger state — who asked to be told what, and where, is
part of the record — so it is an entity (``ledger.entities.WEBHOOKS``) keyed by an id
derived from its member and URL::

    >>> one = endpoint_id("91110000MA0000000H", "https://bank.example/hooks")
    >>> one == endpoint_id("91110000MA0000000H", "https://bank.example/hooks"), len(one)
    (True, 32)

Its *secret* is not ledger state: a journal anyone with the database may read must not
hold it. The endpoint's row carries ``secret_seq``, the entry that made its current
secret; the secret itself is random, made and stored in an operational table in the
entry's own transaction (``ledger.outbox``), and fetched by its member with a signed
read. See docs/api.md for why a rebuild of the projections cannot lose it.

Deliveries follow the Standard Webhooks specification: :func:`signature_header` signs
``{id}.{timestamp}.{body}`` with HMAC-SHA256 under each secret in force (a rotated-out
secret keeps signing for ``webhook_secret_overlap_s``), and :func:`next_attempt` decides,
from an attempt's outcome, whether the message is delivered, failed for good, or tried
again when. These rules are pure: the relay (``ledger.jobs.relay``) does the I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets as random_secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from ledger.commands import WireModel
from ledger.context import Context, Effects
from ledger.errors import Refusal
from ledger.events import EventType
from ledger.limits import WEBHOOK_URL_LENGTH_MAX

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification allows 24 to 64
SCHEMES = ("http", "https")


class EndpointState(StrEnum):
    """An endpoint is ``active`` until its member deletes it (the row stays, ``deleted``:
    projections are never deleted from, and the id comes back if the URL is set again)."""

    ACTIVE = "active"
    DELETED = "deleted"


class DeliveryState(StrEnum):
    """A message in the outbox: ``pending`` until an attempt succeeds (``delivered``) or
    the schedule runs out, the endpoint answers 410 or is disabled (``failed``)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Endpoint:
    id: str
    member: str
    url: str
    events: tuple[str, ...]
    state: EndpointState
    created_seq: int
    secret_seq: int  # the entry that made its current secret (set, or rotate_secret)

    def wire(self) -> dict[str, Any]:
        from ledger.entities import WEBHOOKS  # which imports this module

        return WEBHOOKS.to_wire(self)


def endpoint_id(member: str, url: str) -> str:
    """An endpoint's id: the same member and URL always name the same endpoint."""
    return hashlib.sha256(f"{member}\n{url}".encode()).hexdigest()[:32]


# -- the URL -------------------------------------------------------------------------

_URL_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII, no space


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint, or None.

    >>> url_problem("https://bank.example:8443/dcc/hooks?x=1") is None
    True
    >>> url_problem("ftp://bank.example/")
    'the scheme must be http or https'
    >>> url_problem("https://user:pw@bank.example/")
    'a URL must not carry credentials'
    """
    if not _URL_CHARACTERS.fullmatch(url):
        return "a URL is printable ASCII without spaces (IDNA- and percent-encode the rest)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in SCHEMES:
        return "the scheme must be http or https"
    if not parts.hostname:
        return "a URL needs a host"
    if parts.username is not None or parts.password is not None:
        return "a URL must not carry credentials"
    if parts.fragment:
        return "a URL must not carry a fragment"
    return None


def _valid_url(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url


def host_allowed(host: str, allowed: str) -> bool:
    """Whether ``allowed`` (the ``webhook_allowed_hosts`` setting) lets the relay call
    ``host``: ``*`` is any host; otherwise a comma-separated list of host names (exact),
    ``*.`` suffixes (any subdomain) and IP networks (``10.0.0.0/8``: literal addresses in
    it).

    >>> host_allowed("hooks.bank.example", "*.bank.example,192.0.2.0/24")
    True
    >>> host_allowed("192.0.2.7", "*.bank.example,192.0.2.0/24")
    True
    >>> host_allowed("127.0.0.1", "*.bank.example,192.0.2.0/24")
    False
    """
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for pattern in (p.strip().lower() for p in allowed.split(",")):
        if pattern == "*":
            return True
        if "/" in pattern and address is not None:
            try:
                if address in ipaddress.ip_network(pattern, strict=False):
                    return True
            except ValueError:
                continue
        elif host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def check_url_allowed(url: str, allowed: str) -> None:
    host = urlsplit(url).hostname or ""
    if not host_allowed(host, allowed):
        raise Refusal(
            "validation",
            f"webhook host {host!r} is not among this deployment's allowed hosts",
            errors=[{"field": "command.body.url", "message": "host not allowed"}],
        )


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=WEBHOOK_URL_LENGTH_MAX),
    AfterValidator(_valid_url),
]


# -- the commands ----------------------------------------------------------------------


# An event's name, as a member of the published list (lax: a name is its value).
EventName = Annotated[EventType, Field(strict=False)]


class SetBody(WireModel):
    url: WebhookUrl
    events: Annotated[list[EventName], Field(min_length=1, max_length=len(EventType))]

    @field_validator("events")
    @classmethod
    def _distinct(cls, events: list[EventType]) -> list[EventType]:
        if len(set(events)) != len(events):
            raise ValueError("an event may be named once")
        return events


class UrlBody(WireModel):
    url: WebhookUrl


def set_endpoint(
    existing: Endpoint | None, live: int, signer: str, body: SetBody, ctx: Context
) -> Effects:
    """Register the signer's endpoint at ``body.url`` (or change its events). ``live``:
    the signer's endpoints that are not deleted, this one included if it is."""
    check_url_allowed(body.url, ctx.settings.webhook_allowed_hosts)
    events = tuple(sorted(event.value for event in body.events))
    if existing is not None and existing.state == EndpointState.ACTIVE:
        return {"webhooks": [replace(existing, events=events).wire()]}
    if live >= ctx.settings.webhook_endpoints_max:
        raise Refusal(
            "webhook-endpoints-exceeded",
            f"member {signer} has {live} webhook endpoints; at most "
            f"{ctx.settings.webhook_endpoints_max} are allowed",
        )
    created = Endpoint(
        endpoint_id(signer, body.url),
        signer,
        body.url,
        events,
        EndpointState.ACTIVE,
        existing.created_seq if existing else ctx.seq,
        ctx.seq,  # a new endpoint gets a new secret
    )
    return {"webhooks": [created.wire()]}


def _live(existing: Endpoint | None, url: str) -> Endpoint:
    if existing is None or existing.state != EndpointState.ACTIVE:
        raise Refusal("webhook-not-found", f"the signer has no webhook endpoint at {url}")
    return existing


def delete_endpoint(existing: Endpoint | None, body: UrlBody) -> Effects:
    gone = replace(_live(existing, body.url), state=EndpointState.DELETED)
    return {"webhooks": [gone.wire()]}


def rotate_secret(existing: Endpoint | None, body: UrlBody, ctx: Context) -> Effects:
    """A new secret for the endpoint; the old one keeps signing for a while (the outbox
    does both, ``ledger.outbox``)."""
    rotated = replace(_live(existing, body.url), secret_seq=ctx.seq)
    return {"webhooks": [rotated.wire()]}


# -- signatures -----------------------------------------------------------------------


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp_s: int, body: str) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature of ``{id}.{timestamp}.{body}``."""
    signed = f"{message_id}.{timestamp_s}.{body}".encode()
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], message_id: str, timestamp_s: int, body: str) -> str:
    """The ``webhook-signature`` header: a signature under each secret in force,
    separated by spaces (the specification lets a receiver accept any of them)."""
    return " ".join(sign(secret, message_id, timestamp_s, body) for secret in secrets)


def headers(secrets: list[str], message_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": signature_header(secrets, message_id, timestamp_s, body),
        "content-type": "application/json",
        "user-agent": "dcc-webhooks/1",
    }


# -- retries ---------------------------------------------------------------------------

RETRY_AFTER_STATUSES = frozenset({429, 502, 504})
GONE = 410


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)  # float-ok: seconds, not money
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: an HTTP status (None when no answer came: refused,
    timed out, reset) and the ``Retry-After`` it asked for, in seconds."""

    status: int | None
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300  # 3xx is a failure


@dataclass(frozen=True)
class Next:
    state: DeliveryState
    delay_s: float | None  # when to try again (pending only)
    disable: bool = False  # the endpoint answered 410 Gone


def next_attempt(
    outcome: Outcome,
    tried: int,
    schedule: tuple[int, ...],
    jitter: float,
    retry_after_max_s: float,
) -> Next:
    """After the ``tried``-th attempt of this round (1 for the first), and its outcome.

    ``schedule[n]`` is the wait before attempt ``n + 1``; once ``tried`` reaches its
    length the message has failed. ``jitter`` is a fraction of the wait to add (or, when
    negative, take off; ``webhook_jitter_pct`` bounds the relay's draws), so that
    endpoints that failed together are not retried together. A
    ``Retry-After`` on 429, 502 or 504 is honoured when it asks for longer, up to
    ``retry_after_max_s``.

    >>> next_attempt(Outcome(503), 1, (0, 5, 300), 0.0, 3600)
    Next(state=<DeliveryState.PENDING: 'pending'>, delay_s=5.0, disable=False)
    >>> next_attempt(Outcome(429, 60), 1, (0, 5, 300), 0.0, 3600).delay_s
    60.0
    >>> next_attempt(Outcome(None), 3, (0, 5, 300), 0.0, 3600).state
    <DeliveryState.FAILED: 'failed'>
    """
    if outcome.delivered:
        return Next(DeliveryState.DELIVERED, None)
    if outcome.status == GONE:
        return Next(DeliveryState.FAILED, None, disable=True)
    if tried >= len(schedule):
        return Next(DeliveryState.FAILED, None)
    delay_s = schedule[tried] * (1 + max(-1.0, min(1.0, jitter)))
    if outcome.status in RETRY_AFTER_STATUSES and outcome.retry_after_s is not None:
        delay_s = max(delay_s, min(outcome.retry_after_s, retry_after_max_s))
    return Next(DeliveryState.PENDING, float(delay_s))  # float-ok: seconds
