"""The certificate rules against a small independent model, driven by a hypothesis state machine.

Each example gets a database of its own, a frozen clock and a cast of members whose ids,
keys and nonces are the same in every run (two core enterprises, three suppliers, a bank,
all consenting to netting), so what it draws never depends on anything outside the model
and an example replays identically. It runs random issue / accept / reject /
cancel / transfer commands, trade obligations between members (registered, confirmed,
claimed paid by the debtor and confirmed or disputed by the creditor), netting runs, clock jumps
past the pending deadline and sweeps. Every command is a real Ed25519-signed
envelope through :meth:`Ledger.execute`. Before each one the model says, from its own
reading of the rules, whether it must succeed or which refusal it must get; a refusal
must leave the journal head where it was (except ``certificate-expired``, which records
the expiry it found). Receipts only teach the model the ids of the pieces it predicted.

A netting run's plan comes from the engine, so the model checks it instead of predicting
it: every reduction within its debt, every net position unchanged, the total cleared
equal to a linear program's optimum on the model's own debt graph. Then the model applies
the plan by its own reading of the rule (earliest due first, a piece cleared in part
split into a settled and a live part) and must agree with the database row by row.

After every step the database — not the model — is checked: each piece matches the
model; every live root's non-terminal pieces plus what was settled add up to its face;
no piece is consumed twice and every consumption conserves value; each issuer's
outstanding amount is the face of its live roots less what was settled; no invoice backs
more than itself.
After each example ``Ledger.verify`` replays the whole journal and must rebuild the
stored projections, and ``dcc verify`` must agree.

Time moves only forward, in jumps of eight days (past the default seven-day pending
deadline): a pending piece is due exactly when a jump happened after it was created.
The clock is frozen between jumps, so whether a certificate has matured is exact.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.certificates import Certificate
from ledger.credit import IssuanceLimit
from ledger.db import make_engine
from ledger.errors import Refusal
from ledger.invoices import Invoice, InvoiceKey
from ledger.obligations import Obligation
from ledger.repository import Repository
from ledger.service import Ledger, Receipt
from ledger.settings import Settings
from ledger.signing import sign_command
from tests.conftest import (
    PROFILE,
    Actor,
    Clock,
    Template,
    business_date,
    fresh_database,
    seeded_actor,
)
from tests.unit.test_netting_setoff import lp_min_remaining_fen

# The model's own vocabulary, written out rather than imported from the rules under test.
PENDING, ACTIVE, SPENT, SETTLED = "pending", "active", "spent", "settled"
REJECTED, CANCELLED, EXPIRED = "rejected", "cancelled", "expired"
HOLDING_STATES = frozenset({PENDING, ACTIVE, "locked", "overdue"})
VOIDED_STATES = frozenset({REJECTED, CANCELLED, EXPIRED})  # a payment that did not happen
ENDED_STATES = frozenset({SPENT}) | VOIDED_STATES

JUMP_DAYS = 8  # one clock jump: past the seven-day pending deadline
MATURITY_DAYS_MAX = 365
ROOT_PIECES_MAX = 2_000  # a transfer that adds a piece: each at least face / this
TENORS_DAYS = (100, 20, 180, 365, 16)  # 16: matured after exactly two jumps
RARE_ONE_IN = 8  # how often a drawn choice is a deliberately wrong one
FLAWED_ONE_IN = 3  # how often a transfer's inputs or total are deliberately wrong
UNKNOWN_ID = "0" * 32
LIVE_OBLIGATIONS_MAX = 6
OPEN_OBLIGATION_STATES = ("pending", "confirmed", "settlement-claimed")
CONTRACT_NO = "HT-SM-1"
# Hypothesis profiles (tests/conftest.py): `make test` runs a fixed, derandomised set of
# examples; `make test-deep` many more, drawn at random.
EXAMPLES = 200 if PROFILE == "deep" else 25
STEPS = 80 if PROFILE == "deep" else 50
T = TypeVar("T")


class _Conflict(Exception):
    """The model's prediction of an invoice-conflict, found deep in an attribution."""


def _pick(
    data: st.DataObject,
    usual: Sequence[T],
    rare: Sequence[T] = (),
    label: str = "",
    one_in: int = RARE_ONE_IN,
) -> T:
    """Mostly one of ``usual``; one time in ``one_in`` one of ``rare``, if there are any."""
    # sampled_from draws near-uniformly (st.integers favours its bounds) and shrinks to usual.
    odds = st.sampled_from([False] * (one_in - 1) + [True])
    is_rare = bool(rare) and data.draw(odds, label=f"{label} is rare")
    return data.draw(st.sampled_from(rare if is_rare else usual), label=label)


def _wire(amount_fen: int) -> str:
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def _fen(amount: str) -> int:
    yuan, _, cents = amount.partition(".")
    return int(yuan) * 100 + int(cents.ljust(2, "0"))


Uses = tuple[tuple[str, int], ...]
InvoiceOf = tuple[str, str, str]  # (buyer, seller, number): an invoice belongs to its trade
Shape = tuple[str, str, str, str | None, int, str, int, tuple[str, ...], Uses]


@dataclass
class Piece:
    """The model's certificate piece."""

    id: str
    root_id: str
    issuer: str
    holder: str  # a pending piece's recipient
    sender: str | None
    amount_fen: int
    state: str
    level: int
    parent_ids: tuple[str, ...]
    uses: Uses  # the invoice slices that back this payment
    epoch: int  # clock jumps before it was created: pending, it is due after the next one

    @property
    def is_root(self) -> bool:
        return self.id == self.root_id

    def shape(self) -> Shape:
        return (
            self.root_id,
            self.issuer,
            self.holder,
            self.sender,
            self.amount_fen,
            self.state,
            self.level,
            self.parent_ids,
            self.uses,
        )


@dataclass(frozen=True)
class Root:
    issuer: str
    epoch: int  # clock jumps before its issue
    tenor_days: int
    maturity: str  # ISO date: when its pieces fall due, for netting's order
    face_fen: int  # its amount when issued


@dataclass
class ModelObligation:
    id: str
    debtor: str
    creditor: str
    outstanding_fen: int
    due_date: str
    state: str
    claimed_fen: int = 0  # a payment the debtor claims and the creditor has not answered


@dataclass
class ModelInvoice:
    amount_fen: int
    used_fen: int


def _stored_shape(c: Certificate) -> Shape:
    uses = tuple((use.no, use.amount_fen) for use in c.invoice_uses)
    return (
        c.root_id,
        c.issuer,
        c.holder,
        c.sender,
        c.amount_fen,
        c.state,
        c.level,
        c.parent_ids,
        uses,
    )


def _wire_shape(w: dict[str, Any]) -> Shape:
    uses = tuple((use["no"], _fen(use["amount"])) for use in w["invoice_uses"])
    return (
        w["root_id"],
        w["issuer"],
        w["holder"],
        w["sender"],
        _fen(w["amount"]),
        w["state"],
        w["level"],
        tuple(w["parent_ids"]),
        uses,
    )


@dataclass(frozen=True)
class Snapshot:
    pieces: dict[str, Certificate]
    limits: dict[str, IssuanceLimit]
    invoices: dict[InvoiceKey, Invoice]
    obligations: dict[str, Obligation]
    head_seq: int


def _snapshot(
    repo: Repository,
    roots: list[str],
    cores: list[str],
    invoice_keys: list[InvoiceOf],
    obligation_ids: list[str],
) -> Snapshot:
    pieces = {piece.id: piece for root in roots for piece in repo.tree(root)}
    obligations = {i: found for i in obligation_ids if (found := repo.obligation(i)) is not None}
    head = repo.head()
    assert head is not None
    return Snapshot(
        pieces,
        repo.issuance_limits(cores),
        repo.invoices(InvoiceKey(*key) for key in invoice_keys),
        obligations,
        head.seq,
    )


class CertificateMachine(RuleBasedStateMachine):
    def __init__(self, template: Template, directory: Path) -> None:
        super().__init__()
        # Everything this example touches is its own and starts the same in every run.
        self.resources = ExitStack()
        self.database_url = self.resources.enter_context(fresh_database(template, directory))
        self.engine = make_engine(self.database_url)
        self.resources.callback(self.engine.dispose)
        self.clock = Clock()
        self.ledger = Ledger(self.engine, Settings(), clock=self.clock)
        _check_assumptions(self.ledger.settings)
        self.cast = (seeded_actor(number) for number in itertools.count(1))
        self.nonces = itertools.count(1)
        self.operator = next(self.cast)
        genesis = self.ledger.genesis(
            self.operator.id, "Platform operator", self.operator.public_key, salt="0" * 32
        )
        assert genesis.seq == 1, genesis
        self.invoice_numbers = itertools.count(1)
        self.epoch = 0
        self.pieces: dict[str, Piece] = {}  # insertion order is creation order
        self.roots: dict[str, Root] = {}
        self.invoices: dict[InvoiceOf, ModelInvoice] = {}
        self.seq = genesis.seq
        self.actors: dict[str, Actor] = {}
        self.roles: dict[str, str] = {}
        self.cores = [self._admit("core") for _ in range(2)]
        self.suppliers = [self._admit("supplier") for _ in range(3)]
        self.bank = self._admit("bank")
        self.holders = [*self.cores, *self.suppliers, self.bank]
        self.outsider = next(self.cast).id  # a well-formed id that was never admitted
        self.limits = dict.fromkeys(self.cores, 0)
        self.outstanding = dict.fromkeys(self.cores, 0)
        self.obligations: dict[str, ModelObligation] = {}
        for member in self.holders:  # everyone takes part in netting
            body = {"consent": True}
            assert self._submit(self.actors[member], "member.netting_consent", body, None)

    # -- talking to the ledger -----------------------------------------------------------

    def _admit(self, role: str) -> str:
        actor = next(self.cast)
        body = {
            "id": actor.id,
            "name": f"{role} {actor.id[-6:]}",
            "roles": [role],
            "public_key": actor.public_key,
        }
        receipt = self._submit(self.operator, "member.admit", body, None)
        assert receipt is not None
        self.actors[actor.id], self.roles[actor.id] = actor, role
        return actor.id

    def _submit(
        self, signer: Actor, command_type: str, body: dict[str, Any], expected: str | None
    ) -> Receipt | None:
        """Execute one signed command; check it succeeded or was refused as predicted."""
        envelope = sign_command(
            signer.key,
            signer.id,
            command_type,
            body,
            issued_at=self.clock(),
            nonce=f"state-machine-{next(self.nonces):08d}",
            ledger=self.ledger.ledger_id(),
        )
        try:
            receipt = self.ledger.execute(envelope)
        except Refusal as refusal:
            assert refusal.type == expected, (
                f"{command_type} refused {refusal.type} ({refusal.detail}); "
                f"the model expected {expected or 'success'}"
            )
            # A refusal writes nothing, except the expiry a touched piece turned out to need.
            self.seq += 1 if expected == "certificate-expired" else 0
            self._check_head()
            return None
        assert expected is None, f"{command_type} succeeded; the model expected {expected}"
        self.seq += 1
        assert receipt.seq == self.seq and not receipt.replayed, receipt
        return receipt

    def _check_head(self) -> None:
        head = self.ledger.head()
        assert head is not None and head.seq == self.seq, (head, self.seq)

    def _entry_certificates(self, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        def view(repo: Repository) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for seq in range(first_seq, last_seq + 1):
                stored = repo.entry(seq)
                assert stored is not None and stored.type == "certificate.expire", stored
                found.extend(stored.entry.effects.get("certificates", []))
            return found

        return self.ledger.read(view)

    def _learn_ids(self, created_wire: Iterable[dict[str, Any]], new: list[Piece]) -> None:
        """Give the model's predicted new pieces the ids the ledger derived for them."""
        created = [
            w for w in created_wire if w["root_id"] in self.roots and w["id"] not in self.pieces
        ]
        assert len(created) == len(new), (created, new)
        for piece in new:
            match = next((w for w in created if _wire_shape(w) == piece.shape()), None)
            assert match is not None, f"no created certificate is {piece}: {created}"
            created.remove(match)
            piece.id = match["id"]
            self.pieces[piece.id] = piece

    # -- the model's rules -----------------------------------------------------------------

    def _new_invoice(self, amount_fen: int) -> tuple[str, int]:
        # In normal form (upper case, no separators), as the ledger records it.
        return (f"SMN{next(self.invoice_numbers):05d}", amount_fen)

    def _due(self, piece: Piece) -> bool:
        return piece.state == PENDING and piece.epoch < self.epoch

    def _matured(self, root: Root) -> bool:
        return JUMP_DAYS * (self.epoch - root.epoch) >= root.tenor_days

    def _attribute(
        self, buyer: str, cited: list[tuple[str, int]], payments: list[tuple[str, int]]
    ) -> tuple[str | None, list[Uses]]:
        """Fill each payment (seller, amount), in order, from what is left of the cited
        invoices, in order. An invoice has one seller: a number this buyer already holds
        for one seller backs nothing paid to another, and within one command each
        invoice goes to the first payment that draws on it. A single seller's command
        registers every invoice it cites, so a number of another seller is a conflict."""
        owner = {no: seller for (b, seller, no) in self.invoices if b == buyer}
        left_fen: dict[InvoiceOf, int] = {}

        def room(seller: str, no: str, amount_fen: int) -> int | None:
            """What is left of ``no`` for ``seller``; None when it is another's;
            raises a conflict when registered with another amount."""
            if owner.setdefault(no, seller) != seller:
                return None
            key = (buyer, seller, no)
            if key not in left_fen:
                known = self.invoices.get(key)
                if known is not None and known.amount_fen != amount_fen:
                    raise _Conflict
                left_fen[key] = amount_fen - (known.used_fen if known else 0)
            return left_fen[key]

        sellers = list(dict.fromkeys(seller for seller, _ in payments))
        uses: list[Uses] = []
        try:
            if len(sellers) == 1 and any(room(sellers[0], no, a) is None for no, a in cited):
                return "invoice-conflict", []
            for seller, payment_fen in payments:
                slices: list[tuple[str, int]] = []
                for no, amount_fen in cited:
                    if payment_fen == 0:
                        break
                    take_fen = min(payment_fen, room(seller, no, amount_fen) or 0)
                    if take_fen > 0:
                        slices.append((no, take_fen))
                        left_fen[(buyer, seller, no)] -= take_fen
                        payment_fen -= take_fen
                if payment_fen > 0:
                    return "invoice-overused", []
                uses.append(tuple(slices))
        except _Conflict:
            return "invoice-conflict", []
        return None, uses

    def _use_invoices(
        self,
        buyer: str,
        cited: list[tuple[str, int]],
        payments: list[tuple[str, int]],
        uses: list[Uses],
    ) -> None:
        sellers = list(dict.fromkeys(seller for seller, _ in payments))
        if len(sellers) == 1:  # one trade registers every invoice it cites
            for no, amount_fen in cited:
                self.invoices.setdefault((buyer, sellers[0], no), ModelInvoice(amount_fen, 0))
        amounts = dict(cited)
        for (seller, _), payment in zip(payments, uses, strict=True):
            for no, amount_fen in payment:
                invoice = self.invoices.setdefault(
                    (buyer, seller, no), ModelInvoice(amounts[no], 0)
                )
                invoice.used_fen += amount_fen

    def _give_back(self, piece: Piece, end_state: str) -> Piece | None:
        """End a pending piece; a voided root frees the limit, any other returns its value."""
        assert piece.state == PENDING, piece
        piece.state = end_state
        assert piece.sender is not None, piece  # a pending piece's payer: the invoices' buyer
        for no, amount_fen in piece.uses:
            self.invoices[(piece.sender, piece.holder, no)].used_fen -= amount_fen
        if piece.is_root:
            self.outstanding[piece.issuer] -= piece.amount_fen
            return None
        assert piece.sender is not None, piece
        return Piece(
            id="",
            root_id=piece.root_id,
            issuer=piece.issuer,
            holder=piece.sender,
            sender=None,
            amount_fen=piece.amount_fen,
            state=ACTIVE,
            level=piece.level - 1,
            parent_ids=(piece.id,),
            uses=(),
            epoch=self.epoch,
        )

    def _predict_issue(
        self, issuer: str, to: str, amount_fen: int, tenor_days: int, cited: list[tuple[str, int]]
    ) -> tuple[str | None, list[Uses]]:
        if self.roles[issuer] != "core":
            return "forbidden", []
        if to == self.outsider:
            return "recipient-not-admitted", []
        if to == issuer:
            return "recipient-is-issuer", []
        if not 1 <= tenor_days <= MATURITY_DAYS_MAX:
            return "maturity-out-of-range", []
        if self.outstanding[issuer] + amount_fen > self.limits[issuer]:
            return "issuance-limit-exceeded", []
        return self._attribute(issuer, cited, [(to, amount_fen)])

    @staticmethod
    def _is_party(piece: Piece, member: str) -> bool:
        """Who may know a piece exists: its holder, issuer or sender."""
        return member in (piece.holder, piece.issuer, piece.sender)

    def _predict_answer(self, piece: Piece | None, signer: str) -> str | None:
        """Accept and reject: only the recipient of a pending piece, before its deadline."""
        if piece is None or not self._is_party(piece, signer):  # a stranger: as if absent
            return "certificate-not-found"
        if piece.holder != signer:
            return "not-holder"
        if piece.state != PENDING:
            return "not-pending"
        if self._due(piece):
            return "certificate-expired"
        return None

    def _predict_cancel(self, piece: Piece, signer: str) -> str | None:
        if self.roles[signer] != "core":
            return "forbidden"
        if signer not in (piece.issuer, piece.holder):
            return "certificate-not-found"
        if piece.issuer != signer:
            return "not-issuer"
        if not piece.is_root or piece.state != PENDING:
            return "not-pending"
        if self._due(piece):
            return "certificate-expired"
        return None

    def _predict_transfer(
        self,
        signer: str,
        inputs: list[str],
        outputs: list[tuple[str, int]],
        cited: list[tuple[str, int]],
    ) -> tuple[str | None, list[Uses]]:
        if len(set(inputs)) != len(inputs):
            return "duplicate-input", []
        for certificate_id in inputs:
            piece = self.pieces.get(certificate_id)
            if piece is None or not self._is_party(piece, signer):  # a stranger: as if absent
                return "certificate-not-found", []
            if piece.state == PENDING and signer in (piece.holder, piece.sender):
                # Nobody may spend a pending piece; touching one past its deadline ends it.
                return ("certificate-expired" if self._due(piece) else "not-spendable"), []
            if piece.holder != signer:
                return "not-holder", []
            if piece.state != ACTIVE:
                return "not-spendable", []
        pieces = [self.pieces[i] for i in inputs]
        if len({p.root_id for p in pieces}) > 1:
            return "mixed-roots", []
        root = self.roots[pieces[0].root_id]
        if self._matured(root):
            return "certificate-matured", []
        if sum(amount for _, amount in outputs) > sum(p.amount_fen for p in pieces):
            return "insufficient-amount", []
        # A transfer that adds a piece makes every piece at least a ROOT_PIECES_MAX-th of
        # the root's face, rounded up (the smallest piece, PIECE_FEN_MIN, is 1 fen here).
        change_fen = sum(p.amount_fen for p in pieces) - sum(amount for _, amount in outputs)
        smallest_fen = min([amount for _, amount in outputs] + ([change_fen] if change_fen else []))
        root_min_fen = -(-root.face_fen // ROOT_PIECES_MAX)
        if (len(outputs) > 1 or change_fen) and smallest_fen < root_min_fen:
            return "root-pieces-exceeded", []
        paid = [(to, amount) for to, amount in outputs if to != signer]
        for to, _ in paid:
            if to == self.outsider:
                return "recipient-not-admitted", []
            if to == root.issuer:
                return "recipient-is-issuer", []
        return self._attribute(signer, cited, paid)

    # -- drawing commands --------------------------------------------------------------------

    def _draw_trade(self, data: st.DataObject, buyer: str, paid_fen: int) -> list[tuple[str, int]]:
        """The invoices a payment cites: usually enough, sometimes short, reused or wrong."""
        if paid_fen == 0:
            return [self._new_invoice(100)] if data.draw(st.booleans(), label="cite") else []
        plan = _pick(
            data,
            ["exact", "ample", "split", "reuse+fresh"],
            ["short", "none", "reuse", "conflict"],
            label="invoices",
        )
        # The buyer's own invoices are the ones a reuse can exhaust or contradict.
        known = [key for key in self.invoices if key[0] == buyer] or list(self.invoices)
        if plan.startswith("reuse") or plan == "conflict":
            if not known:
                return [self._new_invoice(paid_fen)]
            key = data.draw(st.sampled_from(known), label="reused invoice")
            no, amount_fen = key[2], self.invoices[key].amount_fen
            if plan == "conflict":
                return [(no, amount_fen + 1)]
            if plan == "reuse+fresh":
                return [(no, amount_fen), self._new_invoice(paid_fen)]
            return [(no, amount_fen)]
        if plan == "ample":
            return [self._new_invoice(paid_fen + data.draw(st.integers(1, 10_000)))]
        if plan == "none":
            return []
        if plan in ("split", "short") and paid_fen >= 2:
            part_fen = data.draw(st.integers(1, paid_fen - 1), label="part_fen")
            rest = [self._new_invoice(paid_fen - part_fen)] if plan == "split" else []
            return [self._new_invoice(part_fen), *rest]
        return [self._new_invoice(paid_fen)]

    def _draw_trades(
        self, data: st.DataObject, buyer: str, paid: list[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """A transfer's invoices: an invoice has one seller, so each seller's trade draws
        its own (a number drawn twice is cited once)."""
        per_seller: dict[str, int] = {}
        for seller, amount_fen in paid:
            per_seller[seller] = per_seller.get(seller, 0) + amount_fen
        cited: list[tuple[str, int]] = []
        for paid_fen in per_seller.values() or [0]:
            for no, amount_fen in self._draw_trade(data, buyer, paid_fen):
                if all(no != other for other, _ in cited):
                    cited.append((no, amount_fen))
        return cited

    def _draw_flaw(self, data: st.DataObject, signer: str, first: Piece, inputs: list[str]) -> str:
        """Sometimes spoil a transfer (its inputs, in place, or its total); the flaw drawn."""
        flaw = _pick(
            data,
            ["none"],
            ["spent", "pending", "sent", "foreign", "mixed", "duplicate", "unknown", "too-much"],
            label="flaw",
            one_in=FLAWED_ONE_IN,
        )
        pieces = list(self.pieces.values())
        candidates = {
            "spent": [p.id for p in pieces if p.holder == signer and p.state in ENDED_STATES],
            "pending": [p.id for p in pieces if p.holder == signer and p.state == PENDING],
            "sent": [p.id for p in pieces if p.sender == signer and p.state == PENDING],
            "foreign": [p.id for p in pieces if p.holder != signer],
            "mixed": [
                p.id
                for p in pieces
                if p.holder == signer and p.state == ACTIVE and p.root_id != first.root_id
            ],
            "duplicate": list(inputs),
            "unknown": [UNKNOWN_ID],
        }.get(flaw)
        if candidates:
            spoiler = data.draw(st.sampled_from(candidates), label=f"{flaw} input")
            inputs.insert(data.draw(st.integers(0, len(inputs)), label="at"), spoiler)
        return flaw

    def _draw_outputs(
        self, data: st.DataObject, signer: str, issuer: str, total_in_fen: int, over: bool
    ) -> list[tuple[str, int]]:
        """Up to three outputs, to others and/or the signer, splitting a random total."""
        if over:
            total_fen = total_in_fen + data.draw(st.integers(1, 100_00), label="excess_fen")
        else:
            total_fen = data.draw(
                st.one_of(st.just(total_in_fen), st.integers(1, total_in_fen)), label="total_fen"
            )
        count = min(data.draw(st.integers(1, 3), label="outputs"), total_fen)
        cuts = sorted(
            data.draw(
                st.lists(
                    st.integers(1, max(1, total_fen - 1)),
                    unique=True,
                    min_size=count - 1,
                    max_size=count - 1,
                ),
                label="cuts",
            )
        )
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, total_fen], strict=True)]
        others = [m for m in self.holders if m not in (signer, issuer)]
        usual = [*others, signer]
        return [(_pick(data, usual, [issuer, self.outsider], label="to"), a) for a in amounts]

    # -- rules -----------------------------------------------------------------------------

    @initialize(
        limit_fen=st.integers(1_000_00, 20_000_00), second_limit_fen=st.integers(0, 3_000_00)
    )
    def set_limits(self, limit_fen: int, second_limit_fen: int) -> None:
        for core, amount_fen in zip(self.cores, (limit_fen, second_limit_fen), strict=True):
            body = {"member": core, "amount": _wire(amount_fen)}
            assert self._submit(self.operator, "limit.set", body, None) is not None
            self.limits[core] = amount_fen

    @rule(data=st.data())
    def issue(self, data: st.DataObject) -> None:
        issuer = _pick(data, self.cores, [self.suppliers[0]], label="issuer")
        others = [m for m in self.holders if m != issuer]
        to = _pick(data, others, [issuer, self.outsider], label="to")
        amount_fen = data.draw(st.integers(1, 5_000_00), label="amount_fen")
        # A tenor of 0 is refused (maturity-out-of-range) whatever the time of day.
        tenor_days = _pick(data, TENORS_DAYS, [0], label="tenor_days")
        cited = self._draw_trade(data, issuer, amount_fen)
        expected, uses = self._predict_issue(issuer, to, amount_fen, tenor_days, cited)
        maturity = business_date(self.clock, tenor_days)
        body = {
            "to": to,
            "amount": _wire(amount_fen),
            "maturity": maturity,
            "trade": {
                "contract_no": CONTRACT_NO,
                "invoices": [{"no": no, "amount": _wire(a)} for no, a in cited],
            },
        }
        receipt = self._submit(self.actors[issuer], "certificate.issue", body, expected)
        if receipt is None:
            return
        [created] = receipt.effects["certificates"]
        root = Piece(
            id=created["id"],
            root_id=created["id"],
            issuer=issuer,
            holder=to,
            sender=issuer,
            amount_fen=amount_fen,
            state=PENDING,
            level=1,
            parent_ids=(),
            uses=uses[0],
            epoch=self.epoch,
        )
        assert _wire_shape(created) == root.shape(), (created, root)
        self.pieces[root.id] = root
        self.roots[root.id] = Root(issuer, self.epoch, tenor_days, maturity, amount_fen)
        self.outstanding[issuer] += amount_fen
        self._use_invoices(issuer, cited, [(to, amount_fen)], uses)

    @precondition(lambda self: any(p.state == PENDING for p in self.pieces.values()))
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        """A pending piece is accepted (mostly), rejected or cancelled — or someone tries to.

        One rule, so that reject and cancel, which end pieces, are drawn less often than
        accept, which lets value move on.
        """
        command_type = _pick(
            data, ["accept", "accept", "accept", "reject", "cancel"], label="command"
        )
        if command_type == "cancel":
            self._cancel(data)
        else:
            self._accept_or_reject(data, f"certificate.{command_type}")

    def _accept_or_reject(self, data: st.DataObject, command_type: str) -> None:
        pending: list[Piece | None] = [p for p in self.pieces.values() if p.state == PENDING]
        piece = _pick(data, pending, [*self.pieces.values(), None], label="piece")
        holder = piece.holder if piece is not None else self.suppliers[0]
        signer = _pick(data, [holder], self.holders, label="signer")
        expected = self._predict_answer(piece, signer)
        body = {"id": piece.id if piece is not None else UNKNOWN_ID}
        receipt = self._submit(self.actors[signer], command_type, body, expected)
        if expected == "certificate-expired":
            assert piece is not None
            self._expired_on_touch(piece)
        if receipt is None:
            return
        assert piece is not None
        if command_type == "certificate.accept":
            piece.state, piece.sender = ACTIVE, None
            return
        returned = self._give_back(piece, REJECTED)
        self._learn_ids(receipt.effects["certificates"], [returned] if returned else [])

    def _cancel(self, data: st.DataObject) -> None:
        pending_roots = [p for p in self.pieces.values() if p.is_root and p.state == PENDING]
        anything = list(self.pieces.values())
        piece = _pick(data, pending_roots or anything, anything, label="piece")
        other_core = next(c for c in self.cores if c != piece.issuer)
        signers = [other_core, piece.holder, self.suppliers[0]]
        signer = _pick(data, [piece.issuer], signers, label="signer")
        expected = self._predict_cancel(piece, signer)
        receipt = self._submit(
            self.actors[signer], "certificate.cancel", {"id": piece.id}, expected
        )
        if expected == "certificate-expired":
            self._expired_on_touch(piece)
        if receipt is not None:
            assert self._give_back(piece, CANCELLED) is None

    @precondition(lambda self: any(p.state == ACTIVE for p in self.pieces.values()))
    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        active = [p for p in self.pieces.values() if p.state == ACTIVE]
        first = data.draw(st.sampled_from(active), label="first input")
        signer = first.holder
        same = [p.id for p in active if p.holder == signer and p.root_id == first.root_id]
        same.remove(first.id)
        extra = data.draw(st.lists(st.sampled_from(same), unique=True, max_size=3)) if same else []
        inputs = [first.id, *extra]
        flaw = self._draw_flaw(data, signer, first, inputs)
        total_in_fen = sum(self.pieces[i].amount_fen for i in set(inputs) if i in self.pieces)
        outputs = self._draw_outputs(data, signer, first.issuer, total_in_fen, flaw == "too-much")
        paid = [(to, a) for to, a in outputs if to != signer]
        cited = self._draw_trades(data, signer, paid)
        expected, uses = self._predict_transfer(signer, inputs, outputs, cited)
        body = {
            "inputs": inputs,
            "outputs": [{"to": to, "amount": _wire(a)} for to, a in outputs],
            "trade": {
                "contract_no": CONTRACT_NO,
                "invoices": [{"no": no, "amount": _wire(a)} for no, a in cited],
            },
        }
        receipt = self._submit(self.actors[signer], "certificate.transfer", body, expected)
        if expected == "certificate-expired":
            self._expired_on_touch(self._first_touched(signer, inputs))
        if receipt is None:
            return
        self._apply_transfer(signer, inputs, outputs, uses, receipt)
        self._use_invoices(signer, cited, paid, uses)

    # Hypothesis draws among the enabled rules uniformly; value moving on is the heart of
    # the product, so transfers get three rules' share (the netting rules took steps).
    @precondition(lambda self: any(p.state == ACTIVE for p in self.pieces.values()))
    @rule(data=st.data())
    def transfer_more(self, data: st.DataObject) -> None:
        self.transfer(data)

    @precondition(lambda self: any(p.state == ACTIVE for p in self.pieces.values()))
    @rule(data=st.data())
    def transfer_again(self, data: st.DataObject) -> None:
        self.transfer(data)

    def _first_touched(self, signer: str, inputs: list[str]) -> Piece:
        """The input whose expiry refused a transfer: the first pending one of the signer's."""
        return next(
            self.pieces[i]
            for i in inputs
            if i in self.pieces
            and self.pieces[i].state == PENDING
            and signer in (self.pieces[i].holder, self.pieces[i].sender)
        )

    def _apply_transfer(
        self,
        signer: str,
        inputs: list[str],
        outputs: list[tuple[str, int]],
        uses: list[Uses],
        receipt: Receipt,
    ) -> None:
        pieces = [self.pieces[i] for i in inputs]
        base = max(p.level for p in pieces)
        first = pieces[0]
        paid_uses = iter(uses)
        new: list[Piece] = []
        change_fen = sum(p.amount_fen for p in pieces) - sum(a for _, a in outputs)
        for to, amount_fen in [*outputs, *([(signer, change_fen)] if change_fen else [])]:
            own = to == signer
            new.append(
                Piece(
                    id="",
                    root_id=first.root_id,
                    issuer=first.issuer,
                    holder=to,
                    sender=None if own else signer,
                    amount_fen=amount_fen,
                    state=ACTIVE if own else PENDING,
                    level=base if own else base + 1,
                    parent_ids=tuple(inputs),
                    uses=() if own else next(paid_uses),
                    epoch=self.epoch,
                )
            )
        for piece in pieces:
            piece.state = SPENT
        self._learn_ids(receipt.effects["certificates"], new)

    def _expired_on_touch(self, piece: Piece) -> None:
        """The refused command's expiry of ``piece`` is the entry just written."""
        returned = self._give_back(piece, EXPIRED)
        created = self._entry_certificates(self.seq, self.seq)
        assert [w["id"] for w in created if w["state"] == EXPIRED] == [piece.id], created
        self._learn_ids(created, [returned] if returned else [])

    @precondition(lambda self: any(p.state == PENDING for p in self.pieces.values()))
    @rule(sweep=st.booleans())
    def time_passes(self, sweep: bool) -> None:
        self.clock.advance(days=JUMP_DAYS)
        self.epoch += 1
        if sweep:
            self._sweep()

    @precondition(lambda self: any(self._due(p) for p in self.pieces.values()))
    @rule()
    def sweep(self) -> None:
        self._sweep()

    def _sweep(self) -> None:
        due = [p for p in self.pieces.values() if self._due(p)]
        written = self.ledger.sweep_all()
        assert written == (1 if due else 0), (written, due)  # one entry expires them all
        created = self._entry_certificates(self.seq + 1, self.seq + written)
        self.seq += written
        self._check_head()
        expired = {w["id"] for w in created if w["state"] == EXPIRED} & set(self.pieces)
        assert expired == {p.id for p in due}, (expired, due)
        returned = [self._give_back(p, EXPIRED) for p in due]
        self._learn_ids(created, [r for r in returned if r is not None])

    def _few_debts(self) -> bool:
        """Obligations are cheap to draw and always possible; capped, so that the steps of
        an example mostly move certificates."""
        live = [o for o in self.obligations.values() if o.state in OPEN_OBLIGATION_STATES]
        return len(live) < LIVE_OBLIGATIONS_MAX

    @precondition(lambda self: self._few_debts())
    @rule(data=st.data())
    def owe(self, data: st.DataObject) -> None:
        """A trade payable between any two members."""
        anyone = [(d, c) for d in self.holders for c in self.holders if d != c]
        debtor, creditor = data.draw(st.sampled_from(anyone), label="parties")
        amount_fen = data.draw(st.integers(1, 3_000_00), label="obligation_fen")
        self._owe(data, debtor, creditor, amount_fen)

    @precondition(
        lambda self: self._few_debts() and any(p.state == ACTIVE for p in self.pieces.values())
    )
    @rule(data=st.data())
    def owe_back(self, data: st.DataObject) -> None:
        """A holder of live paper owes its issuer (for other goods): a cycle to net, by an
        amount below, at or above the piece's."""
        active = [p for p in self.pieces.values() if p.state == ACTIVE]
        piece = data.draw(st.sampled_from(active), label="piece owed back on")
        face_fen = piece.amount_fen
        amount_fen = data.draw(
            st.one_of(
                st.integers(1, max(face_fen - 1, 1)),  # the piece will be split when netted
                st.just(face_fen),
                st.integers(face_fen + 1, 2 * face_fen),
            ),
            label="obligation_fen",
        )
        self._owe(data, piece.holder, piece.issuer, amount_fen)

    def _owe(self, data: st.DataObject, debtor: str, creditor: str, amount_fen: int) -> None:
        """Register an obligation; the creditor usually confirms it."""
        due_date = business_date(self.clock, data.draw(st.integers(1, 90), label="due in"))
        body = {
            "creditor": creditor,
            "amount": _wire(amount_fen),
            "due_date": due_date,
            "reference": "PO-SM",
        }
        receipt = self._submit(self.actors[debtor], "obligation.register", body, None)
        assert receipt is not None
        [created] = receipt.effects["obligations"]
        owed = ModelObligation(created["id"], debtor, creditor, amount_fen, due_date, "pending")
        self.obligations[owed.id] = owed
        if data.draw(st.sampled_from([True, True, True, False]), label="confirmed"):
            assert self._submit(self.actors[creditor], "obligation.confirm", {"id": owed.id}, None)
            owed.state = "confirmed"

    @precondition(lambda self: any(o.state == "confirmed" for o in self.obligations.values()))
    @rule(data=st.data())
    def claim_payment(self, data: st.DataObject) -> None:
        """A debtor says it paid (all or part); somebody else sometimes tries instead."""
        owed = data.draw(
            st.sampled_from([o for o in self.obligations.values() if o.state == "confirmed"]),
            label="obligation",
        )
        stranger = next(m for m in self.holders if m not in (owed.debtor, owed.creditor))
        signer = _pick(data, [owed.debtor], [owed.creditor, stranger], label="claimant")
        amount_fen = _pick(
            data,
            [owed.outstanding_fen, max(1, owed.outstanding_fen // 2)],
            [owed.outstanding_fen + 1],
            label="claimed_fen",
        )
        body = {"id": owed.id, "payment_ref": "TX-SM", "amount": _wire(amount_fen)}
        expected = (
            "obligation-not-found"
            if signer == stranger
            else "forbidden"
            if signer != owed.debtor
            else "settlement-too-large"
            if amount_fen > owed.outstanding_fen
            else None
        )
        if self._submit(self.actors[signer], "obligation.settle", body, expected) is not None:
            owed.state, owed.claimed_fen = "settlement-claimed", amount_fen

    @precondition(
        lambda self: any(o.state == "settlement-claimed" for o in self.obligations.values())
    )
    @rule(data=st.data())
    def answer_claim(self, data: st.DataObject) -> None:
        """The creditor confirms a claimed payment (the debt goes down) or disputes it (the
        debt stands); the debtor cannot answer its own claim."""
        claimed = [o for o in self.obligations.values() if o.state == "settlement-claimed"]
        owed = data.draw(st.sampled_from(claimed), label="obligation")
        confirm = data.draw(st.sampled_from([True, True, False]), label="confirm")
        signer = _pick(data, [owed.creditor], [owed.debtor], label="answerer")
        command_type = f"obligation.{'confirm' if confirm else 'dispute'}_settlement"
        expected = None if signer == owed.creditor else "forbidden"
        if self._submit(self.actors[signer], command_type, {"id": owed.id}, expected) is None:
            return
        if confirm:
            owed.outstanding_fen -= owed.claimed_fen
        owed.state = "settled" if owed.outstanding_fen == 0 else "confirmed"
        owed.claimed_fen = 0

    def _has_cycle(self) -> bool:
        return not nx.is_directed_acyclic_graph(self._debt_graph(self._netting_items()))

    @precondition(lambda self: self._has_cycle())  # an empty run is tested over HTTP
    @rule()
    def net(self) -> None:
        """The operator nets the debt graph; the model applies the plan by its own rule."""
        items = self._netting_items()
        before = self._debt_graph(items)
        body = {"mode": "setoff", "as_of": business_date(self.clock)}
        receipt = self._submit(self.operator, "netting.run", body, None)
        assert receipt is not None
        report = receipt.effects["netting"]
        reductions = [(r["debtor"], r["creditor"], _fen(r["amount"])) for r in report["reductions"]]
        # The plan, checked without the engine: within each debt, nets unchanged, optimal.
        cleared_fen = sum(amount_fen for _, _, amount_fen in reductions)
        moved: Counter[str] = Counter()
        for debtor, creditor, amount_fen in reductions:
            assert 0 < amount_fen <= before[debtor][creditor]["amount_fen"], (debtor, creditor)
            moved[debtor] += amount_fen
            moved[creditor] -= amount_fen
        assert not +moved and not -moved, moved  # every net position is unchanged
        gross_fen = sum(amount_fen for _, _, amount_fen in before.edges(data="amount_fen"))
        assert gross_fen - cleared_fen == lp_min_remaining_fen(before), report
        new = self._apply_setoff(items, reductions)
        self._learn_ids(receipt.effects["certificates"], new)

    def _netting_items(self) -> dict[tuple[str, str], list[tuple[str, int, str]]]:
        """Per debtor → creditor: (due date, kind, id) of what is owed, earliest due first;
        certificate pieces (kind 0) before obligations (kind 1) on the same day."""
        edges: dict[tuple[str, str], list[tuple[str, int, str]]] = defaultdict(list)
        for piece in self.pieces.values():
            if piece.state == ACTIVE:
                due = self.roots[piece.root_id].maturity
                edges[(piece.issuer, piece.holder)].append((due, 0, piece.id))
        for owed in self.obligations.values():
            if owed.state == "confirmed" and owed.outstanding_fen > 0:
                edges[(owed.debtor, owed.creditor)].append((owed.due_date, 1, owed.id))
        return {edge: sorted(found) for edge, found in edges.items()}

    def _debt_graph(self, items: dict[tuple[str, str], list[tuple[str, int, str]]]) -> nx.DiGraph:
        """The debts as a graph with ``amount_fen`` per edge, built from the model alone."""
        graph = nx.DiGraph()
        for (debtor, creditor), found in items.items():
            amount_fen = sum(
                self.obligations[i].outstanding_fen if kind else self.pieces[i].amount_fen
                for _, kind, i in found
            )
            graph.add_edge(debtor, creditor, amount_fen=amount_fen)
        return graph

    def _apply_setoff(
        self,
        items: dict[tuple[str, str], list[tuple[str, int, str]]],
        reductions: list[tuple[str, str, int]],
    ) -> list[Piece]:
        """Clear each reduction from its edge's items in order; the new pieces, in order."""
        new: list[Piece] = []
        for debtor, creditor, amount_fen in reductions:
            left_fen = amount_fen
            for _due, kind, item_id in items[(debtor, creditor)]:
                if left_fen == 0:
                    break
                if kind == 1:
                    owed = self.obligations[item_id]
                    take_fen = min(left_fen, owed.outstanding_fen)
                    owed.outstanding_fen -= take_fen
                    owed.state = "settled" if owed.outstanding_fen == 0 else owed.state
                else:
                    piece = self.pieces[item_id]
                    take_fen = min(left_fen, piece.amount_fen)
                    new += self._settle(piece, take_fen)
                    self.outstanding[piece.issuer] -= take_fen
                left_fen -= take_fen
            assert left_fen == 0, (debtor, creditor, amount_fen)
        return new

    def _settle(self, piece: Piece, take_fen: int) -> list[Piece]:
        """Settle ``take_fen`` of a piece: whole, or split into a settled and a live part."""
        if take_fen == piece.amount_fen:
            piece.state = SETTLED
            return []
        piece.state = SPENT
        parts = [(take_fen, SETTLED), (piece.amount_fen - take_fen, ACTIVE)]
        return [
            Piece(
                id="",
                root_id=piece.root_id,
                issuer=piece.issuer,
                holder=piece.holder,
                sender=None,
                amount_fen=amount_fen,
                state=state,
                level=piece.level,
                parent_ids=(piece.id,),
                uses=(),
                epoch=self.epoch,
            )
            for amount_fen, state in parts
        ]

    # -- the auditor -----------------------------------------------------------------------

    @invariant()
    def audit(self) -> None:
        snap = self.ledger.read(
            _snapshot, list(self.roots), self.cores, list(self.invoices), list(self.obligations)
        )
        self._database_agrees_with_the_model(snap)
        _value_is_conserved_and_spent_once(snap, self.cores)

    def _database_agrees_with_the_model(self, snap: Snapshot) -> None:
        assert snap.head_seq == self.seq, (snap.head_seq, self.seq)
        assert set(snap.pieces) == set(self.pieces), (set(snap.pieces) ^ set(self.pieces),)
        for piece_id, piece in self.pieces.items():
            assert _stored_shape(snap.pieces[piece_id]) == piece.shape(), (
                snap.pieces[piece_id],
                piece,
            )
        for core in self.cores:
            limit = snap.limits.get(core)
            assert limit is not None or self.limits[core] == 0, core
            if limit is not None:
                assert limit.limit_fen == self.limits[core], (limit, self.limits[core])
                assert limit.outstanding_fen == self.outstanding[core], limit
        for key, invoice in self.invoices.items():
            stored = snap.invoices[InvoiceKey(*key)]
            assert (stored.amount_fen, stored.used_fen) == (invoice.amount_fen, invoice.used_fen)
        for owed_id, owed in self.obligations.items():
            found = snap.obligations[owed_id]
            assert (found.debtor, found.creditor, found.outstanding_fen, found.state) == (
                owed.debtor,
                owed.creditor,
                owed.outstanding_fen,
                owed.state,
            ), (found, owed)

    def teardown(self) -> None:
        with self.resources:
            report = self.ledger.verify()
            assert report.ok, [str(p) for p in report.problems[:5]]
            assert report.entries == self.seq, (report.entries, self.seq)
            result = CliRunner().invoke(cli_app, ["verify", "--db", self.database_url])
            assert result.exit_code == 0, result.output
            assert result.output.startswith(f"ok: {self.seq} entries"), result.output


def _value_is_conserved_and_spent_once(snap: Snapshot, cores: list[str]) -> None:
    """Checked on the stored rows alone, whatever the model believes."""
    by_root: dict[str, list[Certificate]] = defaultdict(list)
    for piece in snap.pieces.values():
        by_root[piece.root_id].append(piece)
    live_face_fen: Counter[str] = Counter()
    for root_id, tree in by_root.items():
        root = snap.pieces[root_id]
        holding_fen = sum(
            p.amount_fen for p in tree if p.state in HOLDING_STATES or p.state == SETTLED
        )
        voided = root.state in VOIDED_STATES
        assert holding_fen == (0 if voided else root.amount_fen), (root, tree)
        if not voided:  # settled value is no longer outstanding against the issuer's limit
            settled_fen = sum(p.amount_fen for p in tree if p.state == SETTLED)
            live_face_fen[root.issuer] += root.amount_fen - settled_fen
        _check_lineage(tree)
    for core in cores:
        limit = snap.limits.get(core)
        outstanding_fen = limit.outstanding_fen if limit else 0
        assert outstanding_fen == live_face_fen[core], (core, outstanding_fen)
        assert limit is None or outstanding_fen <= limit.limit_fen, limit
    used_fen: Counter[InvoiceKey] = Counter()
    for piece in snap.pieces.values():
        if piece.state not in VOIDED_STATES:
            for use in piece.invoice_uses:
                used_fen[use.key] += use.amount_fen
    for key, invoice in snap.invoices.items():
        assert 0 <= invoice.used_fen <= invoice.amount_fen, invoice
        assert invoice.used_fen == used_fen[key], (invoice, used_fen[key])


def _check_lineage(tree: list[Certificate]) -> None:
    """Every piece is consumed at most once, by one transfer or one give-back, exactly.

    The pieces one command created share their ``parent_ids``: a transfer's outputs (whose
    parents are all spent, and which hold exactly what their parents held) or the one
    piece a rejection or an expiry returned (equal to the ended piece, one level down,
    back with its sender).
    """
    by_id = {p.id: p for p in tree}
    families: dict[tuple[str, ...], list[Certificate]] = defaultdict(list)
    for piece in tree:
        if piece.id != piece.root_id:
            families[piece.parent_ids].append(piece)
    consumed = Counter(parent for parents in families for parent in parents)
    assert max(consumed.values(), default=0) <= 1, consumed  # no piece consumed twice
    for parents, children in families.items():
        assert parents and all(p in by_id for p in parents), (parents, tree)
        ancestors = [by_id[p] for p in parents]
        if len(ancestors) == 1 and ancestors[0].state in (REJECTED, EXPIRED):
            [ended], [back] = ancestors, children
            assert (back.holder, back.amount_fen, back.level) == (
                ended.sender,
                ended.amount_fen,
                ended.level - 1,
            ), (ended, back)
            continue
        assert all(p.state == SPENT for p in ancestors), ancestors
        assert sum(c.amount_fen for c in children) == sum(p.amount_fen for p in ancestors)
    for piece in tree:
        # Value leaves a piece only by being consumed; a voided root leaves no value behind.
        must_be_consumed = piece.state == SPENT or (
            piece.state in (REJECTED, EXPIRED) and piece.id != piece.root_id
        )
        assert consumed[piece.id] == (1 if must_be_consumed else 0), (piece, consumed)


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_assumptions(configured: Settings) -> None:
    """The model assumes the default settings; refuse to run against anything else."""
    assert 3600 <= configured.pending_expiry_s < JUMP_DAYS * 24 * 3600, configured
    assert configured.maturity_days_max == MATURITY_DAYS_MAX, configured
    assert configured.root_pieces_max == ROOT_PIECES_MAX, configured
    assert configured.level_max == 0 and configured.piece_fen_min == 1, configured
    assert configured.outputs_max >= 3, configured


def test_random_certificate_traffic_keeps_the_ledger_and_the_model_in_step(
    template: Template, tmp_path: Path
) -> None:
    def machine() -> CertificateMachine:
        return CertificateMachine(template, tmp_path)

    run_state_machine_as_test(machine, settings=SETTINGS)  # type: ignore[arg-type]  # a factory
