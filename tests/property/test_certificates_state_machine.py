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

Discounting runs on the same model: banks' credit lines for core enterprises' paper,
the operator's tiers of suppliers, applications (a piece, or a part split off it, is
``locked``), the bank's approval or rejection, the applicant's cancellation and the
24-hour window. The quote read is checked against the model's own price before every
application it expects to go through (and a quote never says whether the line is full);
a line's ``used`` is checked against the approvals, and what awaits its bank is the face
of the applications still ``requested`` (it is not on the line's row). A command that
meets an application past its window is refused with its own type, and writes a
``financing.expire`` entry naming exactly the lapsed applications it met first: the
model predicts both. The ``FinancingMachine`` runs the same model without debts and
netting, so that its steps go to paper being issued, financed and decided.

Time moves only forward and the clock is frozen between jumps, so every deadline and
maturity is exact: jumps of eight days (past the default seven-day pending deadline)
while a piece is pending, and, while an application awaits its bank, jumps of an hour,
of a day less a second, of exactly a day (an application is due at the last second of
its window) or of 25 hours. The model keeps each pending piece's and each application's
creation time and compares it with the clock.

Settlement runs on the same model: short tenors and steps of one to four days let paper
mature within an example. At maturity pending pieces go back and undecided applications
expire; past the payment date (the model rolls a maturity forward over non-business days
itself, reading only the calendar's table) the sweep marks active paper overdue, and an
issuer with overdue paper may not issue. The issuer pays pieces in full or a root pro rata
(each share within a fen of exact, summing to the amount); the model tracks what was paid
of each piece, the issuer's limit and the financing bank's line restored by it, and the
late interest owed (half-up, figured with ``Fraction``), and the invariants count it.

Members change their keys on the way (``change_keys``): they add named keys, remove
them and rotate the one they sign with, and sign every later command with their newest
key, so the whole traffic runs over keys added and rotated in the middle of it.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
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
from ledger import calendar, reads
from ledger.certificates import Certificate
from ledger.credit import IssuanceLimit
from ledger.db import make_engine
from ledger.errors import Refusal
from ledger.financing import CreditLine, Financing
from ledger.invoices import Invoice, InvoiceKey
from ledger.limits import PAGE_SIZE_MAX
from ledger.obligations import Obligation
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
# 16: matured after exactly two jumps; 1 to 6: matured, paid and overdue within a run.
TENORS_DAYS = (100, 20, 180, 365, 16, 1, 2, 3, 6)
RARE_ONE_IN = 8  # how often a drawn choice is a deliberately wrong one
FLAWED_ONE_IN = 3  # how often a transfer's inputs or total are deliberately wrong
UNKNOWN_ID = "0" * 32
KEY_NAMES = ("primary", "clerk", "treasurer")  # at most three active keys per member
LIVE_OBLIGATIONS_MAX = 6
OPEN_OBLIGATION_STATES = ("pending", "confirmed", "settlement-claimed")
CONTRACT_NO = "HT-SM-1"
# Discounting, as the model reads the defaults: the tier multipliers on the agreed rate,
# the day count, the window a bank has to decide, and every approval naming its filing.
TIER_MULTIPLIERS = {"A": Fraction(6, 5), "B": Fraction(7, 5), "C": Fraction(8, 5)}
UNRATED_TIER = "C"
DAY_COUNT_BASIS = 360
FINANCING_WINDOW = timedelta(hours=24)
LINE_RATES = ("0.0385", "0.045", "0.12", "0.0001", "0.036001")
REQUESTED, APPROVED = "requested", "approved"
# Settlement, as the model reads the defaults: overdue the day after the payment date,
# late interest a day, issuers told this many days ahead, and overdue issuers blocked.
OVERDUE, PAYABLE_STATES = "overdue", frozenset({ACTIVE, "overdue"})
GRACE_DAYS = 0
LATE_DAILY_RATE = Fraction(5, 10_000)
NOTICE_DAYS = 3
DAYS_PASS_MAX = 4  # one step of the clock: short tenors mature within an example
# Hypothesis profiles (tests/conftest.py): `make test` runs a fixed, derandomised set of
# examples; `make test-deep` many more, drawn at random.
EXAMPLES = 200 if PROFILE == "deep" else 25
STEPS = 80 if PROFILE == "deep" else 50
FINANCING_EXAMPLES = 100 if PROFILE == "deep" else (10 if ON_POSTGRES else 30)
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


def _amount_fen(body: dict[str, Any], piece: Piece) -> int:
    """The face an application asks for: its amount, or the whole piece."""
    return _fen(body["amount"]) if "amount" in body else piece.amount_fen


Uses = tuple[tuple[str, int], ...]
InvoiceOf = tuple[str, str, str]  # (buyer, seller, number): an invoice belongs to its trade
Shape = tuple[str, str, str, str | None, int, str, int, tuple[str, ...], Uses, str | None, int]


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
    created_at: datetime  # pending, it is due pending_expiry_s later
    financing: str | None = None  # locked: the financing it is under (or came by)
    paid_fen: int = 0  # what settlement paid of it

    @property
    def is_root(self) -> bool:
        return self.id == self.root_id

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.paid_fen

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
            self.financing,
            self.paid_fen,
        )


@dataclass(frozen=True)
class Root:
    issuer: str
    tenor_days: int
    maturity: str  # ISO date: when its pieces fall due, for netting's order
    face_fen: int  # its amount when issued
    interest_payer: str = "holder"  # "issuer": buyer-pays paper


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


@dataclass
class ModelLine:
    """A bank's line; what awaits the bank is not on it, but the face of its
    ``requested`` financings (:meth:`CertificateMachine._pending_fen`)."""

    amount_fen: int
    annual_rate: str  # as the bank set it
    expires_on: str  # ISO date, the last day it may be drawn on
    used_fen: int = 0  # the face of approved financings


@dataclass
class ModelFinancing:
    id: str
    certificate: str
    applicant: str
    bank: str
    core: str
    face_fen: int
    state: str
    created_at: datetime  # requested, it is due financing_window_s later
    quoted_rate: Fraction  # the tiered rate, the most a bank may charge
    quoted_annual_rate: str  # the line's agreed rate when quoted: the approval's


def _half_up(exact: Fraction) -> int:
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def _payment_date(maturity: date) -> date:
    """The maturity, or the next PRC business day after it."""
    day = maturity
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


def _price(
    face_fen: int,
    agreed_rate: str,
    rate: Fraction,
    payer: str,
    today: date,
    maturity: str,
) -> dict[str, Any]:
    """A quote as the issue reads the rule: ``face × rate × days / 360`` half up, days
    from today to the payment date, no fee; the holder pays it out of the face, or the
    issuer pays it on top (no spread). In the wire's own shape, amounts in fen."""
    pays_on = _payment_date(date.fromisoformat(maturity))
    days = max(1, (pays_on - today).days)
    interest_fen = _half_up(face_fen * rate * days / DAY_COUNT_BASIS)
    agreed_fen = _half_up(face_fen * Fraction(agreed_rate) * days / DAY_COUNT_BASIS)
    holder_pays = payer == "holder"
    disbursement_fen = face_fen - (interest_fen if holder_pays else 0)
    all_in = Fraction(face_fen - disbursement_fen, disbursement_fen) * DAY_COUNT_BASIS / days
    return {
        "face": face_fen,
        "annual_rate": Fraction(agreed_rate),
        "rate": rate,
        "value_date": today.isoformat(),
        "payment_date": pays_on.isoformat(),
        "days": days,
        "basis_days": DAY_COUNT_BASIS,
        "interest": interest_fen,
        "fee": 0,
        "disbursement": disbursement_fen,
        "spread": interest_fen - agreed_fen if holder_pays else 0,
        "all_in_rate": Fraction(_half_up(all_in * 10**8), 10**8),
        "interest_payer": payer,
    }


def _read_quote(wire: dict[str, Any]) -> dict[str, Any]:
    """A wire quote in :func:`_price`'s shape: amounts in fen, rates as fractions."""
    fen_fields = ("face", "interest", "fee", "disbursement", "spread")
    rate_fields = ("annual_rate", "rate", "all_in_rate")
    return {
        key: _fen(value) if key in fen_fields else Fraction(value) if key in rate_fields else value
        for key, value in wire.items()
    }


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
        c.financing,
        c.paid_fen,
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
        w.get("financing"),
        _fen(w.get("paid", "0.00")),  # omitted while nothing is paid
    )


@dataclass(frozen=True)
class Snapshot:
    pieces: dict[str, Certificate]
    limits: dict[str, IssuanceLimit]
    invoices: dict[InvoiceKey, Invoice]
    obligations: dict[str, Obligation]
    head_seq: int
    financings: dict[str, Financing]
    lines: dict[tuple[str, str], CreditLine]
    line_pending: dict[tuple[str, str], int]  # as the repository sums it
    wallet_totals: dict[str, list[tuple[str, str, str, int]]]
    tree_views: dict[str, list[dict[str, Any]]]  # root -> its pieces, as its issuer reads them


def _snapshot(
    repo: Repository,
    roots: list[str],
    cores: list[str],
    invoice_keys: list[InvoiceOf],
    obligation_ids: list[str],
    financing_ids: list[str],
    members: list[str],
) -> Snapshot:
    pieces = {piece.id: piece for root in roots for piece in repo.tree(root)}
    obligations = {i: found for i in obligation_ids if (found := repo.obligation(i)) is not None}
    head = repo.head()
    assert head is not None
    banks = [m for m in members if (member := repo.member(m)) and member.has_role("bank")]
    lines = repo.credit_lines((bank, core) for bank in banks for core in cores)
    tree_views: dict[str, list[dict[str, Any]]] = {}
    for root in roots:
        issuer = repo.member(pieces[root].issuer)
        assert issuer is not None
        page = reads.tree(repo, issuer, root, limit=PAGE_SIZE_MAX)
        assert page["next_cursor"] is None, root  # an example's tree fits one page
        tree_views[root] = page["pieces"]
    return Snapshot(
        pieces,
        repo.issuance_limits(cores),
        repo.invoices(InvoiceKey(*key) for key in invoice_keys),
        obligations,
        head.seq,
        repo.financings(financing_ids),
        lines,
        {key: repo.line_pending(*key) for key in lines},
        {member: repo.wallet_totals(member) for member in members},
        tree_views,
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
        self.pending_expiry = timedelta(seconds=self.ledger.settings.pending_expiry_s)
        self.cast = (seeded_actor(number) for number in itertools.count(1))
        self.nonces = itertools.count(1)
        self.operator = next(self.cast)
        genesis = self.ledger.genesis(
            self.operator.id, "Platform operator", self.operator.public_key, salt="0" * 32
        )
        assert genesis.seq == 1, genesis
        self.invoice_numbers = itertools.count(1)
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
        self.second_bank = self._admit("bank")  # after the outsider: the ids above stay
        self.banks = [self.bank, self.second_bank]
        self.holders.append(self.second_bank)
        self.lines: dict[tuple[str, str], ModelLine] = {}  # (bank, core)
        self.tiers: dict[str, str] = {}  # unrated: absent
        self.financings: dict[str, ModelFinancing] = {}
        self.limits = dict.fromkeys(self.cores, 0)
        self.outstanding = dict.fromkeys(self.cores, 0)
        self.obligations: dict[str, ModelObligation] = {}
        self.noticed: set[tuple[str, str]] = set()  # (issuer, maturity) told what it owes
        self.keys: dict[str, dict[str, Actor]] = {}  # member -> its active keys by name
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
        self,
        signer: Actor,
        command_type: str,
        body: dict[str, Any],
        expected: str | None,
        records: bool = False,
    ) -> Receipt | None:
        """Execute one signed command; check it succeeded or was refused as predicted.
        ``records``: the refusal writes the expiry of the applications it found lapsed
        (a refusal ``certificate-expired`` always writes the expiry of its piece)."""
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
            # A refusal writes nothing, except the expiry a touched piece or application
            # turned out to need.
            records = records or expected == "certificate-expired"
            self.seq += 1 if records else 0
            self._check_head()
            return None
        assert expected is None, f"{command_type} succeeded; the model expected {expected}"
        self.seq += 1
        assert receipt.seq == self.seq and not receipt.replayed, receipt
        return receipt

    def _check_head(self) -> None:
        head = self.ledger.head()
        assert head is not None and head.seq == self.seq, (head, self.seq)

    def _entry_certificates(
        self, first_seq: int, last_seq: int, entry_type: str = "certificate.expire"
    ) -> list[dict[str, Any]]:
        def view(repo: Repository) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for seq in range(first_seq, last_seq + 1):
                stored = repo.entry(seq)
                assert stored is not None and stored.type == entry_type, stored
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
        """Pending past its deadline, or at its maturity (paper in flight comes home)."""
        if piece.state != PENDING:
            return False
        late = self.clock() >= piece.created_at + self.pending_expiry
        return late or self._matured(self.roots[piece.root_id])

    def _days_late(self, piece: Piece) -> int:
        """Days past the payment date and the grace on today's business date."""
        pays_on = _payment_date(date.fromisoformat(self.roots[piece.root_id].maturity))
        today = date.fromisoformat(business_date(self.clock))
        return max(0, (today - pays_on).days - GRACE_DAYS)

    def _overdue_due(self, piece: Piece) -> bool:
        """Active paper unpaid past its payment date and grace, not yet marked."""
        return piece.state == ACTIVE and self._days_late(piece) > 0

    def _matured(self, root: Root) -> bool:
        return business_date(self.clock) >= root.maturity

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
            created_at=self.clock(),
            financing=piece.financing,  # paper a bank financed stays its financing's
        )

    def _predict_issue(
        self, issuer: str, to: str, amount_fen: int, tenor_days: int, cited: list[tuple[str, int]]
    ) -> tuple[str | None, list[Uses]]:
        if self.roles[issuer] != "core":
            return "forbidden", []
        paper = [p for p in self.pieces.values() if p.issuer == issuer]
        if any(p.state == OVERDUE or self._overdue_due(p) for p in paper):
            return "issuer-overdue", []
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
        if len({p.financing for p in pieces}) > 1:
            return "mixed-financings", []
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
            [
                "spent",
                "pending",
                "sent",
                "locked",
                "foreign",
                "mixed",
                "duplicate",
                "unknown",
                "too-much",
            ],
            label="flaw",
            one_in=FLAWED_ONE_IN,
        )
        pieces = list(self.pieces.values())
        candidates = {
            "spent": [p.id for p in pieces if p.holder == signer and p.state in ENDED_STATES],
            "pending": [p.id for p in pieces if p.holder == signer and p.state == PENDING],
            "sent": [p.id for p in pieces if p.sender == signer and p.state == PENDING],
            "locked": [p.id for p in pieces if p.holder == signer and p.state == "locked"],
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
        interest_payer = data.draw(st.sampled_from(["holder", "holder", "issuer"]), label="payer")
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
        if interest_payer == "issuer":  # buyer-pays paper: the default is left out
            body["interest_payer"] = interest_payer
        # Refused for overdue paper the sweep has not marked, it marks the first of it.
        unmarked = [p for p in self.pieces.values() if p.issuer == issuer and self._overdue_due(p)]
        marks = expected == "issuer-overdue" and not any(
            p.issuer == issuer and p.state == OVERDUE for p in self.pieces.values()
        )
        receipt = self._submit(
            self.actors[issuer], "certificate.issue", body, expected, records=marks
        )
        if marks:
            [marked] = self._entry_certificates(self.seq, self.seq, "certificate.overdue")
            first = self.pieces[marked["id"]]
            earliest = min(self.roots[p.root_id].maturity for p in unmarked)
            assert first in unmarked and self.roots[first.root_id].maturity == earliest, marked
            self._marked_overdue([first])
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
            created_at=self.clock(),
        )
        assert _wire_shape(created) == root.shape(), (created, root)
        self.pieces[root.id] = root
        self.roots[root.id] = Root(issuer, tenor_days, maturity, amount_fen, interest_payer)
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
        self._try_transfer(signer, inputs, outputs, cited)

    def _try_transfer(
        self,
        signer: str,
        inputs: list[str],
        outputs: list[tuple[str, int]],
        cited: list[tuple[str, int]],
    ) -> None:
        paid = [(to, a) for to, a in outputs if to != signer]
        expected, uses = self._predict_transfer(signer, inputs, outputs, cited)
        # Refused not-spendable, it expires first the lapsed applications of the locked
        # pieces among its inputs.
        lapsed = self._lapsed_locks(signer, inputs) if expected == "not-spendable" else []
        body = {
            "inputs": inputs,
            "outputs": [{"to": to, "amount": _wire(a)} for to, a in outputs],
            "trade": {
                "contract_no": CONTRACT_NO,
                "invoices": [{"no": no, "amount": _wire(a)} for no, a in cited],
            },
        }
        receipt = self._submit(
            self.actors[signer], "certificate.transfer", body, expected, records=bool(lapsed)
        )
        if expected == "certificate-expired":
            self._expired_on_touch(self._first_touched(signer, inputs))
        if lapsed:
            self._financings_expired(lapsed)
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

    def _lapsed_locks(self, signer: str, inputs: list[str]) -> list[ModelFinancing]:
        """The applications past their window that lock pieces of ``signer``'s among
        ``inputs`` (another member's are none of its business)."""
        pieces = [self.pieces[i] for i in dict.fromkeys(inputs) if i in self.pieces]
        return [
            self.financings[p.financing]
            for p in pieces
            if p.state == "locked"
            and p.holder == signer
            and p.financing is not None
            and self._financing_due(self.financings[p.financing])
        ]

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
        # Paper a bank financed stays its financing's, when all inputs name the same one.
        financings = {p.financing for p in pieces}
        kept = first.financing if len(financings) == 1 else None
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
                    created_at=self.clock(),
                    financing=kept,
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

    @rule(data=st.data())
    def change_keys(self, data: st.DataObject) -> None:
        """A member adds a named key, removes one or rotates the one it signs with; from
        then on it signs everything with its newest key, and a key it removed or rotated
        out is refused (``retired-key``). The model keeps each member's active keys by
        name and predicts ``key-name-taken``, ``key-not-found`` and ``last-key``."""
        member = data.draw(st.sampled_from(self.holders), label="member")
        keys = self.keys.setdefault(member, {"primary": self.actors[member]})
        action = data.draw(st.sampled_from(["add", "remove", "rotate"]), label="keys")
        name = data.draw(st.sampled_from(KEY_NAMES), label="name")
        signer = self.actors[member]
        retired: Actor | None = None
        if action == "add":
            new = Actor(member, next(self.cast).key)
            body = {"name": name, "public_key": new.public_key}
            expected = "key-name-taken" if name in keys else None
            if self._submit(signer, "member.add_key", body, expected):
                keys[name] = self.actors[member] = new
        elif action == "remove":
            expected = (
                "key-not-found" if name not in keys else "last-key" if len(keys) == 1 else None
            )
            if self._submit(signer, "member.remove_key", {"name": name}, expected):
                retired = keys.pop(name)
                self.actors[member] = list(keys.values())[-1]
        else:
            (own,) = [n for n, actor in keys.items() if actor is signer]
            new = Actor(member, next(self.cast).key)
            assert self._submit(signer, "member.rotate_key", {"public_key": new.public_key}, None)
            retired, keys[own], self.actors[member] = signer, new, new
        if retired is not None:
            self._submit(retired, "member.netting_consent", {"consent": True}, "retired-key")

    @precondition(lambda self: any(p.state == PENDING for p in self.pieces.values()))
    @rule(sweep=st.booleans())
    def time_passes(self, sweep: bool) -> None:
        self.clock.advance(days=JUMP_DAYS)
        if sweep:
            self._sweep()

    @precondition(lambda self: any(f.state == REQUESTED for f in self.financings.values()))
    @rule(seconds=st.sampled_from([3_600, 86_399, 86_400, 90_000]), sweep=st.booleans())
    def time_passes_within_a_day(self, seconds: int, sweep: bool) -> None:
        """Up to and past a bank's 24-hour window (due at its last second)."""
        self.clock.advance(seconds=seconds)
        if sweep:
            self._sweep()

    @rule(days=st.integers(1, DAYS_PASS_MAX), sweep=st.sampled_from([True, True, False]))
    def days_pass(self, days: int, sweep: bool) -> None:
        """Days go by (paper matures, falls due, is overdue); mostly the sweeper runs."""
        self.clock.advance(days=days)
        if sweep:
            self._sweep()

    def _sweep_is_due(self) -> bool:
        return (
            any(self._due(p) or self._overdue_due(p) for p in self.pieces.values())
            or any(self._financing_due(f) for f in self.financings.values())
            or bool(self._notices_due())
        )

    @precondition(lambda self: self._sweep_is_due())
    @rule()
    def sweep(self) -> None:
        self._sweep()

    def _sweep(self) -> None:
        """One entry expires every due pending piece, then one every due application,
        then one marks the paper now overdue, then one notice per (issuer, maturity)."""
        first_seq = self.seq
        due = [p for p in self.pieces.values() if self._due(p)]
        due_financings = [f for f in self.financings.values() if self._financing_due(f)]
        written = self.ledger.sweep_all()
        if due:
            self.seq += 1
            created = self._entry_certificates(self.seq, self.seq)
            expired = {w["id"] for w in created if w["state"] == EXPIRED} & set(self.pieces)
            assert expired == {p.id for p in due}, (expired, due)
            returned = [self._give_back(p, EXPIRED) for p in due]
            self._learn_ids(created, [r for r in returned if r is not None])
        if due_financings:
            self.seq += 1
            self._financings_expired(due_financings)
        overdue = [p for p in self.pieces.values() if self._overdue_due(p)]
        if overdue:  # what came home at maturity may be overdue too
            self.seq += 1
            self._marked_overdue(overdue)
        for issuer, maturity in self._notices_due():
            self.seq += 1
            self._noticed(issuer, maturity)
        assert written == self.seq - first_seq, (written, self.seq - first_seq)
        self._check_head()

    def _marked_overdue(self, expected: list[Piece]) -> None:
        """The entry just written marks exactly ``expected`` overdue."""
        marked = self._entry_certificates(self.seq, self.seq, "certificate.overdue")
        assert sorted(w["id"] for w in marked) == sorted(p.id for p in expected), marked
        assert all(w["state"] == OVERDUE for w in marked), marked
        for piece in expected:
            piece.state = OVERDUE

    def _notices_due(self) -> list[tuple[str, str]]:
        """(issuer, maturity) of paper holding value maturing from today to NOTICE_DAYS
        from today, of which its issuer was not told; by maturity, then issuer."""
        first, last = business_date(self.clock), business_date(self.clock, NOTICE_DAYS)
        found = {
            (self.roots[p.root_id].maturity, p.issuer)
            for p in self.pieces.values()
            if p.state in HOLDING_STATES and first <= self.roots[p.root_id].maturity <= last
        }
        return [(i, m) for m, i in sorted(found) if (i, m) not in self.noticed]

    def _noticed(self, issuer: str, maturity: str) -> None:
        """The entry just written tells ``issuer`` what it owes on ``maturity``."""

        def effects(repo: Repository) -> dict[str, Any]:
            stored = repo.entry(self.seq)
            assert stored is not None and stored.type == "settlement.notice", stored
            return dict(stored.entry.effects)

        [notice] = self.ledger.read(effects)["notices"]
        owed = [
            p
            for p in self.pieces.values()
            if p.state in HOLDING_STATES
            and (p.issuer, self.roots[p.root_id].maturity) == (issuer, maturity)
        ]
        assert (notice["issuer"], notice["maturity"], notice["pieces"]) == (
            issuer,
            maturity,
            len(owed),
        ), (notice, owed)
        assert _fen(notice["amount"]) == sum(p.outstanding_fen for p in owed), (notice, owed)
        assert notice["payment_date"] == _payment_date(date.fromisoformat(maturity)).isoformat()
        self.noticed.add((issuer, maturity))

    # -- discounting ----------------------------------------------------------------------

    def _financing_due(self, financing: ModelFinancing) -> bool:
        """Undecided past its window, or at its piece's maturity."""
        if financing.state != REQUESTED:
            return False
        late = self.clock() >= financing.created_at + FINANCING_WINDOW
        return late or self._matured(self.roots[self.pieces[financing.certificate].root_id])

    def _release(self, financing: ModelFinancing, end_state: str) -> None:
        """Rejected, cancelled or expired: the piece is its applicant's and active again."""
        piece = self.pieces[financing.certificate]
        assert piece.state == "locked" and piece.financing == financing.id, (piece, financing)
        piece.state, piece.financing = ACTIVE, None
        financing.state = end_state  # which frees its reserve on the line

    def _financings_expired(self, due: list[ModelFinancing]) -> None:
        """The entry just written expires exactly ``due``."""

        def body(repo: Repository) -> dict[str, Any]:
            stored = repo.entry(self.seq)
            assert stored is not None and stored.type == "financing.expire", stored
            return dict(stored.entry.command["body"])

        expired = self.ledger.read(body)
        assert sorted(expired["ids"]) == sorted(f.id for f in due), (expired, due)
        assert expired["business_date"] == business_date(self.clock), expired
        for financing in due:
            self._release(financing, EXPIRED)

    def _requested_on(self, bank: str, core: str) -> list[ModelFinancing]:
        """The applications awaiting ``bank`` on its line for ``core``'s paper, lapsed
        ones included until an entry expires them."""
        return [
            f
            for f in self.financings.values()
            if (f.bank, f.core, f.state) == (bank, core, REQUESTED)
        ]

    def _pending_fen(self, bank: str, core: str) -> int:
        return sum(f.face_fen for f in self._requested_on(bank, core))

    def _lapsed_on(self, bank: str, core: str) -> list[ModelFinancing]:
        return [f for f in self._requested_on(bank, core) if self._financing_due(f)]

    @initialize(data=st.data())
    def open_lines(self, data: st.DataObject) -> None:
        """Lines to draw on from the start (hypothesis leaves some rules out of an
        example: an example without set_line would otherwise finance nothing)."""
        for bank, core in itertools.product(self.banks, self.cores):
            if bank != self.bank and not data.draw(st.booleans(), label="line opened"):
                continue
            amount_fen = data.draw(st.integers(1_000_00, 30_000_00), label="line_fen")
            rate = data.draw(st.sampled_from(LINE_RATES), label="agreed rate")
            expires_on = business_date(self.clock, data.draw(st.sampled_from([365, 3])))
            body = {
                "core": core,
                "amount": _wire(amount_fen),
                "annual_rate": rate,
                "expires_on": expires_on,
            }
            assert self._submit(self.actors[bank], "credit_line.set", body, None) is not None
            self.lines[(bank, core)] = ModelLine(amount_fen, rate, expires_on)

    @rule(data=st.data())
    def set_terms(self, data: st.DataObject) -> None:
        """A bank sets a line or the operator rates a supplier (one rule: hypothesis
        leaves whole rules out of an example, and these are both about the price)."""
        if data.draw(st.booleans(), label="line, not tier"):
            self._set_line(data)
        else:
            self._set_tier(data)

    def _set_line(self, data: st.DataObject) -> None:
        """A bank sets (or replaces) its line for a core enterprise's paper."""
        signer = _pick(data, self.banks, [self.suppliers[0], self.cores[0]], label="line signer")
        core = _pick(data, self.cores, [self.suppliers[1], self.outsider], label="line core")
        line = self.lines.get((signer, core))
        in_use_fen = (line.used_fen if line else 0) + self._pending_fen(signer, core)
        size = _pick(data, ["ample", "ample", "small", "zero"], ["below use"], label="line size")
        if size == "ample":
            amount_fen = data.draw(st.integers(5_000_00, 30_000_00), label="line_fen")
        elif size == "small":
            amount_fen = data.draw(st.integers(1_00, 2_000_00), label="line_fen")
        else:
            amount_fen = 0 if size == "zero" else max(0, in_use_fen - 1)
        rate = data.draw(st.sampled_from(LINE_RATES), label="agreed rate")
        expires_on = business_date(self.clock, _pick(data, [365, 365, 3], [-1], label="line days"))
        self._put_line(signer, core, amount_fen, rate, expires_on)

    def _put_line(
        self, signer: str, core: str, amount_fen: int, rate: str, expires_on: str
    ) -> None:
        line = self.lines.get((signer, core))
        in_use_fen = (line.used_fen if line else 0) + self._pending_fen(signer, core)
        expected = (
            "forbidden"
            if self.roles[signer] != "bank"
            else "member-not-found"
            if core == self.outsider
            else "role-mismatch"
            if self.roles[core] != "core"
            else "validation"
            if expires_on < business_date(self.clock)
            else "credit-line-below-use"
            if amount_fen < in_use_fen
            else None
        )
        body = {
            "core": core,
            "amount": _wire(amount_fen),
            "annual_rate": rate,
            "expires_on": expires_on,
        }
        # Below a reserve that counts lapsed applications: they are expired first.
        lapsed = self._lapsed_on(signer, core) if expected == "credit-line-below-use" else []
        receipt = self._submit(
            self.actors[signer], "credit_line.set", body, expected, records=bool(lapsed)
        )
        if lapsed:
            self._financings_expired(lapsed)
        if receipt is None:
            return
        [set_line] = receipt.effects["credit_lines"]
        assert "pending" not in set_line, set_line  # what awaits the bank is not on the line
        if line is None:
            self.lines[(signer, core)] = ModelLine(amount_fen, rate, expires_on)
        else:
            line.amount_fen, line.annual_rate, line.expires_on = amount_fen, rate, expires_on

    def _set_tier(self, data: st.DataObject) -> None:
        """The operator rates a supplier A, B or C."""
        signer = _pick(data, [self.operator], [self.actors[self.suppliers[0]]], label="rater")
        member = _pick(
            data, self.suppliers, [self.bank, self.cores[0], self.outsider], label="rated"
        )
        tier = data.draw(st.sampled_from(sorted(TIER_MULTIPLIERS)), label="tier")
        expected = (
            "forbidden"
            if signer is not self.operator
            else "member-not-found"
            if member == self.outsider
            else "role-mismatch"
            if self.roles[member] != "supplier"
            else None
        )
        if self._submit(signer, "member.set_tier", {"id": member, "tier": tier}, expected):
            self.tiers[member] = tier

    def _predict_apply(
        self, signer: str, piece: Piece | None, bank: str, face_fen: int
    ) -> str | None:
        """``financing.apply`` as the issue reads it: the piece (free, and never financed
        before), then the bank and its line, then the amount and what is left of the
        line; a part is split off exactly as a transfer to oneself."""
        if piece is None or not self._is_party(piece, signer):
            return "certificate-not-found"
        if self._due(piece):  # any party's touch ends a pending piece past its deadline
            return "certificate-expired"
        if piece.holder != signer:
            return "not-holder"
        if piece.state == OVERDUE:  # refused as such before "not active" (ledger.financing)
            return "certificate-overdue"
        if piece.state != ACTIVE:
            return "not-spendable"
        if piece.financing is not None:  # a bank's discounted paper, or paper made of it
            return "already-financed"
        if bank == signer:
            return "validation"
        root = self.roots[piece.root_id]
        if self._matured(root):
            return "certificate-matured"
        if bank not in self.banks:
            return "not-a-bank"
        line = self.lines.get((bank, piece.issuer))
        if line is None or line.amount_fen == 0:
            return "no-credit-line"
        if business_date(self.clock) > line.expires_on:
            return "credit-line-expired"
        if face_fen > piece.amount_fen:
            return "insufficient-amount"
        # Lapsed applications still reserve their face until an entry expires them.
        if face_fen > line.amount_fen - line.used_fen - self._pending_fen(bank, piece.issuer):
            return "credit-line-exceeded"
        rest_fen = piece.amount_fen - face_fen
        if rest_fen and min(face_fen, rest_fen) < -(-root.face_fen // ROOT_PIECES_MAX):
            return "root-pieces-exceeded"
        return None

    def _expected_quote(
        self, applicant: str, bank: str, piece: Piece, face_fen: int
    ) -> dict[str, Any]:
        root = self.roots[piece.root_id]
        agreed = self.lines[(bank, piece.issuer)].annual_rate
        multiplier = TIER_MULTIPLIERS[self.tiers.get(applicant, UNRATED_TIER)]
        rate = Fraction(agreed) * (1 if root.interest_payer == "issuer" else multiplier)
        today = date.fromisoformat(business_date(self.clock))
        return _price(face_fen, agreed, rate, root.interest_payer, today, root.maturity)

    def _read_quote_as(self, applicant: str, body: dict[str, Any]) -> dict[str, Any]:
        """What the quote read says of an application before it is made."""

        def view(repo: Repository) -> dict[str, Any]:
            viewer = repo.member(applicant)
            assert viewer is not None
            return reads.quote(
                repo,
                viewer,
                body["certificate"],
                body["bank"],
                body.get("amount"),
                self.clock(),
                self.ledger.settings,
            )

        return self.ledger.read(view)

    def _check_quote(
        self, signer: str, piece: Piece | None, body: dict[str, Any], expected: str | None
    ) -> dict[str, Any] | None:
        """The quote read refuses as the application would, but never for what is left of
        the line (nor for the split, which only an application makes); else the model's
        price, which it returns."""
        try:
            read = self._read_quote_as(signer, body)
        except Refusal as refusal:
            refused = "certificate-not-found" if refusal.type == "not-found" else refusal.type
            assert refused == expected, (refusal.type, refusal.detail, expected)
            assert refused not in ("credit-line-exceeded", "root-pieces-exceeded"), refusal
            return None
        assert expected in (None, "credit-line-exceeded", "root-pieces-exceeded"), (read, expected)
        assert piece is not None
        quoted = self._expected_quote(signer, body["bank"], piece, _amount_fen(body, piece))
        assert _read_quote({k: read[k] for k in quoted}) == quoted, (read, quoted)
        return quoted

    def _has_free_paper(self) -> bool:
        """Something to finance: an active piece no bank financed (paper a bank did is
        drawn too, but only where there is other paper: it is refused every time)."""
        return any(p.state == ACTIVE and p.financing is None for p in self.pieces.values())

    @precondition(lambda self: self._has_free_paper())
    @rule(data=st.data())
    def apply(self, data: st.DataObject) -> None:
        """A holder asks a bank to finance a piece or part of it — or the wrong member
        asks, or for a piece that is not free, the wrong bank, too much."""
        everything: list[Piece | None] = list(self.pieces.values())
        active = [p for p in self.pieces.values() if p.state == ACTIVE]
        # Mostly paper never financed: a bank's (and what was made of it) is refused.
        free = [p for p in active if p.financing is None]
        financed = [p for p in active if p.financing is not None]  # refused: once is all
        odd = _pick(data, [everything], [financed or everything], label="odd pieces")
        piece = _pick(data, free, [*odd, None], label="financed piece")
        holder = piece.holder if piece is not None else self.suppliers[0]
        wrong = [m for m in (*self.suppliers, *self.cores) if m != holder]
        signer = _pick(data, [holder], wrong, label="applicant")
        banks = [b for b in self.banks if b != signer]
        issuer = piece.issuer if piece is not None else self.cores[0]
        lending = [b for b in banks if self.lines.get((b, issuer), ModelLine(0, "", "")).amount_fen]
        itself = [signer] if signer in self.banks else []  # a bank applying to itself
        wrong_banks = [*banks, *itself, self.suppliers[0], self.outsider]
        bank = _pick(data, lending or banks, wrong_banks, label="bank")
        face_fen = piece.amount_fen if piece is not None else 100
        asked = _pick(data, ["whole", "part", "part", "exact"], ["too much"], label="asked")
        if asked == "part" and face_fen >= 2:
            face_fen = data.draw(st.integers(1, face_fen - 1), label="part_fen")
        elif asked == "too much":
            face_fen += 1
        body: dict[str, Any] = {"certificate": piece.id if piece else UNKNOWN_ID, "bank": bank}
        if asked != "whole":
            body["amount"] = _wire(face_fen)
        self._try_apply(signer, piece, body)

    def _try_apply(self, signer: str, piece: Piece | None, body: dict[str, Any]) -> None:
        bank = body["bank"]
        face_fen = _amount_fen(body, piece) if piece is not None else 100
        expected = self._predict_apply(signer, piece, bank, face_fen)
        quoted = self._check_quote(signer, piece, body, expected)
        # Refused because of a lapsed application it met, it expires them first: its
        # piece's (not-spendable), or those whose reserve filled the line.
        lapsed = (
            self._lapsed_locks(signer, [piece.id])
            if piece is not None and expected == "not-spendable"
            else self._lapsed_on(bank, piece.issuer)
            if piece is not None and expected == "credit-line-exceeded"
            else []
        )
        receipt = self._submit(
            self.actors[signer], "financing.apply", body, expected, records=bool(lapsed)
        )
        if expected == "certificate-expired":
            assert piece is not None
            self._expired_on_touch(piece)
        if lapsed:
            self._financings_expired(lapsed)
        if receipt is None:
            return
        assert piece is not None and quoted is not None
        # The application's entry is its applicant's: it does not carry the bank's line.
        assert "credit_lines" not in receipt.effects, receipt.effects
        [financing] = receipt.effects["financings"]
        assert _read_quote(financing["quote"]) == quoted, (financing["quote"], quoted)
        financing_id = financing["id"]
        if face_fen == piece.amount_fen:
            piece.state, piece.financing = "locked", financing_id
            locked = piece
        else:
            piece.state = SPENT
            new = [
                Piece(
                    id="",
                    root_id=piece.root_id,
                    issuer=piece.issuer,
                    holder=signer,
                    sender=None,
                    amount_fen=amount_fen,
                    state=state,
                    level=piece.level,
                    parent_ids=(piece.id,),
                    uses=(),
                    created_at=self.clock(),
                    financing=financing_id if state == "locked" else None,
                )
                for amount_fen, state in [
                    (face_fen, "locked"),
                    (piece.amount_fen - face_fen, ACTIVE),
                ]
            ]
            self._learn_ids(receipt.effects["certificates"], new)
            locked = new[0]
        assert (financing["certificate"], financing["state"]) == (locked.id, REQUESTED), financing
        self.financings[financing_id] = ModelFinancing(
            financing_id,
            locked.id,
            signer,
            bank,
            piece.issuer,
            face_fen,
            REQUESTED,
            self.clock(),
            quoted["rate"],
            self.lines[(bank, piece.issuer)].annual_rate,
        )

    def _predict_decision(
        self,
        financing: ModelFinancing,
        signer: str,
        approve: bool,
        rate: Fraction | None,
        registered: bool,
        suspended: bool = False,
    ) -> str | None:
        """``suspended``: the applicant is (the bank may only reject)."""
        if suspended and signer == financing.applicant:
            return "member-suspended"
        if self.roles[signer] != "bank":
            return "forbidden"
        opened = self._predict_open(financing, signer, financing.bank)
        if opened is not None or not approve:
            return opened
        root = self.roots[self.pieces[financing.certificate].root_id]
        if self._matured(root):
            return "certificate-matured"
        if suspended:
            return "recipient-suspended"
        if business_date(self.clock) > self.lines[(financing.bank, financing.core)].expires_on:
            return "credit-line-expired"
        if not registered:
            return "registration-required"
        if rate is not None and rate > financing.quoted_rate:
            return "rate-above-quote"
        return None

    def _predict_open(self, financing: ModelFinancing, signer: str, party: str) -> str | None:
        """Deciding or cancelling: only its bank or its applicant, before its window ends."""
        if signer != party:  # another member hears of no such financing
            return "financing-not-found"
        if financing.state == EXPIRED or self._financing_due(financing):
            return "financing-expired"
        if financing.state != REQUESTED:
            return "already-decided"
        return None

    def _draw_rate(self, data: st.DataObject, quoted: Fraction) -> Fraction | None:
        """The rate a bank decides: usually none (the quoted one), sometimes lower, the
        same or above it; in millionths, as a rate travels."""
        micro = quoted * 10**6
        choice = _pick(data, ["quoted", "quoted", "lower"], ["equal", "above"], label="rate")
        if choice == "lower" and int(micro * 9 / 10) > 0:
            return Fraction(int(micro * 9 / 10), 10**6)
        if choice == "equal" and micro.denominator == 1:
            return quoted
        if choice == "above":
            return Fraction(int(micro) + 1, 10**6)
        return None

    @precondition(lambda self: any(f.state == REQUESTED for f in self.financings.values()))
    @rule(data=st.data())
    def answer_financing(self, data: st.DataObject) -> None:
        """The bank decides (mostly) or the applicant withdraws."""
        if _pick(data, ["decide", "decide", "decide", "cancel"], label="answer") == "decide":
            self._decide(data)
        else:
            self._cancel_financing(data)

    def _decide(self, data: st.DataObject, chosen: ModelFinancing | None = None) -> None:
        """The bank approves (sometimes at a lower rate) or rejects an application (the
        ``chosen`` one, or one drawn); or another bank or a supplier tries, or it is
        decided twice, or too late."""
        requested = [f for f in self.financings.values() if f.state == REQUESTED]
        everything = list(self.financings.values())
        financing = chosen or _pick(data, requested or everything, everything, label="financing")
        other_bank = next(b for b in self.banks if b != financing.bank)
        signer = _pick(data, [financing.bank], [other_bank, self.suppliers[0]], label="decider")
        approve = data.draw(st.sampled_from([True, True, False]), label="approve")
        rate = self._draw_rate(data, financing.quoted_rate) if approve else None
        registered = _pick(data, [True], [False], label="registered")
        # The operator suspends the applicant for the decision (and reinstates it after):
        # the bank may then only reject.
        suspended = _pick(data, [False], [True], label="applicant suspended")
        body: dict[str, Any] = {"id": financing.id, "approve": approve}
        if rate is not None:
            body["annual_rate"] = f"0.{rate.numerator * 10**6 // rate.denominator:06d}"
        if registered and approve:
            body["registration_ref"] = "ZDW-SM-0001"
        expected = self._predict_decision(financing, signer, approve, rate, registered, suspended)
        due = self._financing_due(financing)
        lazily = expected == "financing-expired" and due
        applicant = {"id": financing.applicant}
        if suspended:
            assert self._submit(self.operator, "member.suspend", applicant, None)
        receipt = self._submit(
            self.actors[signer], "financing.decide", body, expected, records=lazily
        )
        if lazily:
            self._financings_expired([financing])
        if suspended:
            assert self._submit(self.operator, "member.reinstate", applicant, None)
        if receipt is None:
            return
        if not approve:
            assert "credit_lines" not in receipt.effects, receipt.effects
            self._release(financing, REJECTED)
            return
        self._approved(financing, rate, receipt)

    def _approved(self, financing: ModelFinancing, rate: Fraction | None, receipt: Receipt) -> None:
        piece = self.pieces[financing.certificate]
        root = self.roots[piece.root_id]
        line = self.lines[(financing.bank, financing.core)]
        today = date.fromisoformat(business_date(self.clock))
        charged = financing.quoted_rate if rate is None else rate
        # As quoted: the agreed rate (and basis) of the application, whatever the line's
        # rate is now.
        agreed = financing.quoted_annual_rate
        terms = _price(
            financing.face_fen, agreed, charged, root.interest_payer, today, root.maturity
        )
        [decided] = receipt.effects["financings"]
        assert decided["state"] == APPROVED, decided
        assert _read_quote(decided["terms"]) == terms, (decided["terms"], terms)
        # The piece is the bank's, and keeps naming its financing.
        piece.holder, piece.state, piece.sender = financing.bank, ACTIVE, None
        line.used_fen += financing.face_fen  # the reserve went with ``requested``
        financing.state = APPROVED
        # The bank's paper names its financing: it is not financed again.
        other_bank = next(b for b in self.banks if b != financing.bank)
        again = {"certificate": piece.id, "bank": other_bank}
        self._try_apply(financing.bank, piece, again)  # already-financed
        [used] = receipt.effects["credit_lines"]  # an approval's entry is the bank's
        assert (used["bank"], used["core"], _fen(used["used"])) == (
            financing.bank,
            financing.core,
            line.used_fen,
        ), used
        owed = receipt.effects.get("obligations", [])
        if root.interest_payer == "holder" or terms["interest"] == 0:
            assert owed == [], owed
            return
        [interest] = owed  # buyer-pays: the issuer owes the bank the interest at maturity
        assert (interest["debtor"], interest["creditor"], _fen(interest["amount"])) == (
            financing.core,
            financing.bank,
            terms["interest"],
        ), interest
        assert (interest["due_date"], interest["state"]) == (root.maturity, "confirmed"), interest
        self.obligations[interest["id"]] = ModelObligation(
            interest["id"],
            financing.core,
            financing.bank,
            terms["interest"],
            root.maturity,
            "confirmed",
        )

    def _cancel_financing(self, data: st.DataObject) -> None:
        """The applicant withdraws an application (or another member tries)."""
        requested = [f for f in self.financings.values() if f.state == REQUESTED]
        everything = list(self.financings.values())
        financing = _pick(data, requested or everything, everything, label="financing")
        others = [m for m in (financing.bank, *self.suppliers) if m != financing.applicant]
        signer = _pick(data, [financing.applicant], others, label="canceller")
        expected = self._predict_open(financing, signer, financing.applicant)
        lazily = expected == "financing-expired" and self._financing_due(financing)
        body = {"id": financing.id}
        receipt = self._submit(
            self.actors[signer], "financing.cancel", body, expected, records=lazily
        )
        if lazily:
            self._financings_expired([financing])
        if receipt is not None:
            assert "credit_lines" not in receipt.effects, receipt.effects
            self._release(financing, CANCELLED)

    # -- settlement -----------------------------------------------------------------------

    def _payable(self) -> list[Piece]:
        """Paper its issuer can pay now: active or overdue, matured."""
        return [
            p
            for p in self.pieces.values()
            if p.state in PAYABLE_STATES and self._matured(self.roots[p.root_id])
        ]

    @precondition(lambda self: bool(self._payable()))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        """The issuer pays matured pieces in full, or a root in part, pro rata — or pays
        too early, twice, another issuer's paper, paper in flight, more than is owed."""
        if data.draw(st.booleans(), label="by pieces"):
            self._pay_pieces(data)
        else:
            self._pay_root(data)

    def _pay_pieces(self, data: st.DataObject) -> None:
        everything = list(self.pieces.values())
        payable = self._payable()
        first = _pick(data, payable or everything, everything, label="paid piece")
        issuer = first.issuer
        same = [p.id for p in payable if p.issuer == issuer and p.id != first.id]
        extra = data.draw(st.lists(st.sampled_from(same), unique=True, max_size=3)) if same else []
        ids = [first.id, *extra]
        other_core = next(c for c in self.cores if c != issuer)
        signer = _pick(data, [issuer], [other_core], label="payer")
        pieces = [self.pieces[i] for i in ids]
        expected = self._predict_pay(signer, pieces, pieces)
        body = {"pieces": ids, "payment_ref": "PAY-SM"}
        receipt = self._submit_payment(signer, body, expected, pieces)
        if receipt is not None:
            self._paid(receipt, [(p, p.outstanding_fen) for p in pieces])

    def _pay_root(self, data: st.DataObject) -> None:
        everything = list(self.pieces.values())
        roots = [self.pieces[p.root_id] for p in self._payable()]
        root = _pick(data, roots or everything, everything, label="paid root")
        other_core = next(c for c in self.cores if c != root.issuer)
        signer = _pick(data, [root.issuer], [other_core], label="payer")
        tree = [
            p
            for p in self.pieces.values()
            if p.root_id == root.root_id and p.state in HOLDING_STATES
        ]
        named = sorted((p for p in tree if p.state in PAYABLE_STATES), key=lambda p: p.id)
        outstanding_fen = sum(p.outstanding_fen for p in named)
        how_much = _pick(data, ["part", "part", "all"], ["too much"], label="paid amount")
        if how_much == "part" and outstanding_fen >= 2:
            paid_fen = data.draw(st.integers(1, outstanding_fen - 1), label="paid_fen")
        else:
            paid_fen = max(1, outstanding_fen + (how_much == "too much"))
        expected = (
            "certificate-not-found"
            if root.issuer != signer
            else "not-a-root"
            if not root.is_root
            else self._predict_pay(signer, [root], tree)
            or ("already-settled" if outstanding_fen == 0 else None)
            or ("amount-exceeds-outstanding" if paid_fen > outstanding_fen else None)
        )
        body = {"root": root.id, "amount": _wire(paid_fen), "payment_ref": "PAY-SM-PART"}
        receipt = self._submit_payment(signer, body, expected, tree)
        if receipt is None:
            return
        shares = {w["certificate"]: _fen(w["amount"]) for w in receipt.effects["payments"]}
        # Pro rata: the shares add up to the amount, each within a fen of its exact share.
        assert sum(shares.values()) == paid_fen, (shares, paid_fen)
        for piece in named:
            share_fen = shares.get(piece.id, 0)
            exact = Fraction(paid_fen * piece.outstanding_fen, outstanding_fen)
            assert abs(share_fen - exact) < 1 and share_fen <= piece.outstanding_fen, piece
        assert set(shares) <= {p.id for p in named}, shares
        self._paid(receipt, [(p, shares[p.id]) for p in named if shares.get(p.id)])

    def _predict_pay(self, signer: str, named: list[Piece], touched: list[Piece]) -> str | None:
        """Another issuer's paper is as if absent, then paying before maturity, then paper
        in flight among ``touched`` (it comes home first), then what holds nothing."""
        if any(p.issuer != signer for p in named):
            return "certificate-not-found"
        if not all(self._matured(self.roots[p.root_id]) for p in named):
            return "not-matured"
        if any(p.state == PENDING for p in touched):
            return "certificate-expired"
        if any(p.state == "locked" for p in touched):
            return "not-payable"
        for piece in named if touched is named else []:  # a root's pieces are by state
            if piece.state == SETTLED:
                return "already-settled"
            if piece.state not in PAYABLE_STATES:
                return "not-payable"
        return None

    def _submit_payment(
        self, signer: str, body: dict[str, Any], expected: str | None, touched: list[Piece]
    ) -> Receipt | None:
        """Refused for paper in flight, the payment records its coming home: the pending
        pieces' expiry, or the expiry of the applications that lock pieces."""
        pending = [p for p in touched if p.state == PENDING]
        locked = [p for p in touched if p.state == "locked"]
        records = expected == "not-payable" and bool(locked) and not pending
        receipt = self._submit(
            self.actors[signer], "settlement.pay", body, expected, records=records
        )
        if expected == "certificate-expired":
            returned = [self._give_back(p, EXPIRED) for p in pending]
            created = self._entry_certificates(self.seq, self.seq)
            ended = sorted(w["id"] for w in created if w["state"] == EXPIRED)
            assert ended == sorted(p.id for p in pending), (created, pending)
            self._learn_ids(created, [r for r in returned if r is not None])
        if records:
            self._financings_expired([self.financings[p.financing or ""] for p in locked])
        return receipt

    def _paid(self, receipt: Receipt, paying: list[tuple[Piece, int]]) -> None:
        """Each piece paid its share: its holder is paid (late interest owed on a late
        share), the issuer's limit and the financing bank's line are restored by it."""
        payments = {w["certificate"]: w for w in receipt.effects["payments"]}
        assert sorted(payments) == sorted(p.id for p, _ in paying), (payments, paying)
        owed = {w["id"]: w for w in receipt.effects.get("obligations", [])}
        today = business_date(self.clock)
        for piece, share_fen in paying:
            days = self._days_late(piece)
            interest_fen = _half_up(share_fen * LATE_DAILY_RATE * days)
            paid = payments[piece.id]
            assert (paid["holder"], _fen(paid["amount"]), paid["days_late"]) == (
                piece.holder,
                share_fen,
                days,
            ), (paid, piece)
            assert _fen(paid["late_interest"]) == interest_fen, (paid, interest_fen)
            piece.paid_fen += share_fen
            piece.state = SETTLED if piece.paid_fen == piece.amount_fen else piece.state
            self.outstanding[piece.issuer] -= share_fen
            if piece.financing is not None:
                financed = self.financings[piece.financing]
                assert financed.state == APPROVED, (financed, piece)
                self.lines[(financed.bank, financed.core)].used_fen -= share_fen
            if interest_fen == 0:
                assert paid["obligation"] is None, paid
                continue
            interest = owed.pop(paid["obligation"])
            assert (interest["debtor"], interest["creditor"], _fen(interest["amount"])) == (
                piece.issuer,
                piece.holder,
                interest_fen,
            ), interest
            assert (interest["due_date"], interest["state"]) == (today, "confirmed"), interest
            self.obligations[interest["id"]] = ModelObligation(
                interest["id"], piece.issuer, piece.holder, interest_fen, today, "confirmed"
            )
        assert not owed, owed  # no interest but on late shares

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
            # Overdue paper is nettable; paper a bank financed is left to its payment.
            if piece.state in PAYABLE_STATES and piece.financing is None:
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
                self.obligations[i].outstanding_fen if kind else self.pieces[i].outstanding_fen
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
                    take_fen = min(left_fen, piece.outstanding_fen)
                    new += self._settle(piece, take_fen)
                    self.outstanding[piece.issuer] -= take_fen
                left_fen -= take_fen
            assert left_fen == 0, (debtor, creditor, amount_fen)
        return new

    def _settle(self, piece: Piece, take_fen: int) -> list[Piece]:
        """Settle ``take_fen`` of what a piece has outstanding: whole, or split into a
        settled and a live part (overdue if the piece was); what was paid of it stays on it."""
        if take_fen == piece.outstanding_fen:
            piece.state = SETTLED
            return []
        live = piece.state
        piece.state = SPENT
        parts = [(take_fen, SETTLED), (piece.outstanding_fen - take_fen, live)]
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
                created_at=self.clock(),
                financing=piece.financing,  # a settled part still shows how it was bought
            )
            for amount_fen, state in parts
        ]

    # -- the auditor -----------------------------------------------------------------------

    @invariant()
    def audit(self) -> None:
        snap = self.ledger.read(
            _snapshot,
            list(self.roots),
            self.cores,
            list(self.invoices),
            list(self.obligations),
            list(self.financings),
            self.holders,
        )
        self._database_agrees_with_the_model(snap)
        self._financings_agree_with_the_model(snap)
        _value_is_conserved_and_spent_once(snap, self.cores)
        _locked_pieces_are_financed(snap)
        _views_add_up(snap)

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

    def _financings_agree_with_the_model(self, snap: Snapshot) -> None:
        assert set(snap.financings) == set(self.financings), set(snap.financings)
        for financing_id, financing in self.financings.items():
            found = snap.financings[financing_id]
            assert (
                found.certificate,
                found.applicant,
                found.bank,
                found.core,
                found.face_fen,
                found.state,
            ) == (
                financing.certificate,
                financing.applicant,
                financing.bank,
                financing.core,
                financing.face_fen,
                financing.state,
            ), (found, financing)
        assert set(snap.lines) == set(self.lines), set(snap.lines)
        for key, line in self.lines.items():
            found_line = snap.lines[key]
            assert (
                found_line.amount_fen,
                Fraction(found_line.annual_rate),
                found_line.expires_on.isoformat(),
                found_line.used_fen,
            ) == (
                line.amount_fen,
                Fraction(line.annual_rate),
                line.expires_on,
                line.used_fen,
            ), (found_line, line)

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
        # What is held (less what was paid of it) plus what was paid or set off.
        holding_fen = sum(p.amount_fen - p.paid_fen for p in tree if p.state in HOLDING_STATES)
        paid_fen = sum(p.amount_fen if p.state == SETTLED else p.paid_fen for p in tree)
        voided = root.state in VOIDED_STATES
        assert holding_fen + paid_fen == (0 if voided else root.amount_fen), (root, tree)
        assert all(0 <= p.paid_fen < p.amount_fen or p.state == SETTLED for p in tree), tree
        if not voided:  # paid value is no longer outstanding against the issuer's limit
            live_face_fen[root.issuer] += root.amount_fen - paid_fen
        _check_lineage(tree, snap.financings)
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


def _check_lineage(tree: list[Certificate], financings: dict[str, Financing]) -> None:
    """Every piece is consumed at most once, by one transfer or one give-back, exactly.

    The pieces one command created share their ``parent_ids``: a transfer's outputs (whose
    parents are all spent, and which hold exactly what their parents held) or the one
    piece a rejection or an expiry returned (equal to the ended piece, one level down,
    back with its sender — or, financed whole since, with the bank that approved its
    sender's application).
    """

    def first_holder(piece: Certificate) -> str:
        """Who held ``piece`` when it was made: an approval passes it to the bank."""
        financed = financings.get(piece.financing or "")
        if financed and financed.certificate == piece.id and financed.state == APPROVED:
            return financed.applicant
        return piece.holder

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
            assert (first_holder(back), back.amount_fen, back.level) == (
                ended.sender,
                ended.amount_fen,
                ended.level - 1,
            ), (ended, back)
            continue
        assert all(p.state == SPENT for p in ancestors), ancestors
        # A piece set off after a payment in part passes on only what it still held.
        held_fen = sum(p.amount_fen - p.paid_fen for p in ancestors)
        assert sum(c.amount_fen for c in children) == held_fen, (ancestors, children)
    for piece in tree:
        # Value leaves a piece only by being consumed; a voided root leaves no value behind.
        must_be_consumed = piece.state == SPENT or (
            piece.state in (REJECTED, EXPIRED) and piece.id != piece.root_id
        )
        assert consumed[piece.id] == (1 if must_be_consumed else 0), (piece, consumed)


def _locked_pieces_are_financed(snap: Snapshot) -> None:
    """Checked on the stored rows alone: every locked piece is under exactly one
    application still awaiting its bank, made by its holder; every line uses what the
    paper its approvals bought still holds (less what its issuer paid of it), and the
    face of the applications awaiting it (which is not on its row) fits in what is left."""
    locked = {p.id: p for p in snap.pieces.values() if p.state == "locked"}
    requested = {f.id: f for f in snap.financings.values() if f.state == REQUESTED}
    for piece in locked.values():
        financing = requested.get(piece.financing or "")
        assert financing is not None, (piece, snap.financings.get(piece.financing or ""))
        assert (financing.certificate, financing.applicant) == (piece.id, piece.holder), (
            financing,
            piece,
        )
        assert (financing.core, financing.face_fen) == (piece.issuer, piece.amount_fen), piece
    assert sorted(f.certificate for f in requested.values()) == sorted(locked), requested
    faces: dict[tuple[str, str, str], int] = Counter()
    for financing in snap.financings.values():
        faces[(financing.bank, financing.core, financing.state)] += financing.face_fen
    bought: Counter[tuple[str, str]] = Counter()  # what approved paper still holds, by line
    for piece in snap.pieces.values():
        financed = snap.financings.get(piece.financing or "")
        if financed and financed.state == APPROVED and piece.state in HOLDING_STATES:
            bought[(financed.bank, financed.core)] += piece.amount_fen - piece.paid_fen
    for (bank, core), line in snap.lines.items():
        pending_fen = faces[(bank, core, REQUESTED)]
        assert line.used_fen == bought[(bank, core)], (line, bought)
        assert line.used_fen <= faces[(bank, core, APPROVED)], line
        assert line.used_fen >= 0, line
        assert pending_fen <= line.amount_fen - line.used_fen, (line, pending_fen)
        assert snap.line_pending[(bank, core)] == pending_fen, (line, snap.line_pending)
    for bank, core, state in faces:  # no application without a line to draw on
        assert (bank, core) in snap.lines, (bank, core, state)


def _views_add_up(snap: Snapshot) -> None:
    """The issuer's tree view and each member's wallet totals show every stored piece
    that carries value, locked ones included, as it is stored."""
    for root_id, view in snap.tree_views.items():
        stored = [p for p in snap.pieces.values() if p.root_id == root_id]
        assert sorted(
            (w["id"], w["state"], w["holder"], w.get("financing")) for w in view
        ) == sorted((p.id, p.state, p.holder, p.financing) for p in stored), root_id
    holding: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    for piece in snap.pieces.values():
        if piece.state in HOLDING_STATES:
            key = (piece.issuer, piece.maturity.isoformat(), str(piece.state))
            holding[piece.holder][key] += piece.amount_fen - piece.paid_fen
    for member, totals in snap.wallet_totals.items():
        found = {
            (issuer, str(maturity), str(state)): fen for issuer, maturity, state, fen in totals
        }
        assert found == dict(holding[member]), (member, found, holding[member])


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FINANCING_SETTINGS = settings(SETTINGS, max_examples=FINANCING_EXAMPLES)


def _check_assumptions(configured: Settings) -> None:
    """The model assumes the default settings; refuse to run against anything else."""
    assert 3600 <= configured.pending_expiry_s < JUMP_DAYS * 24 * 3600, configured
    assert configured.maturity_days_max == MATURITY_DAYS_MAX, configured
    assert configured.root_pieces_max == ROOT_PIECES_MAX, configured
    assert configured.level_max == 0 and configured.piece_fen_min == 1, configured
    assert configured.outputs_max >= 3, configured
    # Discounting: the tiers, the day count, no fee, the window and the filing.
    multipliers = {t: Fraction(configured.tier_multiplier_bp(t), 10_000) for t in "ABC"}
    assert multipliers == TIER_MULTIPLIERS, configured
    assert configured.day_count_basis == DAY_COUNT_BASIS, configured
    assert configured.financing_fee_bps == 0, configured
    assert configured.financing_window_s == FINANCING_WINDOW.total_seconds(), configured
    assert configured.financing_registration_required == 1, configured
    # Settlement: the grace, the late rate, the notice and the issuer's block.
    assert configured.overdue_grace_days == GRACE_DAYS, configured
    assert Fraction(configured.late_daily_rate) == LATE_DAILY_RATE, configured
    assert configured.settlement_notice_days == NOTICE_DAYS, configured
    assert configured.issuer_overdue_block == 1, configured


class FinancingMachine(CertificateMachine):
    """The same model with the debts and netting rules left out, so that its steps go to
    paper being issued, accepted, split and financed: lines, tiers, applications,
    decisions, cancellations and the 24-hour window."""

    # Not rules here (hypothesis finds rules by name; these names now hold none).
    owe = owe_back = claim_payment = answer_claim = net = None  # type: ignore[assignment]
    transfer_more = None  # type: ignore[assignment]

    @precondition(lambda self: any(f.state == REQUESTED for f in self.financings.values()))
    @rule(data=st.data())
    def answer_financing_again(self, data: st.DataObject) -> None:
        self.answer_financing(data)

    @precondition(lambda self: self._has_free_paper())
    @rule(data=st.data())
    def apply_again(self, data: st.DataObject) -> None:
        """An application, then sometimes a bank that lets its window pass."""
        self.apply(data)
        requested = any(f.state == REQUESTED for f in self.financings.values())
        if requested and data.draw(st.sampled_from([False, False, True]), label="lapses"):
            self.window_passes(data)

    @precondition(lambda self: any(f.state == REQUESTED for f in self.financings.values()))
    @rule(data=st.data())
    def reprice_line(self, data: st.DataObject) -> None:
        """The bank of an application awaiting it sets its line at another rate, then
        approves it (at the rate quoted, whatever the line's now)."""
        requested = [f for f in self.financings.values() if f.state == REQUESTED]
        financing = data.draw(st.sampled_from(requested), label="repriced")
        line = self.lines[(financing.bank, financing.core)]
        rate = data.draw(st.sampled_from([r for r in LINE_RATES if r != line.annual_rate]))
        expires_on = max(line.expires_on, business_date(self.clock))
        self._put_line(financing.bank, financing.core, line.amount_fen, rate, expires_on)
        body = {"id": financing.id, "approve": True, "registration_ref": "ZDW-SM-0002"}
        expected = self._predict_decision(financing, financing.bank, True, None, True)
        lazily = expected == "financing-expired" and self._financing_due(financing)
        bank = self.actors[financing.bank]
        receipt = self._submit(bank, "financing.decide", body, expected, records=lazily)
        if lazily:
            self._financings_expired([financing])
        if receipt is not None:
            self._approved(financing, None, receipt)

    @precondition(lambda self: any(f.state == REQUESTED for f in self.financings.values()))
    @rule(data=st.data())
    def window_passes(self, data: st.DataObject) -> None:
        """A day passes, no sweep: every application awaiting its bank lapses; mostly, a
        command then runs into one of them."""
        self.clock.advance(seconds=int(FINANCING_WINDOW.total_seconds()))
        if data.draw(st.sampled_from([True, True, False]), label="met"):
            self.meet_lapsed(data)

    @precondition(lambda self: any(self._financing_due(f) for f in self.financings.values()))
    @rule(data=st.data())
    def meet_lapsed(self, data: st.DataObject) -> None:
        """Commands run into applications past their window without naming them
        (deciding or cancelling one is ``answer_financing``'s): a bank lowers its line
        below the reserve, or fills the line and another application of that paper finds
        it full; then applicants transfer or apply for their locked pieces."""
        ways = [
            data.draw(st.sampled_from(["lower line", "fill line"]), label="meets a line"),
            *data.draw(st.permutations(["transfer", "apply"]), label="meets pieces"),
        ]
        for how in ways:
            due = [f for f in self.financings.values() if self._financing_due(f)]
            if how == "fill line":  # one whose line other paper can be applied against
                due = [f for f in due if self._free_paper_of(f.core)] or due
                how = how if due and self._free_paper_of(due[0].core) else "lower line"
            if due:
                financing = data.draw(st.sampled_from(due), label="lapsed financing")
                self._meet(data, financing, how)

    def _free_paper_of(self, core: str) -> list[Piece]:
        return [
            p
            for p in self.pieces.values()
            if p.state == ACTIVE and p.financing is None and p.issuer == core
        ]

    def _meet(self, data: st.DataObject, financing: ModelFinancing, how: str) -> None:
        piece = self.pieces[financing.certificate]
        bank, core = financing.bank, financing.core
        line = self.lines[(bank, core)]
        in_use_fen = line.used_fen + self._pending_fen(bank, core)
        if how == "transfer":
            to = next(m for m in self.suppliers if m != piece.holder)
            cited = [self._new_invoice(piece.amount_fen)]
            self._try_transfer(piece.holder, [piece.id], [(to, piece.amount_fen)], cited)
        elif how == "apply":
            self._try_apply(piece.holder, piece, {"certificate": piece.id, "bank": bank})
        elif how == "lower line":
            self._put_line(bank, core, in_use_fen - 1, line.annual_rate, line.expires_on)
        else:  # exactly what is in use, then any application of that paper
            free = self._free_paper_of(core)
            expires_on = max(line.expires_on, business_date(self.clock))
            self._put_line(bank, core, in_use_fen, line.annual_rate, expires_on)
            if free:
                other = data.draw(st.sampled_from(free), label="applied for")
                self._try_apply(other.holder, other, {"certificate": other.id, "bank": bank})

    @precondition(lambda self: bool(self._payable()))
    @rule(data=st.data())
    def pay_again(self, data: st.DataObject) -> None:
        """Financed paper paid: the bank's line restored."""
        self.pay(data)

    @rule(data=st.data())
    def issue_accepted(self, data: st.DataObject) -> None:
        """Paper issued and accepted at once: something to finance."""
        before = set(self.pieces)
        self.issue(data)
        for piece in [p for i, p in self.pieces.items() if i not in before]:
            body = {"id": piece.id}
            assert self._submit(self.actors[piece.holder], "certificate.accept", body, None)
            piece.state, piece.sender = ACTIVE, None


def test_random_certificate_traffic_keeps_the_ledger_and_the_model_in_step(
    template: Template, tmp_path: Path
) -> None:
    def machine() -> CertificateMachine:
        return CertificateMachine(template, tmp_path)

    run_state_machine_as_test(machine, settings=SETTINGS)  # type: ignore[arg-type]  # a factory


def test_random_financing_traffic_keeps_the_ledger_and_the_model_in_step(
    template: Template, tmp_path: Path
) -> None:
    def machine() -> FinancingMachine:
        return FinancingMachine(template, tmp_path)

    run_state_machine_as_test(machine, settings=FINANCING_SETTINGS)  # type: ignore[arg-type]
