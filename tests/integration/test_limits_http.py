"""Limits on everything that grows, over HTTP: each refused with its own problem type,
and nothing of the refused command written (``refused``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.limits import OBLIGATION_FEN_MAX
from ledger.money import format_fen
from ledger.repository import Repository
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Actor, Chain, World, business_date
from tests.helpers import assert_problem, certs, head, refused


@contextmanager
def limited(world: World, **overrides: int) -> Iterator[Chain]:
    """A supply chain on the same database, served by a ledger with ``overrides``."""
    strict = Ledger(world.ledger.engine, Settings(**overrides), world.clock)
    with TestClient(create_app(strict), raise_server_exceptions=False) as http:
        yield Chain(World(http, strict, world.operator, world.clock))


def to_self(chain: Chain, sender: Actor, piece: str, amounts: list[str]) -> list[str]:
    """Split ``piece`` into ``amounts`` kept by ``sender`` (plus any change): new ids."""
    created = certs(chain.transfer(sender, [piece], [(sender, a) for a in amounts]))
    return [c["id"] for c in created if c["state"] == "active"]


def pay(chain: Chain, sender: Actor, piece: str, to: Actor, amount: str) -> Any:
    return chain.transfer(sender, [piece], [(to, amount)])


def test_a_root_cannot_be_split_beyond_its_piece_limit_yet_returns_always_work(
    world: World,
) -> None:
    with limited(world, root_pieces_max=12, outputs_max=5) as chain:
        root = chain.issued("100.00")  # 1 piece
        a, b, c, d, _change = to_self(chain, chain.s1, root, ["20.00"] * 4)  # 6
        first = certs(pay(chain, chain.s1, a, chain.s2, "10.00"))  # 8 pieces + 1 reserved
        certs(pay(chain, chain.s1, b, chain.s2, "10.00"))  # 10 pieces + 2 reserved: full
        problem = refused(
            chain, chain.transfer(chain.s1, [c], [(chain.s1, "20.00")]), 422, "root-pieces-exceeded"
        )
        assert "12" in problem["detail"]
        refused(chain, pay(chain, chain.s1, d, chain.s3, "5.00"), 422, "root-pieces-exceeded")
        # The reserved room is what a rejection uses: value always goes back.
        pending = next(p["id"] for p in first if p["state"] == "pending")
        back = certs(chain.client(chain.s2).submit("certificate.reject", {"id": pending}))
        assert [p["state"] for p in back] == ["rejected", "active"]
        tree = chain.client(chain.core).get(f"/v1/certificates/{root}/tree").json()
        assert len(tree["pieces"]) == 11  # and one more is reserved for the other pending
    assert world.ledger.verify().ok


def test_a_member_cannot_hold_more_live_pieces_than_its_limit(world: World) -> None:
    with limited(world, holder_pieces_max=6, outputs_max=5) as chain:
        root = chain.issued("100.00")  # s1 holds 1 live piece
        a, b, *_ = to_self(chain, chain.s1, root, ["10.00"] * 4)  # 5 live pieces
        certs(pay(chain, chain.s1, a, chain.s2, "5.00"))  # change + the pending sent: 6
        refused(chain, pay(chain, chain.s1, b, chain.s2, "5.00"), 422, "holder-pieces-exceeded")
        # A recipient at its limit cannot be paid or issued to either.
        for _ in range(5):
            chain.issue("1.00", to=chain.s3)
        issued_sixth = chain.issue("1.00", to=chain.s3)
        assert issued_sixth.status_code == 201, issued_sixth.text
        refused(chain, chain.issue("1.00", to=chain.s3), 422, "holder-pieces-exceeded")
        # Spending pieces frees room: merging two pieces into one is always allowed.
        merged = chain.transfer(chain.s1, [b], [(chain.s1, "10.00")])
        assert merged.status_code == 201, merged.text
    assert world.ledger.verify().ok


def test_a_command_that_would_write_an_oversized_entry_is_refused(world: World) -> None:
    with limited(world, entry_bytes_max=64 * 1024) as chain:
        root = chain.issued("10000.00")
        outputs = [(chain.s2, "10.00")] * 100
        invoices = [chain.new_invoice("20.00") for _ in range(50)]  # copied into every piece
        refused(chain, chain.transfer(chain.s1, [root], outputs, invoices), 422, "entry-too-large")
        small = chain.transfer(chain.s1, [root], outputs[:10], invoices[:5])
        assert small.status_code == 201, small.text
    assert world.ledger.verify().ok


def obligation(world: World, debtor: Actor, creditor: Actor, amount: str) -> Any:
    body = {
        "creditor": creditor.id,
        "amount": amount,
        "due_date": business_date(world.clock, 30),
        "reference": "PO-LIMIT",
    }
    return world.client(debtor).submit("obligation.register", body)


def test_an_obligation_has_an_amount_ceiling(world: World) -> None:
    debtor, creditor = world.admit("supplier"), world.admit("supplier")
    over = format_fen(OBLIGATION_FEN_MAX + 1)
    refused(world, obligation(world, debtor, creditor, over), 422, "obligation-too-large")
    at_max = obligation(world, debtor, creditor, format_fen(OBLIGATION_FEN_MAX))
    assert at_max.status_code == 201, at_max.text


def test_a_member_owes_at_most_its_limit_of_live_obligations(world: World) -> None:
    with limited(world, member_obligations_max=3) as chain:
        ids = [
            obligation(chain, chain.s1, chain.s2, "1.00").json()["effects"]["obligations"][0]["id"]
            for _ in range(3)
        ]
        refused(
            chain, obligation(chain, chain.s1, chain.s3, "1.00"), 422, "member-obligations-exceeded"
        )
        # A closed obligation no longer counts.
        rejected = chain.client(chain.s2).submit("obligation.reject", {"id": ids[0]})
        assert rejected.status_code == 201, rejected.text
        again = obligation(chain, chain.s1, chain.s3, "1.00")
        assert again.status_code == 201, again.text
        # One awaiting the creditor's answer to a settlement claim is still owed.
        confirmed = chain.client(chain.s2).submit("obligation.confirm", {"id": ids[1]})
        assert confirmed.status_code == 201, confirmed.text
        claim = {"id": ids[1], "payment_ref": "TX-1"}
        claimed = chain.client(chain.s1).submit("obligation.settle", claim)
        assert claimed.status_code == 201, claimed.text
        refused(
            chain, obligation(chain, chain.s1, chain.s3, "1.00"), 422, "member-obligations-exceeded"
        )
    assert world.ledger.verify().ok


def pages(client: Any, path: str, key: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a paged read, following ``next_cursor``."""
    found: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(path + query)
        assert response.status_code == 200, response.text
        found.append(response.json()[key])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


def test_the_tree_of_a_root_is_read_a_page_at_a_time(chain: Chain) -> None:
    root = chain.issued("1000.00")
    piece = root
    for _ in range(3):  # 3 × (39 outputs + change) + the root and the spent ones
        created = to_self(chain, chain.s1, piece, ["1.00"] * 39)
        piece = created[-1]
    core = chain.client(chain.core)
    everything = chain.ledger.read(lambda repo: repo.tree(root))
    tree_pages = pages(core, f"/v1/certificates/{root}/tree", "pieces", 50)
    assert [len(page) for page in tree_pages] == [50, 50, len(everything) - 100]
    assert [p["id"] for page in tree_pages for p in page] == [p.id for p in everything]
    assert_problem(core.get(f"/v1/certificates/{root}/tree?limit=501"), 422, "validation")
    bad = core.get(f"/v1/certificates/{root}/tree?cursor=bm90LWEtY3Vyc29y")
    assert_problem(bad, 422, "validation")


def test_a_history_page_stops_at_its_byte_budget(chain: Chain) -> None:
    from ledger.limits import PAGE_BYTES_MAX

    root = chain.issued("100000.00")
    for _ in range(7):  # each entry: 101 pieces that carry 50 invoices each, ~0.4 MiB
        invoices = [chain.new_invoice("20.00") for _ in range(50)]
        created = certs(chain.transfer(chain.s1, [root], [(chain.s2, "1.00")] * 100, invoices))
        root = next(c["id"] for c in created if c["state"] == "active")
    s1 = chain.client(chain.s1)
    history = pages(s1, f"/v1/wallets/{chain.s1.id}/history", "entries", 500)
    assert len(history) >= 2, [len(page) for page in history]
    every = [entry["seq"] for page in history for entry in page]
    assert every == sorted(set(every), reverse=True)  # no entry lost or repeated
    first = s1.get(f"/v1/wallets/{chain.s1.id}/history?limit=500")
    assert len(first.content) < PAGE_BYTES_MAX + 1024 * 1024, len(first.content)


def test_the_sweep_cuts_its_batch_to_fit_one_entry(chain: Chain) -> None:
    """100 pending pieces that each carry 50 invoices: expiring them all at once would
    write one entry of some 0.7 MiB; the sweep writes several within the limit."""
    root = chain.issued("10000.00")
    invoices = [chain.new_invoice("20.00") for _ in range(50)]
    certs(chain.transfer(chain.s1, [root], [(chain.s2, "10.00")] * 100, invoices))
    before = head(chain)
    chain.clock.advance(days=8)
    written = chain.ledger.sweep_all()
    assert written >= 2, written

    def sizes(repo: Repository) -> list[int]:
        stored = [repo.entry(seq) for seq in range(before + 1, before + written + 1)]
        return [len(s.command_text) + len(s.effects_text) for s in stored if s is not None]

    entry_sizes = chain.ledger.read(sizes)
    assert len(entry_sizes) == written
    assert max(entry_sizes) <= chain.ledger.settings.entry_bytes_max
    assert chain.ledger.verify().ok
