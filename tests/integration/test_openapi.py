"""The OpenAPI document describes what the server does, and /docs works offline.

* the document is valid OpenAPI (``openapi-spec-validator``);
* every command type in the catalog is a branch of the envelope's union, discriminated
  on ``type``, with its body model, and every refusal it may answer is listed;
* every route is in the document with a schema for its answer, its problem answers as
  ``application/problem+json``, and its security if it is a signed read;
* every problem type the code can raise over HTTP is listed somewhere;
* ``/docs`` and ``/redoc`` load nothing from outside the service.

A client generated from the document is driven in ``test_openapi_client.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from api import openapi
from api.app import create_app
from ledger.catalog import CATALOG
from ledger.errors import PROBLEMS
from tests.conftest import World
from tests.helpers import declare_unprojectable

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
# Raised only by ``dcc init`` on the command line, never in an HTTP answer.
NOT_HTTP = frozenset({"already-initialised"})


@pytest.fixture
def document(world: World) -> dict[str, Any]:
    answer = world.http.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    name = ref.removeprefix("#/components/schemas/")
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def _listed(operation: dict[str, Any]) -> dict[str, int]:
    """The problem types an operation's answers list, with the status each is under."""
    found: dict[str, int] = {}
    for status, response in operation["responses"].items():
        if int(status) < 400:
            continue
        schema = response["content"][PROBLEM_JSON]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
        for type_ in schema["allOf"][1]["properties"]["type"]["enum"]:
            found[type_] = int(status)
    return found


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_command_type_is_a_branch_of_the_envelope(document: dict[str, Any]) -> None:
    post = document["paths"]["/v1/commands"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    envelope = _schema(document, body["$ref"])
    assert envelope["required"] == ["command", "signature"]
    union = envelope["properties"]["command"]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(CATALOG)
    assert sorted(branch["$ref"] for branch in union["oneOf"]) == sorted(mapping.values())
    for type_, kind in CATALOG.items():
        command = _schema(document, mapping[type_])
        assert command["properties"]["type"]["const"] == type_
        assert set(command["required"]) >= {"type", "ledger", "signer", "key_id", "nonce"}
        body_schema = _schema(document, command["properties"]["body"]["$ref"])
        # The body's schema is the parser's model's, field for field.
        expected = kind.body.model_json_schema(ref_template=openapi.REF)
        assert body_schema["properties"] == expected["properties"], type_
        assert body_schema.get("required", []) == expected.get("required", []), type_


def test_each_command_lists_its_roles_and_refusals(document: dict[str, Any]) -> None:
    for kind in CATALOG.values():
        command = document["components"]["schemas"][openapi.command_name(kind)]
        assert command["x-roles"] == sorted(kind.roles)
        assert command[openapi.PROBLEM_TYPES] == sorted(kind.refusals)


def test_a_command_type_declared_in_the_catalog_is_in_the_document(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_ = declare_unprojectable(monkeypatch)
    document = create_app(world.ledger).openapi()
    envelope = document["components"]["schemas"]["CommandEnvelope"]
    ref = envelope["properties"]["command"]["discriminator"]["mapping"][type_]
    command = _schema(document, ref)
    assert command["properties"]["type"]["const"] == type_
    assert _schema(document, command["properties"]["body"]["$ref"])["required"] == ["id"]


def test_every_refusal_of_every_command_is_listed_under_its_status(
    document: dict[str, Any],
) -> None:
    listed = _listed(document["paths"]["/v1/commands"]["post"])
    for type_, kind in CATALOG.items():
        for refusal in kind.refusals:
            assert listed.get(refusal) == PROBLEMS[refusal].status, (type_, refusal)
    assert "unsupported-media-type" in listed and "payload-too-large" in listed


def test_an_amount_is_a_decimal_string_in_the_document(document: dict[str, Any]) -> None:
    limit = _schema(document, "#/components/schemas/LimitSetBody")
    assert limit["properties"]["amount"]["type"] == "string"
    line = _schema(document, "#/components/schemas/CreditLineBody")
    assert line["properties"]["annual_rate"]["type"] == "string"


def test_every_route_is_in_the_document_with_its_answer(
    world: World, document: dict[str, Any]
) -> None:
    app: FastAPI = world.http.app  # type: ignore[assignment]
    routes = openapi.api_routes(app)
    assert len(routes) >= 30
    documented = {(path, method) for path, method, _ in _operations(document)}
    for route in routes:
        for method in route.methods or ():
            assert (route.path_format, method.lower()) in documented, route.path_format
    for path, method, operation in _operations(document):
        answers = [r for code, r in operation["responses"].items() if code.startswith("2")]
        assert answers, (path, method)
        for answer in answers:
            schema = answer["content"]["application/json"]["schema"]
            assert "$ref" in schema, (path, method, schema)  # a named model, not "object"
            assert _schema(document, schema["$ref"])["properties"], (path, method)
        assert (
            "422" not in operation["responses"]
            or PROBLEM_JSON in (operation["responses"]["422"]["content"])
        ), (path, method)
        for type_, status in _listed(operation).items():
            assert PROBLEMS[type_].status == status, (path, type_)
        assert sorted(_listed(operation)) == operation[openapi.PROBLEM_TYPES], path
    assert "HTTPValidationError" not in str(document)


def test_every_operation_has_a_unique_readable_id(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "submit" in ids and "get_member" in ids  # a generated client's call names


def test_a_signed_read_requires_the_dcc_headers(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {
        "X-DCC-Member",
        "X-DCC-Key-Id",
        "X-DCC-Timestamp",
        "X-DCC-Signature",
    }
    member = document["paths"]["/v1/members/{member_id}"]["get"]
    assert member["security"] == [{name: [] for name in schemes}]
    assert {"unauthenticated", "bad-signature", "not-found"} <= set(_listed(member))
    assert "security" not in document["paths"]["/v1/ledger"]["get"]
    assert "security" not in document["paths"]["/livez"]["get"]


def test_a_route_without_a_declared_answer_breaks_the_document(world: World) -> None:
    app = create_app(world.ledger)

    @app.get("/v1/undeclared")
    async def undeclared() -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match="/v1/undeclared declares no answer"):
        app.openapi()


def _raised_types() -> dict[str, str]:
    """Every problem type named as the first argument of a call in the service's code
    (``Refusal("…")``, ``problem("…")``, …), with where."""
    found: dict[str, str] = {}
    for package in ("api", "ledger", "netting"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "errors.py" and package == "ledger":
                continue  # the declarations themselves
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and first.value in PROBLEMS:
                        found.setdefault(first.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_problem_type_the_code_raises_is_listed(document: dict[str, Any]) -> None:
    listed: set[str] = set()
    for _, _, operation in _operations(document):
        listed |= set(_listed(operation))
    raised = _raised_types()
    assert len(raised) > 40  # the scan finds the refusals (it is not looking at nothing)
    missing = {t: where for t, where in raised.items() if t not in listed and t not in NOT_HTTP}
    assert not missing, f"raised but in no operation's problem answers: {missing}"
    # Every type a command may answer is listed too, whether or not a literal names it.
    assert {r for kind in CATALOG.values() for r in kind.refusals} <= listed


_ATTRIBUTE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_nothing_from_outside_the_service(world: World, page: str) -> None:
    html = world.http.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    referenced = [a or b for a, b in _ATTRIBUTE.findall(html.text)]
    assert any(r.endswith(".js") for r in referenced), referenced
    assert "/openapi.json" in referenced
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.text, re.I), html.text
    for url in referenced:
        assert url.startswith("/"), url  # on this service
        asset = world.http.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".css"):  # a stylesheet may load more: only inline data
            for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.text):
                assert target.startswith("data:"), target
    if page == "/docs":
        assert '"validatorUrl": null' in html.text  # no badge asks an outside validator


def test_healthz_not_initialised_is_in_the_document_as_the_server_answers_it(ledger: Any) -> None:
    """Up but not initialised, /healthz answers 503 as JSON (not a problem); the
    document says so beside the problem a 503 may also be, and the answer fits it."""
    from fastapi.testclient import TestClient
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    with TestClient(create_app(ledger)) as http:
        document = http.get("/openapi.json").json()
        waiting = http.get("/healthz")
    assert waiting.status_code == 503 and waiting.headers["content-type"] == "application/json"
    content = document["paths"]["/healthz"]["get"]["responses"]["503"]["content"]
    assert set(content) == {"application/json", "application/problem+json"}
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Any = Registry().with_resource("urn:doc", resource)
    ref = content["application/json"]["schema"]["$ref"]
    Draft202012Validator({"$ref": f"urn:doc{ref}"}, registry=registry).validate(waiting.json())
    assert ref.endswith("/NotInitialised")
