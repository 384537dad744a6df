"""A batch applies commands exactly as they would be applied one at a time.

The sequencer applies many commands in one transaction, each rule reading the effects
of the ones before it from the batch (``ledger.batch``), not from the database. So
the same signed commands, on the same frozen clock, must give the same journal — entry
for entry, hash for hash — and the same projections whether the sequencer takes them one
per batch or all in one batch, with every refusal the same.

Each example draws a workload of certificates (issue, accept, reject, cancel,
split-transfer) and obligations (register, confirm, claim and confirm payment) among
two core enterprises and three suppliers, under limits small enough that the counts a
batch must correct (a holder's live pieces, a root's pieces, a debtor's open
obligations) are reached. The commands are signed against ledger A as it goes, one per
batch, so each can refer to what the ones before created; then the clock may jump past
the pending deadline (so that commands touching a due piece are refused and record its
expiry, inside the batch); and then ledger B, built alike, gets the whole workload's
second half in one batch (or in a few).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.catalog import CATALOG
from ledger.db import make_engine
from ledger.errors import Refusal
from ledger.projections import PROJECTIONS
from ledger.repository import Repository
from ledger.service import Ledger, Receipt
from ledger.settings import Settings
from ledger.signing import sign_command
from tests.conftest import (
    ON_POSTGRES,
    PROFILE,
    Actor,
    Clock,
    Template,
    business_date,
    fresh_database,
    seeded_actor,
)

SETTINGS = Settings(
    outputs_max=2,
    root_pieces_max=4,
    holder_pieces_max=4,
    member_obligations_max=2,
    piece_fen_min=100,
)
AMOUNTS_FEN = (100, 1_000, 5_000, 25_000, 40_000)
SHARED_INVOICE = "400.00"  # the amount of an invoice cited again and again
# A batch reads and decides the same on both databases; only its writes are SQL, which
# every example exercises: PostgreSQL, where each example creates two databases, draws
# fewer.
EXAMPLES = (12 if ON_POSTGRES else 40) if PROFILE == "ci" else 300

# A step: (kind, a, b, c) — small integers the interpreter maps onto what exists.
Step = tuple[str, int, int, int]
KINDS = ("issue", "accept", "reject", "cancel", "transfer", "register", "confirm", "settle")
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 7),
        st.integers(0, 7),
        st.integers(0, len(AMOUNTS_FEN) - 1),
    ),
    min_size=8,
    max_size=40,
)


@dataclass
class Workload:
    """What ledger A has shown so far: the pieces and obligations its receipts named."""

    clock: Clock
    cores: list[Actor]
    suppliers: list[Actor]
    ledger_id: str
    pieces: dict[str, dict[str, Any]] = field(default_factory=dict)
    obligations: dict[str, dict[str, Any]] = field(default_factory=dict)
    nonces: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def learn(self, outcome: Receipt | Refusal) -> None:
        if isinstance(outcome, Receipt):
            for piece in outcome.effects.get("certificates", ()):
                self.pieces[piece["id"]] = piece
            for obligation in outcome.effects.get("obligations", ()):
                self.obligations[obligation["id"]] = obligation

    def sign(self, actor: Actor, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        return sign_command(
            actor.key,
            actor.id,
            type_,
            body,
            issued_at=self.clock(),
            ledger=self.ledger_id,
            nonce=f"batch-{next(self.nonces):010d}",
        )

    def envelope(self, step: Step) -> dict[str, Any]:
        kind, a, b, c = step
        members = self.cores + self.suppliers
        amount = f"{AMOUNTS_FEN[c] // 100}.{AMOUNTS_FEN[c] % 100:02d}"
        trade = {"contract_no": f"C-{a}", "invoices": []}
        if kind == "issue":
            # An issuance cites the invoice it pays: a new one, or now and then one cited
            # before (which it can back only once).
            if b % 3 == 0:
                trade["invoices"] = [{"no": f"INV-{b}", "amount": SHARED_INVOICE}]
            else:
                trade["invoices"] = [{"no": f"INV-N{next(self.numbers)}", "amount": amount}]
            body = {
                "to": members[b % len(members)].id,
                "amount": amount,
                "maturity": business_date(self.clock, 60),
                "trade": trade,
            }
            return self.sign(self.cores[a % 2], "certificate.issue", body)
        if kind in ("accept", "reject", "cancel", "transfer"):
            piece = _pick(self.pieces, a, "active" if kind == "transfer" else "pending")
            piece_id = piece["id"] if piece else "0" * 32
            actor = self._actor(piece["holder"] if piece and b % 4 else None, b)
            if kind == "cancel":
                actor = self._actor(piece["issuer"] if piece and b % 4 else None, b)
            if kind != "transfer":
                return self.sign(actor, f"certificate.{kind}", {"id": piece_id})
            whole = int(piece["amount"].replace(".", "")) if piece else 100
            part = max(1, whole * (c + 1) // 6)
            outputs = [{"to": members[b % len(members)].id, "amount": _text(part)}]
            if b % 3 == 0:
                outputs.append({"to": actor.id, "amount": _text(whole - part)})
            body = {"inputs": [piece_id], "outputs": outputs, "trade": trade}
            return self.sign(actor, "certificate.transfer", body)
        if kind == "register":
            debtor, creditor = members[a % len(members)], members[b % len(members)]
            body = {
                "creditor": creditor.id,
                "amount": amount,
                "due_date": business_date(self.clock, 30),
                "reference": f"PO-{a}-{b}",
            }
            return self.sign(debtor, "obligation.register", body)
        obligation = _pick(self.obligations, a, "pending" if kind == "confirm" else "confirmed")
        obligation_id = obligation["id"] if obligation else "0" * 32
        if kind == "confirm":
            party = obligation["creditor"] if obligation and b % 4 else None
            return self.sign(self._actor(party, b), "obligation.confirm", {"id": obligation_id})
        party = obligation["debtor"] if obligation and b % 4 else None
        body = {"id": obligation_id, "payment_ref": f"PAY-{a}", "amount": amount}
        return self.sign(self._actor(party, b), "obligation.settle", body)

    def _actor(self, member_id: str | None, fallback: int) -> Actor:
        members = self.cores + self.suppliers
        found = [m for m in members if m.id == member_id]
        return found[0] if found else members[fallback % len(members)]


def _pick(found: dict[str, dict[str, Any]], index: int, state: str) -> dict[str, Any] | None:
    """Mostly one in ``state`` (as ledger A last showed it), now and then any."""
    candidates = [row for row in found.values() if row["state"] == state or index == 7]
    candidates = candidates or list(found.values())
    return candidates[index % len(candidates)] if candidates else None


def _text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _state(ledger: Ledger) -> dict[str, Any]:
    """Every entry's hash and every projection row, as stored."""
    with ledger.engine.connect() as conn, conn.begin():
        repo = Repository(conn)
        entries = [(e.entry.seq, e.entry.entry_hash) for e in repo.entries()]
        tables = {
            name: sorted(repo.table_rows(p.table), key=lambda row: str(sorted(row.items())))
            for name, p in PROJECTIONS.items()
        }
    return {"entries": entries, "tables": tables}


def _wire(outcome: Receipt | Exception) -> Any:
    if isinstance(outcome, Receipt):
        return outcome.wire() | {"replayed": outcome.replayed}
    assert isinstance(outcome, Refusal), outcome  # a refusal, never a failure
    return outcome.type


def _build(stack: ExitStack, template: Template, directory: Path) -> tuple[Ledger, Clock]:
    clock = Clock()
    url = stack.enter_context(fresh_database(template, directory))
    engine = make_engine(url)
    stack.callback(engine.dispose)
    ledger = Ledger(engine, SETTINGS, clock)
    stack.callback(ledger.close)
    operator = seeded_actor(0)
    ledger.genesis(operator.id, "Operator", operator.public_key, salt="0" * 32)
    return ledger, clock


def _cast(ledger: Ledger, clock: Clock) -> Workload:
    operator = seeded_actor(0)
    cores = [seeded_actor(1), seeded_actor(2)]
    suppliers = [seeded_actor(3), seeded_actor(4), seeded_actor(5)]
    work = Workload(clock, cores, suppliers, ledger.ledger_id())
    for actor in cores + suppliers:
        role = "core" if actor in cores else "supplier"
        body = {"id": actor.id, "name": "M", "roles": [role], "public_key": actor.public_key}
        ledger.execute(work.sign(operator, "member.admit", body))
    for core in cores:
        body = {"member": core.id, "amount": "900.00"}
        ledger.execute(work.sign(operator, "limit.set", body))
    return work


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batches")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=steps,
    second=steps,
    jump=st.booleans(),
    chunks=st.sampled_from([1, 2, 5]),
)
def test_one_batch_applies_commands_as_one_per_batch_does(
    template: Template,
    directory: Path,
    first: list[Step],
    second: list[Step],
    jump: bool,
    chunks: int,
) -> None:
    _compare(template, directory, first, second, jump, chunks)


# Workloads that reach, inside one batch, each thing a batch must get right: a count it
# corrects, an invoice cited twice, a piece created and then spent, a due piece touched.
# name: (a refusal the batch must reach, or None; the steps before it; the batch)
SCRIPTED: dict[str, tuple[str | None, list[Step], list[Step]]] = {
    "holder pieces": ("holder-pieces-exceeded", [], [("issue", 0, 2, 1)] * 5),
    "a count going down": (
        None,
        [("issue", 0, 2, 1)] * 4,
        [("accept", 0, 1, 0), ("issue", 0, 2, 1)],
    ),
    "open obligations": ("member-obligations-exceeded", [], [("register", 3, 4, 0)] * 3),
    "invoice cited twice": ("invoice-overused", [], [("issue", 0, 3, 4), ("issue", 0, 3, 4)]),
    "invoice cited before": (
        "invoice-overused",
        [("issue", 0, 3, 2)],
        [("issue", 0, 3, 3), ("issue", 0, 3, 3)],
    ),
    "invoice given back, then cited": (
        None,
        [("issue", 0, 3, 3)],
        [("reject", 0, 1, 0), ("issue", 0, 3, 4)],
    ),
    "created then spent": (
        None,
        [],
        [("issue", 0, 2, 3), ("accept", 0, 1, 0), ("transfer", 0, 3, 2)],
    ),
    "root pieces": (
        "root-pieces-exceeded",
        [("issue", 0, 2, 3), ("accept", 0, 1, 0)],
        [("transfer", 0, 3, 0), ("accept", 0, 1, 0)] * 4,
    ),
    "settled then registered": (
        None,
        [("register", 3, 4, 0)] * 2,
        [("confirm", 0, 1, 0), ("settle", 0, 1, 4), ("register", 3, 4, 0)],
    ),
}


@pytest.mark.parametrize("read_ahead", [True, False], ids=["read ahead", "read on asking"])
@pytest.mark.parametrize(("reaches", "first", "second"), SCRIPTED.values(), ids=SCRIPTED.keys())
def test_a_scripted_batch_applies_commands_as_one_per_batch_does(
    template: Template,
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    read_ahead: bool,
    reaches: str | None,
    first: list[Step],
    second: list[Step],
) -> None:
    """With the loaders' needs read ahead for the batch, and without (a hint only)."""
    if not read_ahead:
        for kind in list(CATALOG.values()):
            monkeypatch.setitem(CATALOG, kind.type, replace(kind, needs=None))
    refusals = _compare(template, directory, first, second, jump=False, chunks=1)
    assert reaches is None or reaches in refusals, refusals


def _compare(
    template: Template,
    directory: Path,
    first: list[Step],
    second: list[Step],
    jump: bool,
    chunks: int,
) -> list[str]:
    """Apply ``first`` one per batch on A and B, then ``second`` one per batch on A and
    in ``chunks`` batches on B; the refusals of the second part."""
    with ExitStack() as stack:
        (a, clock_a), (b, clock_b) = (_build(stack, template, directory) for _ in "AB")
        work = _cast(a, clock_a)
        _cast(b, clock_b)  # the same envelopes: same seeded keys, nonces and clock
        work.nonces = itertools.count(1_000)
        envelopes = []
        for step in first:
            envelope = work.envelope(step)
            work.learn(_outcome(a, envelope))
            envelopes.append(envelope)
        for envelope in envelopes:
            _outcome(b, envelope)
        assert _state(a) == _state(b)
        if jump:  # past the pending deadline: pending pieces touched now are due
            for clock in (clock_a, clock_b):
                clock.advance(seconds=SETTINGS.pending_expiry_s + 1)
        one_by_one, envelopes = [], []
        for step in second:
            envelope = work.envelope(step)
            outcome = _outcome(a, envelope)
            work.learn(outcome)
            one_by_one.append(_wire(outcome))
            envelopes.append(envelope)
        together: list[Any] = []
        size = -(-len(envelopes) // chunks)
        for start in range(0, len(envelopes), size):
            together += [_wire(o) for o in b.execute_together(envelopes[start : start + size])]
        assert together == one_by_one
        assert _state(a) == _state(b)
        assert b.verify().ok, b.verify().problems
        return [outcome for outcome in together if isinstance(outcome, str)]


def _outcome(ledger: Ledger, envelope: dict[str, Any]) -> Receipt | Refusal:
    try:
        return ledger.execute(envelope)
    except Refusal as refusal:
        return refusal
