"""No request, however malformed, produces a 500 — and none writes anything."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import World, new_actor

FIXED: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b"\xff\xfe",
    b'{"command": 1, "signature": "x"}',
    b'{"command": {}, "signature": ""}',
    b'{"command": {"type": "member.admit"}}',
    b'{"command": {"type": "member.admit", "signer": "x", "key_id": "y", "nonce": "z",'
    b' "issued_at": "now", "body": []}, "signature": "s"}',
    b'{"a":' * 5000,
    b'"' + b"x" * 10 + b'"',
    b'{"command": {"body": {"a": 1e309}}}',
]


# Values at the edges of what parsers take: times before datetime.min once converted to
# UTC or after datetime.max, numbers beyond 64 bits, NUL.
EDGE_VALUES: list[Any] = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-23:59",
    "2026-02-30T00:00:00Z",
    2**64,
    -(2**63) - 1,
    "\x00",
    "a\x00b",
    "",
]


def mutate(envelope: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(envelope))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(
        [
            ["signature"],
            ["command", "type"],
            ["command", "signer"],
            ["command", "key_id"],
            ["command", "nonce"],
            ["command", "issued_at"],
            ["command", "body"],
            ["command", "body", "id"],
            ["command", "body", "roles"],
            ["command", "body", "public_key"],
            ["command", "body", "name"],
            ["command", "extra"],
        ]
    ),
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=70)
    | st.lists(st.text(max_size=5), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
    | st.sampled_from(EDGE_VALUES),
)
def test_mutated_envelopes_are_refused_cleanly(world: World, path: list[str], value: Any) -> None:
    """Start from a command that would be applied; any change to it is refused, cleanly."""
    client = world.client(world.operator)
    newcomer = new_actor()
    envelope = client.envelope(
        "member.admit",
        {
            "id": newcomer.id,
            "name": "x",
            "roles": ["bank"],
            "public_key": newcomer.public_key,
        },
    )
    mutated = mutate(envelope, path, value)
    assume(mutated != envelope)
    before = world.ledger.head()
    response = client.post_envelope(mutated)
    assert response.status_code < 500, response.text
    assert response.status_code >= 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert world.ledger.head() == before


def test_fixed_garbage_is_refused_cleanly(world: World) -> None:
    for body in FIXED:
        response = world.http.post(
            "/v1/commands", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (body[:40], response.text)
        assert response.json()["type"] in {"validation", "payload-too-large"}


def test_oversized_body_is_413(world: World) -> None:
    response = world.http.post(
        "/v1/commands", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "payload-too-large"


def test_times_outside_the_calendar_after_conversion_are_validation_errors(world: World) -> None:
    client = world.client(world.operator)
    envelope = client.envelope("member.suspend", {"id": world.operator.id})
    for issued_at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"):
        response = client.post_envelope(mutate(envelope, ["command", "issued_at"], issued_at))
        assert response.status_code == 422, response.text
        assert response.json()["type"] == "validation"
        assert response.json()["errors"][0]["field"] == "command.issued_at"
