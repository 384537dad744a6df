"""The listings over HTTP on a real database: members (the operator), obligations (the
member, the operator), certificates (the issuer's roots, the operator's all) and a core
enterprise's limit; who may read each, their filters, pages through the wallet's cursor
and the refusals of bad parameters (``422 validation`` with ``errors``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Actor, Chain, World, business_date
from tests.helpers import assert_problem, at_business_date, fen, ok


def every_page(client: Any, path: str, key: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following ``next_cursor`` (``path`` may hold a query)."""
    found: list[list[dict[str, Any]]] = []
    cursor = None
    joiner = "&" if "?" in path else "?"
    while True:
        query = f"{joiner}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = ok(client.get(path + query))
        assert len(page[key]) <= limit
        found.append(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def validation(response: Any, field: str) -> None:
    """Refused as malformed, naming the parameter that is."""
    problem = assert_problem(response, 422, "validation")
    assert field in [error["field"] for error in problem["errors"]], problem


# -- members -----------------------------------------------------------------------------


def test_the_operator_lists_every_member_a_page_at_a_time(chain: Chain) -> None:
    operator = chain.client(chain.operator)
    pages = every_page(operator, "/v1/members", "members", 2)
    assert len(pages) == 3  # the operator and the chain's five, two a page
    listed = flat(pages)
    cast = [chain.operator, chain.core, chain.s1, chain.s2, chain.s3, chain.bank]
    assert [m["id"] for m in listed] == [a.id for a in cast]  # by admission
    assert [m["admitted_seq"] for m in listed] == sorted(m["admitted_seq"] for m in listed)
    assert listed[1]["roles"] == ["core"] and listed[1]["name"] == "Core Builder Group"
    # The record as read by id, but for its keys (read by id, at most 20 a member).
    record = ok(operator.get(f"/v1/members/{chain.core.id}"))
    assert listed[1] == {k: v for k, v in record.items() if k != "keys"}


def test_only_the_operator_lists_members(chain: Chain) -> None:
    for actor in (chain.core, chain.s1, chain.bank):
        assert_problem(chain.client(actor).get("/v1/members"), 404, "not-found")
    ok(chain.client(chain.s1).get(f"/v1/members/{chain.core.id}"))  # one by id, as before


# -- obligations -------------------------------------------------------------------------


def owe(world: World, debtor: Actor, creditor: Actor, amount: str, confirm: bool = True) -> str:
    body = {
        "creditor": creditor.id,
        "amount": amount,
        "due_date": business_date(world.clock, 30),
        "reference": f"PO-{amount}",
    }
    registered = ok(world.client(debtor).submit("obligation.register", body))
    obligation_id: str = registered["effects"]["obligations"][0]["id"]
    if confirm:
        ok(world.client(creditor).submit("obligation.confirm", {"id": obligation_id}))
    return obligation_id


def test_a_member_lists_its_obligations_by_role_and_state(chain: Chain) -> None:
    s1, s2, s3 = chain.s1, chain.s2, chain.s3
    owed = [owe(chain, s1, s2, f"{n}0.00") for n in range(1, 5)]  # s1 owes s2 four
    pending = owe(chain, s1, s3, "5.00", confirm=False)
    claimed = owe(chain, s3, s1, "6.00")  # s1 is owed one
    mine = chain.client(s1)

    both = flat(every_page(mine, f"/v1/obligations?member={s1.id}", "obligations", 2))
    assert [o["id"] for o in both] == [*owed, pending, claimed]  # by creation
    assert flat(every_page(mine, "/v1/obligations", "obligations", 4)) == both  # itself
    as_debtor = ok(mine.get(f"/v1/obligations?member={s1.id}&role=debtor"))
    assert [o["id"] for o in as_debtor["obligations"]] == [*owed, pending]
    as_creditor = ok(mine.get(f"/v1/obligations?member={s1.id}&role=creditor"))
    assert [o["id"] for o in as_creditor["obligations"]] == [claimed]
    waiting = ok(mine.get(f"/v1/obligations?member={s1.id}&state=pending"))
    assert [o["id"] for o in waiting["obligations"]] == [pending]
    confirmed = every_page(
        mine, f"/v1/obligations?member={s1.id}&role=debtor&state=confirmed", "obligations", 3
    )
    assert [[o["id"] for o in page] for page in confirmed] == [owed[:3], owed[3:]]
    first = both[0]
    assert (first["debtor"], first["creditor"], first["amount"]) == (s1.id, s2.id, "10.00")
    assert first.pop("updated_seq") >= first["created_seq"]
    assert first == ok(mine.get(f"/v1/obligations/{first['id']}"))


def test_obligations_are_the_members_and_the_operators(chain: Chain) -> None:
    oid = owe(chain, chain.s1, chain.s2, "10.00")
    outsider = chain.client(chain.s3)
    for path in (f"/v1/obligations?member={chain.s1.id}", f"/v1/obligations?member={chain.s2.id}"):
        problem = assert_problem(outsider.get(path), 404, "not-found")
        assert chain.s1.id not in problem["detail"]
    # The same answer for a member that does not exist, or an id that cannot.
    assert_problem(outsider.get("/v1/obligations?member=91350100000000000X"), 404, "not-found")
    assert ok(outsider.get("/v1/obligations"))["obligations"] == []  # its own: none
    operator = chain.client(chain.operator)
    assert [o["id"] for o in ok(operator.get("/v1/obligations"))["obligations"]] == [oid]
    of_s2 = ok(operator.get(f"/v1/obligations?member={chain.s2.id}&role=creditor"))
    assert [o["id"] for o in of_s2["obligations"]] == [oid]


def test_bad_obligation_parameters_are_refused(chain: Chain) -> None:
    mine = chain.client(chain.s1)
    validation(mine.get("/v1/obligations?role=holder"), "query.role")
    validation(mine.get("/v1/obligations?state=paid"), "query.state")
    validation(mine.get("/v1/obligations?limit=0"), "query.limit")
    validation(mine.get("/v1/obligations?limit=501"), "query.limit")
    assert_problem(mine.get("/v1/obligations?cursor=bm90LWEtY3Vyc29y"), 422, "validation")
    validation(chain.client(chain.operator).get("/v1/obligations?role=debtor"), "query.role")


# -- certificates ------------------------------------------------------------------------


def test_an_issuer_lists_its_certificates_with_face_outstanding_and_maturity(
    chain: Chain,
) -> None:
    roots = [chain.issued(f"{n}00.00", days=30 + n) for n in range(1, 6)]
    # Part of the first goes on to tier 2: outstanding is what its pieces still hold.
    ok(chain.transfer(chain.s1, [roots[0]], [(chain.s2, "40.00")]))
    issuer = chain.client(chain.core)
    pages = every_page(issuer, "/v1/certificates", "certificates", 2)
    assert len(pages) == 3
    listed = flat(pages)
    assert [c["id"] for c in listed] == roots  # by issue
    first = listed[0]
    assert first["issuer"] == chain.core.id and first["first_holder"] == chain.s1.id
    assert (first["face"], first["outstanding"], first["paid"]) == ("100.00", "100.00", "0.00")
    assert first["maturity"] == business_date(chain.clock, 31)
    assert first["state"] == "outstanding" and first["pieces"] == 2
    assert sum(fen(c["face"]) for c in listed) == 150_000
    by_id = every_page(issuer, f"/v1/certificates?issuer={chain.core.id}", "certificates", 100)
    assert flat(by_id) == listed


def test_certificates_filtered_by_maturity(chain: Chain) -> None:
    roots = [chain.issued("100.00", days=days) for days in (30, 60, 90)]
    issuer = chain.client(chain.core)

    def listed(query: str) -> list[str]:
        return [c["id"] for c in ok(issuer.get(f"/v1/certificates?{query}"))["certificates"]]

    first, last = business_date(chain.clock, 60), business_date(chain.clock, 90)
    assert listed(f"maturity_from={first}") == roots[1:]
    assert listed(f"maturity_to={first}") == roots[:2]
    assert listed(f"maturity_from={first}&maturity_to={first}") == [roots[1]]
    assert listed(f"maturity_from={last}&maturity_to={last}&state=outstanding") == [roots[2]]


def test_certificates_filtered_by_state(chain: Chain) -> None:
    days = {n: business_date(chain.clock, n) for n in (10, 20, 25)}
    paid = chain.issued("100.00", days=10)
    late = chain.issued("200.00", days=20)
    held = chain.issued("300.00", days=90)
    refused_root = ok(chain.issue("400.00"))["effects"]["certificates"][0]["id"]
    ok(chain.client(chain.s1).submit("certificate.reject", {"id": refused_root}))
    core = chain.client(chain.core)
    at_business_date(chain, days[10])
    ok(core.submit("settlement.pay", {"pieces": [paid], "payment_ref": "P1"}))
    at_business_date(chain, days[20])  # part paid: the rest goes overdue
    ok(core.submit("settlement.pay", {"root": late, "amount": "50.00", "payment_ref": "P2"}))
    at_business_date(chain, days[25])
    chain.ledger.sweep_all()
    issuer = chain.client(chain.core)

    def listed(state: str) -> list[dict[str, Any]]:
        found = ok(issuer.get(f"/v1/certificates?state={state}"))["certificates"]
        assert all(c["state"] == state for c in found), found
        return list(found)

    assert [c["id"] for c in listed("settled")] == [paid]
    assert [c["id"] for c in listed("overdue")] == [late]
    assert [c["id"] for c in listed("outstanding")] == [held]
    assert [c["id"] for c in listed("ended")] == [refused_root]
    [settled] = listed("settled")
    assert (settled["paid"], settled["outstanding"], settled["pieces"]) == ("100.00", "0.00", 0)
    [overdue] = listed("overdue")
    assert overdue["overdue"] == overdue["outstanding"] == "150.00" and overdue["paid"] == "50.00"


def test_certificates_are_the_issuers_and_the_operators(chain: Chain) -> None:
    mine = chain.issued("100.00")
    other = chain.admit("core", name="Other Core")
    ok(chain.client(chain.operator).submit("limit.set", {"member": other.id, "amount": "500.00"}))
    theirs = ok(
        chain.client(other).submit(
            "certificate.issue",
            {
                "to": chain.s1.id,
                "amount": "50.00",
                "maturity": business_date(chain.clock, 30),
                "trade": {"contract_no": "HT-9", "invoices": [chain.new_invoice("50.00")]},
            },
        )
    )["effects"]["certificates"][0]["id"]
    for outsider in (other, chain.s1, chain.bank):
        response = chain.client(outsider).get(f"/v1/certificates?issuer={chain.core.id}")
        assert_problem(response, 404, "not-found")
    assert [c["id"] for c in ok(chain.client(other).get("/v1/certificates"))["certificates"]] == [
        theirs
    ]
    assert ok(chain.client(chain.s1).get("/v1/certificates"))["certificates"] == []  # none issued
    everyone = ok(chain.client(chain.operator).get("/v1/certificates"))
    assert everyone["issuer"] is None
    assert [c["id"] for c in everyone["certificates"]] == [mine, theirs]
    of_core = ok(chain.client(chain.operator).get(f"/v1/certificates?issuer={chain.core.id}"))
    assert [c["id"] for c in of_core["certificates"]] == [mine]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=active", "query.state"),
        ("maturity_from=2026-02-30", "query.maturity_from"),
        ("maturity_from=20260301", "query.maturity_from"),
        ("maturity_to=tomorrow", "query.maturity_to"),
        ("maturity_from=2026-06-02&maturity_to=2026-06-01", "query.maturity_to"),
        ("limit=101", "query.limit"),
        ("limit=-1", "query.limit"),
    ],
)
def test_bad_certificate_parameters_are_refused(chain: Chain, query: str, field: str) -> None:
    validation(chain.client(chain.core).get(f"/v1/certificates?{query}"), field)


# -- limits ------------------------------------------------------------------------------


def test_a_core_reads_its_limit_outstanding_and_available(chain: Chain) -> None:
    chain.issued("250.50")
    pending = chain.issue("100.00")  # pending paper counts against the limit too
    assert pending.status_code == 201, pending.text
    for reader in (chain.core, chain.operator):
        limit = ok(chain.client(reader).get(f"/v1/limits/{chain.core.id}"))
        assert limit["core"] == chain.core.id and limit["kind"] == "issuance"
        assert (limit["limit"], limit["outstanding"], limit["available"]) == (
            "1000000.00",
            "350.50",
            "999649.50",
        )


def test_a_limit_is_the_cores_and_the_operators(chain: Chain) -> None:
    for outsider in (chain.s1, chain.bank, chain.admit("core")):
        response = chain.client(outsider).get(f"/v1/limits/{chain.core.id}")
        assert_problem(response, 404, "not-found")
    operator = chain.client(chain.operator)
    for nobody in (chain.s1.id, "91350100000000000X", "not-a-member"):  # not a core, no member
        assert_problem(operator.get(f"/v1/limits/{nobody}"), 404, "not-found")
    unset = chain.admit("core", name="No Limit Yet")
    limit = ok(operator.get(f"/v1/limits/{unset.id}"))
    assert (limit["limit"], limit["outstanding"], limit["available"]) == ("0.00", "0.00", "0.00")


def test_the_openapi_document_types_the_listings(world: World) -> None:
    doc = world.http.get("/openapi.json").json()
    answers = {
        "/v1/members": "MemberPage",
        "/v1/obligations": "ObligationPage",
        "/v1/certificates": "CertificatePage",
        "/v1/limits/{core}": "IssuanceLimitView",
    }
    for path, schema in answers.items():
        answer = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": f"#/components/schemas/{schema}"}, path
    schemas = doc["components"]["schemas"]
    assert schemas["RootState"]["enum"] == ["outstanding", "overdue", "settled", "ended"]
    assert "settlement-claimed" in schemas["ObligationState"]["enum"]
    item = schemas["CertificateItem"]["properties"]
    assert {"face", "outstanding", "maturity", "state"} <= set(item)
