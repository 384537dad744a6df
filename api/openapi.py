"""The OpenAPI document (``/openapi.json``), derived from what the server runs.

Nothing here is a second copy of a shape:

* ``POST /v1/commands`` takes a :class:`CommandEnvelope` whose ``command`` is a union
  discriminated on ``type``: one schema per entry of ``ledger.catalog.CATALOG``, built
  from the parser's ``Header`` with ``type`` fixed and ``body`` the entry's body model —
  the very models :func:`ledger.commands.parse_envelope` validates with. A new command
  type is in the document as soon as it is in the catalog.
* Every other route declares its answer in its decorator with :func:`answers`: the
  model of its 2xx answer (from ``api.schemas``) and the problem types its view may
  raise beyond those every route of its kind may. A route without it makes the document
  fail to build (an assertion: our bug), and a test builds it.
* Every operation lists its problem answers by HTTP status, as
  ``application/problem+json`` with the :class:`api.schemas.Problem` schema and the
  ``type`` values it may carry, with titles and statuses from ``ledger.errors.PROBLEMS``;
  the command route's are the catalog's refusals. FastAPI's own 422
  ``HTTPValidationError`` is gone: the server never answers it.
* A signed read (a route depending on ``api.auth.reader``) requires the four
  ``X-DCC-*`` headers, declared as security schemes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from api.schemas import Problem, Receipt
from ledger.catalog import CATALOG, CommandType
from ledger.commands import Envelope, Header
from ledger.errors import PROBLEMS
from ledger.signing import HEADER_KEY_ID, HEADER_MEMBER, HEADER_SIGNATURE, HEADER_TIMESTAMP

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPES = "x-problem-types"  # the extension an operation lists its problem types in
REF = "#/components/schemas/{model}"

# What any route may answer, whatever it does: a busy database, our own bug, another
# method on its path, a malformed HTTP request head (api.server).
EVERY_ROUTE = frozenset({"unavailable", "internal-error", "method-not-allowed", "bad-request"})
# What a request without a body may answer: a body, or a malformed query or path.
BODYLESS = frozenset({"body-not-allowed", "validation"})
# What a request that may carry a body may answer while it streams (api.bodies).
BODIED = frozenset({"payload-too-large", "request-timeout"})
# What a signed read may answer before its view runs (api.auth) and when what it names
# is not there or not the signer's to see.
SIGNED = frozenset(
    {
        "unauthenticated",
        "bad-signature",
        "stale-timestamp",
        "retired-key",
        "member-suspended",
        "forbidden",
        "not-found",
    }
)
# What the command route answers around the catalog's refusals (api.routes.commands,
# api.bodies).
COMMAND_ROUTE = frozenset({"unsupported-media-type"}) | BODIED

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    name: {"type": "apiKey", "in": "header", "name": header, "description": description}
    for name, header, description in (
        ("DccMember", HEADER_MEMBER, "the signer's member id (USCC)"),
        ("DccKeyId", HEADER_KEY_ID, "the id of the signer's key (32 hex)"),
        ("DccTimestamp", HEADER_TIMESTAMP, "unix seconds, within the allowed clock skew"),
        (
            "DccSignature",
            HEADER_SIGNATURE,
            "base64url Ed25519 over LEDGER\\nMETHOD\\nPATH?QUERY\\nTIMESTAMP\\n"
            "hex(SHA-256(body)) (docs/api.md, 'Signed reads')",
        ),
    )
}


def answers(
    model: type[BaseModel],
    *problems: str,
    status: int = 200,
    also: Iterable[str] = (),
    otherwise: Mapping[int, type[BaseModel]] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: its answer is ``model`` (with ``status``,
    as JSON, and in the media types ``also`` as text) and it may raise ``problems`` beyond
    those every route of its kind may (:func:`problem_types`); ``otherwise``: answers
    other than problems it gives with an error status (as JSON, beside the problem).

        @router.get("/v1/obligations/{id}", summary=..., **answers(ObligationView))
    """
    unknown = set(problems) - set(PROBLEMS)
    assert not unknown, f"problem types not in PROBLEMS: {sorted(unknown)}"
    content: dict[str, Any] = {media: {"schema": {"type": "string"}} for media in also}
    responses: dict[int, Any] = {status: {"model": model, "description": "OK", "content": content}}
    for code, other in (otherwise or {}).items():
        responses[code] = {"model": other, "description": other.__doc__ or other.__name__}
    return {
        "response_model": None,
        "responses": responses,
        "openapi_extra": {PROBLEM_TYPES: sorted(problems)},
    }


def is_signed(route: APIRoute) -> bool:
    """Whether the route authenticates its caller (depends on ``api.auth.reader``)."""
    return any(
        getattr(dep.call, "__qualname__", "").startswith("reader.")
        for dep in route.dependant.dependencies
    )


def problem_types(route: APIRoute, declared: Iterable[str]) -> set[str]:
    """Every problem type ``route`` may answer with."""
    types = set(EVERY_ROUTE) | set(declared)
    types |= BODYLESS if (route.methods or set()) & {"GET", "HEAD", "DELETE"} else BODIED
    if is_signed(route):
        types |= SIGNED
    return types


def command_types() -> set[str]:
    """Every problem type ``POST /v1/commands`` may answer with: every catalog entry's."""
    refusals = {r for kind in CATALOG.values() for r in kind.refusals}
    return refusals | COMMAND_ROUTE | EVERY_ROUTE


def command_name(kind: CommandType) -> str:
    """``member.rotate_key`` -> ``MemberRotateKeyCommand``."""
    return "".join(p.capitalize() for p in re.split(r"[._]", kind.type)) + "Command"


def command_model(kind: CommandType) -> type[BaseModel]:
    """The command of one type: the parser's header with ``type`` fixed to it and
    ``body`` its body model."""
    name = command_name(kind)
    fixed: Any = Literal[kind.type]
    model: type[BaseModel] = create_model(
        name, __base__=Header, __doc__=kind.summary, type=(fixed, ...), body=(kind.body, ...)
    )
    return model


def envelope_model() -> type[BaseModel]:
    """The envelope of any command in the catalog, ``command`` discriminated on ``type``."""
    commands = tuple(command_model(CATALOG[t]) for t in sorted(CATALOG))
    command = Annotated[
        Union[commands],  # type: ignore[valid-type]  # noqa: UP007
        Field(discriminator="type", description="the command as signed"),
    ]
    model: type[BaseModel] = create_model(
        "CommandEnvelope",
        __base__=Envelope,
        __doc__="A signed command: Ed25519 (base64url) over the RFC 8785 bytes of command.",
        command=(command, ...),
    )
    return model


def _schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The JSON schemas of ``models`` and of every model they name, by name."""
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


def _problem_responses(types: Iterable[str]) -> dict[str, Any]:
    """One response per HTTP status, each a Problem whose ``type`` is one of ``types``."""
    by_status: dict[int, list[str]] = {}
    for type_ in sorted(types):
        by_status.setdefault(PROBLEMS[type_].status, []).append(type_)
    responses: dict[str, Any] = {}
    for status, listed in sorted(by_status.items()):
        titles = "; ".join(f"`{t}`: {PROBLEMS[t].title}" for t in listed)
        schema = {
            "allOf": [
                {"$ref": REF.format(model="Problem")},
                {"type": "object", "properties": {"type": {"type": "string", "enum": listed}}},
            ]
        }
        responses[str(status)] = {
            "description": titles,
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
    return responses


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every route the document describes, whatever router included it."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.16x nests routers
    found = [c.original_route for c in contexts(app.routes)] if contexts else app.routes
    return [r for r in found if isinstance(r, APIRoute) and r.include_in_schema]


def _route_schemas(app: FastAPI) -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = []
    for route in api_routes(app):
        models += [r["model"] for r in route.responses.values() if "model" in r]
    return models


def build(app: FastAPI) -> dict[str, Any]:
    """The document: FastAPI's paths, then the envelope, answers, problems and security."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    envelope = envelope_model()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(_schemas([envelope, Problem, Receipt, *_route_schemas(app)]))
    for kind in CATALOG.values():  # what each command needs and may be refused with
        command = schemas[command_name(kind)]
        command["x-roles"] = sorted(kind.roles)
        command[PROBLEM_TYPES] = sorted(kind.refusals)
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    signed: list[dict[str, list[str]]] = [{name: [] for name in SECURITY_SCHEMES}]
    for route in api_routes(app):
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            _complete(route, operation, envelope.__name__, signed)
    return document


def _complete(route: APIRoute, operation: dict[str, Any], envelope: str, signed: list[Any]) -> None:
    """Give one operation its problem answers, its security and (for commands) its body."""
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)  # FastAPI's HTTPValidationError: never what we answer
    if route.path_format == "/v1/commands":
        types = command_types()
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=envelope)}}},
        }
    else:
        declared = operation.get(PROBLEM_TYPES)
        ok = [code for code in route.responses if 200 <= int(code) < 300]
        assert declared is not None and ok, (
            f"{route.path_format} declares no answer: add **answers(Model, ...) to its decorator"
        )
        types = problem_types(route, declared)
    operation[PROBLEM_TYPES] = sorted(types)
    for code, answer in _problem_responses(types).items():
        declared_answer = responses.get(code)  # a JSON answer of its own (``otherwise``)
        if declared_answer is None:
            responses[code] = answer
        else:
            declared_answer["content"] = declared_answer.get("content", {}) | answer["content"]
            declared_answer["description"] += f"; or a problem: {answer['description']}"
    if is_signed(route):
        operation["security"] = signed


def install(app: FastAPI) -> None:
    """Serve the derived document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
