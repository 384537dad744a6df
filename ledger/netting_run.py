"""Netting through the journal: compute a set-off plan and apply it to what is owed.

The debt graph comes from the ledger state: an edge debtor → creditor for every
certificate piece (``active`` or ``overdue``) issued by the debtor and held by the
creditor, and every ``confirmed`` obligation with something outstanding (one with a
settlement claim awaiting its creditor is not: ``ledger.obligations``) — only where
both parties consented to netting and are active (a suspended member's debts are frozen
with it). ``netting.setoff`` finds the maximum set-off; this module applies each
reduction to the items on its edge:

* items on an edge are consumed **earliest due first** — a certificate is due at its
  maturity, an obligation at its due date; on the same day certificates go before
  obligations, then by id — each up to what it holds;
* an obligation is reduced; at zero outstanding it is ``settled``;
* a certificate piece reduced in full becomes ``settled``; a piece reduced in part is
  split: it becomes ``spent`` and gives two children of the same holder and level, a
  ``settled`` one for the cleared part and an ``active`` one for the rest;
* the cleared part of a certificate restores its issuer's issuance limit, as a
  settlement would.

The plan and its summary are recorded in the entry's effects (``effects.netting``), so
a replay applies the recorded outcome and never re-solves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from ledger import credit, obligations
from ledger.certificates import SETTLED, SPENT, Certificate, business_today
from ledger.commands import Date, WireModel, register_body
from ledger.context import Context, Effects
from ledger.credit import IssuanceLimit
from ledger.errors import Refusal
from ledger.money import format_fen
from ledger.obligations import Obligation
from netting.graph import GROSS_FEN_MAX, Debt, build_graph
from netting.novation import novation_plan
from netting.report import NettingReport, novation_report, setoff_report
from netting.setoff import Reduction, solve_setoff


class RunBody(WireModel):
    mode: Literal["setoff"]
    as_of: Date


register_body("netting.run", RunBody)


@dataclass(frozen=True)
class NettingState:
    pieces: Sequence[Certificate]  # live pieces between consenting members
    obligations: Sequence[Obligation]  # confirmed, outstanding, between consenting members
    limits: Mapping[str, IssuanceLimit]  # of the pieces' issuers


def debts_of(state: NettingState) -> list[Debt]:
    debts = [Debt(p.issuer, p.holder, p.amount_fen) for p in state.pieces]
    debts += [Debt(o.debtor, o.creditor, o.outstanding_fen) for o in state.obligations]
    gross_fen = sum(debt.amount_fen for debt in debts)
    if gross_fen > GROSS_FEN_MAX:
        raise Refusal(
            "netting-too-large",
            f"the debts total {format_fen(gross_fen)}, above the "
            f"{format_fen(GROSS_FEN_MAX)} one netting can take",
        )
    return debts


def preview(state: NettingState, mode: str) -> NettingReport:
    graph = build_graph(debts_of(state))
    if mode == "novation":
        return novation_report(graph, novation_plan(graph))
    return setoff_report(graph, solve_setoff(graph))


def run(state: NettingState, body: RunBody, ctx: Context) -> Effects:
    today = business_today(ctx)
    if body.as_of != today:
        raise Refusal(
            "validation",
            f"as_of {body.as_of.isoformat()} is not today ({today.isoformat()}): a run "
            "applies to the ledger as it is now",
        )
    graph = build_graph(debts_of(state))
    plan = solve_setoff(graph)
    report: dict[str, Any] = dict(setoff_report(graph, plan))
    report["as_of"] = body.as_of.isoformat()
    applied = _apply(state, plan.reductions, ctx)
    return {"netting": report, **applied}


_Item = tuple[date, int, str, Certificate | Obligation]


def _items_by_edge(state: NettingState) -> dict[tuple[str, str], list[_Item]]:
    edges: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for piece in state.pieces:
        edges[(piece.issuer, piece.holder)].append((piece.maturity, 0, piece.id, piece))
    for obligation in state.obligations:
        edges[(obligation.debtor, obligation.creditor)].append(
            (obligation.due_date, 1, obligation.id, obligation)
        )
    for items in edges.values():
        items.sort(key=lambda item: item[:3])
    return edges


def _apply(state: NettingState, reductions: Sequence[Reduction], ctx: Context) -> Effects:
    edges = _items_by_edge(state)
    certificates: list[Certificate] = []
    changed_obligations: list[Obligation] = []
    limits = dict(state.limits)
    next_index = 0
    for reduction in reductions:
        left_fen = reduction.amount_fen
        for _due, _kind, _id, item in edges[(reduction.debtor, reduction.creditor)]:
            if left_fen == 0:
                break
            if isinstance(item, Obligation):
                take = min(left_fen, item.outstanding_fen)
                changed_obligations.append(obligations.reduce(item, take))
            else:
                take = min(left_fen, item.amount_fen)
                pieces, next_index = _settle_piece(item, take, ctx, next_index)
                certificates.extend(pieces)
                limits[item.issuer] = credit.restore(limits[item.issuer], take)
            left_fen -= take
        assert left_fen == 0, ("the plan reduced an edge beyond its items", reduction)
    touched = sorted({piece.issuer for piece in certificates})
    return {
        "certificates": [piece.wire() for piece in certificates],
        "obligations": [obligation.wire() for obligation in changed_obligations],
        "limits": [limits[issuer].wire() for issuer in touched],
    }


def _settle_piece(
    piece: Certificate, take_fen: int, ctx: Context, index: int
) -> tuple[list[Certificate], int]:
    """Settle ``take_fen`` of ``piece`` by set-off; returns the changed pieces."""
    if take_fen == piece.amount_fen:
        return [replace(piece, state=SETTLED)], index
    child = replace(
        piece,
        parent_ids=(piece.id,),
        invoice_uses=(),
        memo=None,
        created_seq=ctx.seq,
        sender=None,
        expires_at=None,
    )
    cleared = replace(child, id=ctx.derive_id(index), amount_fen=take_fen, state=SETTLED)
    rest = replace(child, id=ctx.derive_id(index + 1), amount_fen=piece.amount_fen - take_fen)
    return [replace(piece, state=SPENT), cleared, rest], index + 2
