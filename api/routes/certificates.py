"""Certificate reads: one piece, a whole tree, a wallet and its history."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import reader
from api.capacity import capacity_of, read_touching
from api.openapi import answers
from api.schemas import (
    CertificateView,
    EvidenceBundle,
    FlaggedRootsPage,
    HistoryPage,
    TreePage,
    WalletPage,
)
from ledger import evidence, reads
from ledger.certificates import LONG_TENOR
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["certificates"])


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


@router.get("/certificates/{certificate_id}", summary="One certificate", **answers(CertificateView))
async def get_certificate(
    certificate_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    return await read_touching(request.app.state, reads.certificate, viewer, certificate_id)


@router.get(
    "/certificates/{certificate_id}/tree",
    summary="The tree of a root, a page of pieces at a time (issuer, operator)",
    **answers(TreePage),
)
async def get_tree(
    certificate_id: str,
    request: Request,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    return await read_touching(request.app.state, reads.tree, viewer, certificate_id, cursor, limit)


@router.get(
    "/certificates/{certificate_id}/evidence",
    summary="The piece's lineage, proved against a signed checkpoint (who may read the piece)",
    **answers(EvidenceBundle),
)
async def get_evidence(
    certificate_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    """Signs a checkpoint first when the latest does not cover the head (at most one per
    entry appended since): the bundle's proofs are against a checkpoint that holds the
    piece's latest entry. See ``ledger.evidence``."""
    ledger, capacity = _ledger(request), capacity_of(request.app.state)
    await capacity.read(ledger.read, reads.certificate, viewer, certificate_id)
    await capacity.write(partial(ledger.checkpoint, force=True))
    return await capacity.read(ledger.read, evidence.evidence, viewer, certificate_id)


@router.get(
    "/wallets/{member}",
    summary="A member's holdings (the member itself, operator)",
    **answers(WalletPage),
)
async def get_wallet(
    member: str,
    request: Request,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    return await read_touching(request.app.state, reads.wallet, viewer, member, cursor, limit)


@router.get(
    "/wallets/{member}/history",
    summary="Entries that touched a member, newest first",
    **answers(HistoryPage),
)
async def get_history(
    member: str,
    request: Request,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    return await capacity_of(request.app.state).read(
        _ledger(request).read, reads.history, viewer, member, cursor, limit
    )


@router.get(
    "/reports/long-tenor",
    summary="Live paper with a tenor over 180 days (operator)",
    **answers(FlaggedRootsPage),
)
async def get_long_tenor(
    request: Request,
    cursor: str | None = None,
    limit: int | None = None,
    viewer: Member = Depends(reader("operator")),
) -> dict[str, Any]:
    return await capacity_of(request.app.state).read(
        _ledger(request).read, reads.flagged_roots, viewer, LONG_TENOR, cursor, limit
    )
