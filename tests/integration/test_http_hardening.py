"""What a client without a key can do to the app: bodies, media types, redirects, pools.

In-process (the real app over TestClient, a real database); the same limits against a
real `dcc serve` on real sockets are in tests/e2e/test_http_limits.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import errors
from api.app import create_app
from api.auth import reader
from api.capacity import Capacity
from ledger.db import make_engine, pool_options
from ledger.members import Member
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Chain, Clock, World, new_actor
from tests.helpers import assert_problem


def admit_envelope(world: World, name: str = "Fuzhou Steel") -> dict[str, Any]:
    newcomer = new_actor()
    body = {
        "id": newcomer.id,
        "name": name,
        "roles": ["supplier"],
        "public_key": newcomer.public_key,
    }
    return world.client(world.operator).envelope("member.admit", body)


def test_a_get_with_a_body_is_refused_before_anything_else(world: World) -> None:
    target = f"/v1/members/{world.operator.id}"
    signed = world.client(world.operator).get(target)
    assert signed.status_code == 200, signed.text
    for method in ("GET", "DELETE", "OPTIONS"):
        response = world.http.request(method, target, content=b"{}")
        problem = assert_problem(response, 400, "body-not-allowed")
        assert method in problem["detail"]
        assert response.headers["connection"] == "close"
    chunked = world.http.request("GET", "/healthz", content=iter([b"x"]))
    assert_problem(chunked, 400, "body-not-allowed")


def test_a_declared_oversized_body_is_refused_on_every_route(world: World) -> None:
    size = world.ledger.settings.request_body_bytes_max + 1
    for path in ("/v1/commands", "/v1/no-such-route", "/healthz"):
        response = world.http.post(
            path, content=b"x" * size, headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload-too-large")


def test_a_command_is_application_json_in_utf8(world: World) -> None:
    refused = [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        'application/json; charset="utf-16"',
    ]
    before = world.ledger.head()
    for content_type in refused:
        envelope = admit_envelope(world)
        headers = {"content-type": content_type} if content_type else {}
        response = world.http.post(
            "/v1/commands", content=json.dumps(envelope).encode(), headers=headers
        )
        assert_problem(response, 415, "unsupported-media-type")
    # Labelled JSON but not UTF-8 (json.loads would guess UTF-16 or skip a BOM).
    for encoded in (
        json.dumps(admit_envelope(world)).encode("utf-16"),
        b"\xef\xbb\xbf" + json.dumps(admit_envelope(world)).encode(),
    ):
        response = world.http.post(
            "/v1/commands", content=encoded, headers={"content-type": "application/json"}
        )
        assert_problem(response, 422, "validation")
    assert world.ledger.head() == before
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        'Application/JSON;Charset="UTF-8"',
    ):
        envelope = admit_envelope(world)
        response = world.http.post(
            "/v1/commands",
            content=json.dumps(envelope).encode(),
            headers={"content-type": content_type},
        )
        assert response.status_code == 201, (content_type, response.text)


@pytest.mark.parametrize("path", ["/healthz/", "/v1/commands/", f"/v1/members/{'0' * 18}/"])
def test_a_trailing_slash_never_redirects_to_the_callers_host(world: World, path: str) -> None:
    for method in ("GET", "POST"):
        response = world.http.request(
            method,
            path,
            headers={"host": "evil.example", "content-type": "application/json"},
            follow_redirects=False,
        )
        assert "evil.example" not in response.headers.get("location", "")
        assert "evil.example" not in response.text
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")


# -- database pools ------------------------------------------------------------------


@pytest.fixture
def small_pools(database_url: str, clock: Clock) -> Iterator[Ledger]:
    """A ledger whose write and read pools hold one connection each and wait 0.2 s."""
    pool = pool_options(1, 0.2)
    ledger = Ledger(
        make_engine(database_url, **pool),
        clock=clock,
        read_engine=make_engine(database_url, **pool),
    )
    yield ledger
    ledger.close()
    ledger.engine.dispose()
    ledger.read_engine.dispose()


def hold_one(engine: Engine) -> Any:
    connection = engine.connect()
    connection.exec_driver_sql("SELECT 1")
    return connection


def test_an_exhausted_pool_is_503_with_retry_after(small_pools: Ledger) -> None:
    operator = new_actor()
    small_pools.genesis(operator.id, "Platform operator", operator.public_key)
    with TestClient(create_app(small_pools), raise_server_exceptions=False) as http:
        world = World(http, small_pools, operator, Clock())
        held_write = hold_one(small_pools.engine)
        try:
            response = http.post("/v1/commands", json=admit_envelope(world))
            assert_problem(response, 503, "unavailable")
            assert response.headers["retry-after"] == "1"
        finally:
            held_write.close()
        held_read = hold_one(small_pools.read_engine)
        try:
            response = world.client(operator).get(f"/v1/members/{operator.id}")
            assert_problem(response, 503, "unavailable")
            assert response.headers["retry-after"] == "1"
        finally:
            held_read.close()
        assert http.post("/v1/commands", json=admit_envelope(world)).status_code == 201


def test_healthz_needs_neither_the_read_nor_the_write_pool(small_pools: Ledger) -> None:
    operator = new_actor()
    small_pools.genesis(operator.id, "Platform operator", operator.public_key)
    with TestClient(create_app(small_pools), raise_server_exceptions=False) as http:
        held = [hold_one(small_pools.engine), hold_one(small_pools.read_engine)]
        try:
            response = http.get("/healthz")
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "ok", "seq": 1, "clock_offset_s": 0}
        finally:
            for connection in held:
                connection.close()


def test_settings_name_every_http_limit() -> None:
    settings = Settings()
    assert settings.request_body_bytes_max == 256 * 1024
    assert settings.db_read_pool_max >= settings.http_read_threads_max
    assert settings.db_write_pool_max >= settings.http_write_threads_max


# -- text that can deceive ------------------------------------------------------------

DECEPTIVE = [
    "Tier 1 \u202eleetS",  # RIGHT-TO-LEFT OVERRIDE: displays reversed
    "Tier\u200d1 Steel",  # ZERO WIDTH JOINER
    "\ufeffTier 1 Steel",  # BYTE ORDER MARK
    "Tier 1\u200bSteel",  # ZERO WIDTH SPACE (Cf)
    "Tier 1\u2066Steel",  # LEFT-TO-RIGHT ISOLATE
    "Tier 1\u2028Steel",  # LINE SEPARATOR (Zl)
    "Tier 1\u2029Steel",  # PARAGRAPH SEPARATOR (Zp)
    "Tier 1\u0085Steel",  # NEXT LINE: a C1 control (Cc)
    "Tier 1\x9bSteel",  # CONTROL SEQUENCE INTRODUCER (Cc)
    "Cafe\u0301 Steel",  # not NFC: "e" + COMBINING ACUTE
    "\u212b Steel",  # ANGSTROM SIGN: NFC is U+00C5
]


@pytest.mark.parametrize("name", DECEPTIVE, ids=lambda n: ascii(n))
def test_a_deceptive_member_name_is_refused_and_writes_nothing(world: World, name: str) -> None:
    before = world.ledger.head()
    response = world.http.post("/v1/commands", json=admit_envelope(world, name))
    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["field"] == "command.body.name"
    assert world.ledger.head() == before


def test_plain_and_cjk_names_and_multiline_memos_still_pass(world: World) -> None:
    for name in ("Tier 1 Steel", "福州钢铁有限公司", "Café Steel", "Ørsted A/S"):
        response = world.http.post("/v1/commands", json=admit_envelope(world, name))
        assert response.status_code == 201, (name, response.text)


def test_a_memo_keeps_its_line_breaks_but_not_the_rest(chain: Chain) -> None:
    accepted = chain.issue("10.00", memo="line one\n\tline two\r\n")
    assert accepted.status_code == 201, accepted.text
    for memo in ("pay \u202e01.00", "a\u2028b", "nel\u0085", "Cafe\u0301"):
        before = chain.ledger.head()
        refused = chain.issue("10.00", memo=memo)
        problem = assert_problem(refused, 422, "validation")
        assert problem["errors"][0]["field"] == "command.body.memo"
        assert chain.ledger.head() == before


# -- signed reads ---------------------------------------------------------------------


def test_a_signed_read_checks_its_headers_before_reading_any_body(ledger: Ledger) -> None:
    """Called as ASGI directly, so that "was the body read?" is seen, not inferred."""
    app = FastAPI()
    app.state.ledger = ledger
    app.state.capacity = Capacity(ledger.settings)
    errors.install(app)

    @app.post("/probe")
    async def probe(_viewer: Member = Depends(reader())) -> dict[str, str]:
        return {}

    reads: list[int] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": False}

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    for headers in ([], [(b"x-dcc-member", b"not-a-member"), (b"x-dcc-key-id", b"0" * 32)]):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/probe",
            "raw_path": b"/probe",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"dcc"), (b"transfer-encoding", b"chunked"), *headers],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
        }
        messages.clear()
        anyio.run(app, scope, receive, send)
        assert messages[0]["status"] == 401, messages
        assert reads == [], "the body was read before the headers were checked"
