"""Every read's real answer is what the OpenAPI document declares for it.

A small world (a certificate issued and financed in part, an obligation, a webhook
endpoint, a log key) is read through every route, and each answer is validated against
the model the route declares (``api.openapi.answers``) and against the document's JSON
schema for it: a field the model requires that an answer lacks, or a type it gets wrong,
fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api import openapi
from tests.conftest import Chain, business_date
from tests.helpers import ok, publish_log_key


def _scenario(chain: Chain, tmp_path: Path) -> dict[str, tuple[Any, str]]:
    """Each route's template, with a client that may read it and a path to read."""
    publish_log_key(chain, tmp_path)
    line = {
        "core": chain.core.id,
        "amount": "500000.00",
        "annual_rate": "0.0385",
        "expires_on": business_date(chain.clock, 365),
    }
    ok(chain.client(chain.bank).submit("credit_line.set", line))
    root = chain.issued("1000.00")
    applied = ok(
        chain.client(chain.s1).submit(
            "financing.apply", {"certificate": root, "bank": chain.bank.id, "amount": "400.00"}
        )
    )
    (financing,) = applied["effects"]["financings"]
    obligation = {
        "creditor": chain.core.id,
        "amount": "10.00",
        "due_date": business_date(chain.clock, 30),
        "reference": "PO-1",
    }
    registered = ok(chain.client(chain.s1).submit("obligation.register", obligation))
    (owed,) = registered["effects"]["obligations"]
    hook = {"url": "https://erp.example/hooks", "events": ["certificate.received"]}
    ok(chain.client(chain.s1).submit("webhook.set", hook))
    ok(chain.issue("50.00"))  # a message for the webhook
    operator, core, s1, bank = (
        chain.client(a) for a in (chain.operator, chain.core, chain.s1, chain.bank)
    )
    deliveries = ok(s1.get(f"/v1/webhooks/deliveries?member={chain.s1.id}"))["deliveries"]
    message = deliveries[0]["id"]
    size = ok(s1.get("/v1/ledger/checkpoint"))["size"]
    return {
        "/v1/members/{member_id}": (s1, f"/v1/members/{chain.s1.id}"),
        "/v1/certificates/{certificate_id}": (s1, f"/v1/certificates/{root}"),
        "/v1/certificates/{certificate_id}/tree": (core, f"/v1/certificates/{root}/tree"),
        "/v1/certificates/{certificate_id}/evidence": (s1, f"/v1/certificates/{root}/evidence"),
        "/v1/wallets/{member}": (s1, f"/v1/wallets/{chain.s1.id}"),
        "/v1/wallets/{member}/history": (s1, f"/v1/wallets/{chain.s1.id}/history"),
        "/v1/reports/long-tenor": (operator, "/v1/reports/long-tenor"),
        "/v1/netting/preview": (operator, "/v1/netting/preview"),
        "/v1/obligations/{obligation_id}": (s1, f"/v1/obligations/{owed['id']}"),
        "/v1/financing/quote": (
            s1,
            f"/v1/financing/quote?certificate={applied['effects']['certificates'][-1]['id']}"
            f"&bank={chain.bank.id}",
        ),
        "/v1/financings/{financing_id}": (s1, f"/v1/financings/{financing['id']}"),
        "/v1/financings/{financing_id}/ancestry": (
            bank,
            f"/v1/financings/{financing['id']}/ancestry",
        ),
        "/v1/financings": (s1, f"/v1/financings?member={chain.s1.id}"),
        "/v1/banks/{bank}/exposure": (bank, f"/v1/banks/{chain.bank.id}/exposure"),
        "/v1/reports/financing": (
            operator,
            f"/v1/reports/financing?core={chain.core.id}&month={business_date(chain.clock)[:7]}",
        ),
        "/v1/settlements/due": (
            core,
            f"/v1/settlements/due?issuer={chain.core.id}&on={business_date(chain.clock, 90)}",
        ),
        "/v1/reports/roots": (core, f"/v1/reports/roots?issuer={chain.core.id}"),
        "/v1/reports/overdue": (operator, "/v1/reports/overdue"),
        "/v1/reports/issuer/{issuer}": (core, f"/v1/reports/issuer/{chain.core.id}"),
        "/v1/reports/splitting": (operator, "/v1/reports/splitting"),
        "/v1/webhooks/deliveries": (s1, f"/v1/webhooks/deliveries?member={chain.s1.id}"),
        "/v1/webhooks/deliveries/{message}": (s1, f"/v1/webhooks/deliveries/{message}"),
        "/v1/webhooks/{member}": (s1, f"/v1/webhooks/{chain.s1.id}"),
        "/v1/webhooks/{member}/secret": (s1, f"/v1/webhooks/{chain.s1.id}/secret"),
        "/v1/ledger/head": (s1, "/v1/ledger/head"),
        "/v1/ledger/verify": (operator, "/v1/ledger/verify"),
        "/v1/ledger/checkpoint": (s1, "/v1/ledger/checkpoint"),
        "/v1/ledger/checkpoints/{size}": (s1, f"/v1/ledger/checkpoints/{size}"),
        "/v1/ledger/proofs/inclusion": (operator, "/v1/ledger/proofs/inclusion?seq=2&size=3"),
        "/v1/ledger/proofs/consistency": (operator, "/v1/ledger/proofs/consistency?from=1&to=3"),
        "/v1/ledger/entries/{seq}": (operator, "/v1/ledger/entries/2"),
        "/v1/ledger/entries/{seq}/key": (operator, "/v1/ledger/entries/2/key"),
        "/v1/members": (operator, "/v1/members"),
        "/v1/obligations": (s1, "/v1/obligations"),
        "/v1/certificates": (core, "/v1/certificates"),
        "/v1/limits/{core}": (core, f"/v1/limits/{chain.core.id}"),
    }


def _validator(document: dict[str, Any], ref: str) -> Draft202012Validator:
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:dcc-openapi", resource)
    return Draft202012Validator({"$ref": f"urn:dcc-openapi{ref}"}, registry=registry)


def test_every_read_answers_what_the_document_declares(chain: Chain, tmp_path: Path) -> None:
    app: FastAPI = chain.http.app  # type: ignore[assignment]
    routes = {r.path_format: r for r in openapi.api_routes(app) if "GET" in (r.methods or ())}
    document = chain.http.get("/openapi.json").json()
    reads = _scenario(chain, tmp_path)
    public = {"/v1/ledger": "/v1/ledger", "/livez": "/livez", "/healthz": "/healthz"}
    # Every signed read is exercised here: a new route must be added to the scenario.
    assert set(routes) == set(reads) | set(public)
    answers = {t: ok(c.get(p)) for t, (c, p) in reads.items()}
    answers |= {t: ok(chain.http.get(p)) for t, p in public.items()}
    for template, answer in answers.items():
        declared = routes[template].responses[200]["model"]
        declared.model_validate(answer)  # raises on a missing or mistyped field
        schema = document["paths"][template]["get"]["responses"]["200"]["content"]
        ref = schema["application/json"]["schema"]["$ref"]
        errors = list(_validator(document, ref).iter_errors(answer))
        assert not errors, (template, [e.message for e in errors][:3])


def test_a_receipt_is_what_the_document_declares(chain: Chain) -> None:
    document = chain.http.get("/openapi.json").json()
    receipt = chain.issue("1000.00")
    assert receipt.status_code == 201
    errors = list(_validator(document, "#/components/schemas/Receipt").iter_errors(receipt.json()))
    assert not errors, [e.message for e in errors][:3]


@pytest.mark.parametrize("wrong", [{"seq": "2"}, {"entry_hash": 7}])
def test_the_check_fails_on_an_answer_that_is_not_the_declared_one(
    chain: Chain, wrong: dict[str, Any]
) -> None:
    document = chain.http.get("/openapi.json").json()
    answer = ok(chain.client(chain.s1).get("/v1/ledger/head")) | wrong
    assert list(_validator(document, "#/components/schemas/Head").iter_errors(answer))
