"""Limits on everything that grows, over HTTP: each refused with its own problem type,
and nothing of the refused command written (``refused``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.certificates import HOLDING
from ledger.limits import OBLIGATION_FEN_MAX
from ledger.money import format_fen
from ledger.repository import Repository
from ledger.service import Ledger
from ledger.settings import Settings
from tests.conftest import Actor, Chain, World, business_date
from tests.helpers import assert_problem, certs, fen, head, ok, refused


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


def pay_many(chain: Chain, sender: Actor, piece: str, to: Actor, amounts: list[str]) -> Any:
    response = chain.transfer(sender, [piece], [(to, amount) for amount in amounts])
    assert response.status_code == 201, response.text
    return response


def pending_for(response: Any, to: Actor) -> list[str]:
    return [c["id"] for c in certs(response) if c["state"] == "pending" and c["holder"] == to.id]


def accept(chain: Chain, actor: Actor, piece: str) -> None:
    accepted = chain.client(actor).submit("certificate.accept", {"id": piece})
    assert accepted.status_code == 201, accepted.text


def split_to_the_smallest(chain: Chain, member: Actor, piece: str, min_fen: int) -> int:
    """``member`` splits ``piece`` into pieces of its root's smallest size, kept by itself,
    as far as the rule lets it; how many live pieces it then holds of it."""
    outputs_max = chain.ledger.settings.outputs_max
    left, kept = [piece], 0
    while left:
        current = left.pop()
        amount_fen = chain.ledger.read(lambda repo, c=current: repo.certificate(c)).amount_fen
        count = min(outputs_max, amount_fen // min_fen - 1)  # the change stays a whole piece
        if count < 1:
            kept += 1
            continue
        created = certs(chain.transfer(member, [current], [(member, format_fen(min_fen))] * count))
        kept += count
        left.append(created[-1]["id"])  # the change, last
    return kept


def live_pieces_of(chain: Chain, root: str) -> int:
    tree = pages(chain.client(chain.core), f"/v1/certificates/{root}/tree", "pieces", 500)
    return sum(1 for page in tree for p in page if p["state"] in HOLDING)


def net_down_to(chain: Chain, holder: Actor, piece: str, left: str) -> str:
    """Net ``piece`` (issued by the core, held by ``holder``) down to ``left``: the holder
    owes the core the rest, and the operator's netting run sets it off. The remainder."""
    for firm in (chain.core, holder):
        ok(chain.client(firm).submit("member.netting_consent", {"consent": True}))
    held_fen = chain.ledger.read(lambda repo: repo.certificate(piece)).amount_fen
    body = {
        "creditor": chain.core.id,
        "amount": format_fen(held_fen - fen(left)),
        "due_date": business_date(chain.clock, 30),
        "reference": "PO-NET",
    }
    owed = ok(chain.client(holder).submit("obligation.register", body))
    ok(
        chain.client(chain.core).submit(
            "obligation.confirm", {"id": owed["effects"]["obligations"][0]["id"]}
        )
    )
    run = {"mode": "setoff", "as_of": business_date(chain.clock)}
    netted = certs(chain.client(chain.operator).submit("netting.run", run))
    [rest] = [c for c in netted if c["state"] == "active" and c["holder"] == holder.id]
    assert rest["amount"] == left, netted
    return str(rest["id"])


def test_no_holder_can_stop_another_holders_transfer_of_the_same_root(chain: Chain) -> None:
    """A holder of 1.00 of a 10,000.00 root, and a holder colluding with it, split what
    they hold as finely as they can (the old attack: pieces of 0.01 until the root is
    full); a third holder's transfer of the same root still goes through, and no refusal
    tells anyone what the others did."""
    root = chain.issued("10000.00")  # the smallest piece of this root: 5.00
    paid = chain.transfer(chain.s1, [root], [(chain.s2, "100.00"), (chain.s3, "1000.00")])
    [attacker_piece], [victim_piece] = pending_for(paid, chain.s2), pending_for(paid, chain.s3)
    change = certs(paid)[-1]["id"]
    accept(chain, chain.s2, attacker_piece)
    accept(chain, chain.s3, victim_piece)
    # The attacker comes to hold 1.00 of the root: a netting run clears the rest.
    attacker_piece = net_down_to(chain, chain.s2, attacker_piece, "1.00")
    dust = [(chain.s2, "0.01")] * chain.ledger.settings.outputs_max
    before = refused(
        chain, chain.transfer(chain.s2, [attacker_piece], dust), 422, "root-pieces-exceeded"
    )
    assert "5.00" in before["detail"], before
    # It is refused at once, and a colluding holder splits all it has as far as allowed.
    assert split_to_the_smallest(chain, chain.s2, attacker_piece, 5_00) == 1
    assert split_to_the_smallest(chain, chain.s1, change, 5_00) == 1_780
    # The victim's transfer — the largest split of its own paper — is not stopped.
    victim = chain.transfer(chain.s3, [victim_piece], [(chain.s1, "5.00")] * 99)
    assert victim.status_code == 201, victim.text
    assert live_pieces_of(chain, root) <= chain.ledger.settings.root_pieces_max
    # The attacker's 1.00 still moves on whole: a transfer that adds no piece.
    whole = chain.transfer(chain.s2, [attacker_piece], [(chain.s3, "1.00")])
    assert whole.status_code == 201, whole.text
    # The same refusal as before anyone split: it depends on the root's face alone.
    kept = certs(victim)[-1]["id"]  # its change
    after = refused(chain, chain.transfer(chain.s3, [kept], dust[:2]), 422, "root-pieces-exceeded")
    assert after["detail"] == before["detail"], (before, after)
    # Nor can a payment of 1.00 be split off: every piece is at least the root's smallest.
    refused(chain, pay(chain, chain.s3, kept, chain.s2, "1.00"), 422, "root-pieces-exceeded")
    assert chain.ledger.verify().ok


def test_a_root_never_has_more_live_pieces_than_its_limit_and_returns_always_work(
    world: World,
) -> None:
    with limited(world, root_pieces_max=12, outputs_max=5) as chain:
        root = chain.issued("100.00")  # the smallest piece of this root: 8.34
        paid = pay(chain, chain.s1, root, chain.s2, "20.00")
        [piece] = pending_for(paid, chain.s2)
        accept(chain, chain.s2, piece)
        kept = split_to_the_smallest(chain, chain.s1, certs(paid)[-1]["id"], 8_34)
        kept += split_to_the_smallest(chain, chain.s2, piece, 8_34)
        assert live_pieces_of(chain, root) == kept <= 12
        # A piece moves on whole however small; giving value back needs no room.
        s1_piece = next(
            p["id"]
            for p in chain.client(chain.s1).get(f"/v1/wallets/{chain.s1.id}").json()["certificates"]
            if p["root_id"] == root and p["state"] == "active"
        )
        sent = pay(chain, chain.s1, s1_piece, chain.s3, "8.34")
        [pending] = pending_for(sent, chain.s3)
        back = certs(chain.client(chain.s3).submit("certificate.reject", {"id": pending}))
        assert [p["state"] for p in back] == ["rejected", "active"]
        assert live_pieces_of(chain, root) == kept
    assert world.ledger.verify().ok


def test_unwanted_pending_pieces_do_not_stop_a_members_real_payments(world: World) -> None:
    with limited(world, holder_pieces_max=6, outputs_max=5) as chain:
        spam = []
        for spammer in (chain.s1, chain.s2):
            root = chain.issued("100.00", to=spammer)  # 1 live piece
            sent = pay_many(chain, spammer, root, chain.s3, ["1.00"] * 5)  # + 5 sent + change
            spam += pending_for(sent, chain.s3)
        # s3 has ten pending pieces it did not ask for: its core can still issue to it.
        issued = chain.issue("1.00", to=chain.s3)
        assert issued.status_code == 201, issued.text
        # The spammer is at its own limit (its change and five pending pieces sent).
        change = certs(sent)[-1]["id"]
        problem = refused(
            chain, pay(chain, chain.s2, change, chain.s3, "1.00"), 422, "holder-pieces-exceeded"
        )
        assert chain.s2.id in problem["detail"] and chain.s3.id not in problem["detail"]
        # Spending pieces frees room: merging a piece into one is always allowed.
        merged = chain.transfer(chain.s2, [change], [(chain.s2, "95.00")])
        assert merged.status_code == 201, merged.text
        # Rejecting what it did not want costs s3 nothing.
        back = chain.client(chain.s3).submit("certificate.reject", {"id": spam[0]})
        assert back.status_code == 201, back.text
    assert world.ledger.verify().ok


def test_accepting_past_ones_own_limit_is_refused(world: World) -> None:
    with limited(world, holder_pieces_max=6, outputs_max=5) as chain:
        root = chain.issued("100.00")
        sent = pay_many(chain, chain.s1, root, chain.s3, ["1.00"] * 5)
        pieces = pending_for(sent, chain.s3)
        issued = chain.issue("1.00", to=chain.s3)
        pieces += pending_for(issued, chain.s3)
        other = chain.issued("100.00", to=chain.s2)
        pieces += pending_for(pay(chain, chain.s2, other, chain.s3, "1.00"), chain.s3)
        for piece in pieces[:6]:
            accept(chain, chain.s3, piece)
        response = chain.client(chain.s3).submit("certificate.accept", {"id": pieces[6]})
        problem = refused(chain, response, 422, "holder-pieces-exceeded")
        assert f"{chain.s3.id} has 6 live pieces" in problem["detail"], problem
        # It can still reject it: the value goes back to its sender.
        back = chain.client(chain.s3).submit("certificate.reject", {"id": pieces[6]})
        assert back.status_code == 201, back.text
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

    root = chain.issued("2000.00")  # pieces of 1.00: a 2,000th of it
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
