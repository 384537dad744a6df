"""Netting preview and obligation reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import NettingPreview, ObligationView
from ledger import reads
from ledger.members import Member
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["netting"])


@router.get(
    "/netting/preview",
    summary="What netting would clear now (operator)",
    **answers(NettingPreview, "netting-too-large"),
)
async def preview(
    request: Request, mode: str = "setoff", viewer: Member = Depends(reader("operator"))
) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    return await capacity_of(request.app.state).read(
        ledger.read, reads.netting_preview, viewer, mode, ledger.settings
    )


@router.get(
    "/obligations/{obligation_id}",
    summary="One obligation (its parties, operator)",
    **answers(ObligationView),
)
async def get_obligation(
    obligation_id: str, request: Request, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    return await capacity_of(request.app.state).read(
        ledger.read, reads.obligation, viewer, obligation_id
    )
