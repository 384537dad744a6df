"""Verifying the ledger: checkpoints, inclusion and consistency proofs, and entries.

Every route is a signed read (``api.auth.reader``). Checkpoints and consistency proofs
reveal only tree sizes and hashes, so any admitted member may read them; an inclusion
proof and the entry itself show what one entry is, so only its parties
(``entry_parties``) and the operator see them — anyone else gets ``not-found``, as if
there were no such entry. See docs/api.md, "Verifying the ledger".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from api.auth import reader
from api.capacity import capacity_of
from api.openapi import answers
from api.schemas import CheckpointView, ConsistencyProof, EntryKey, EntryView, InclusionProof
from ledger import reads, transparency
from ledger.errors import Refusal
from ledger.limits import TREE_SIZE_MAX
from ledger.members import Member
from ledger.repository import Repository
from ledger.service import Ledger

router = APIRouter(tags=["verifying"])

Size = Annotated[int, Query(ge=1, le=TREE_SIZE_MAX)]
EntrySeq = Annotated[int, Path(ge=1, le=TREE_SIZE_MAX)]
NOT_VISIBLE = "no such entry, or not visible to this member"


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _answer(request: Request, view: dict[str, Any]) -> dict[str, Any] | Response:
    """The checkpoint as JSON, or its signed note alone for ``Accept: text/plain``."""
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        return PlainTextResponse(view["note"])
    return view


@router.get(
    "/v1/ledger/checkpoint",
    summary="The latest signed checkpoint of the Merkle tree",
    **answers(CheckpointView, also=["text/plain"]),
)
async def latest_checkpoint(
    request: Request, _viewer: Member = Depends(reader())
) -> dict[str, Any] | Response:
    """Signs one first if one is due (so the answer is never older than
    ``checkpoint_interval_s`` or ``checkpoint_entries``); ``unavailable`` without a log key."""
    ledger, capacity = _ledger(request), capacity_of(request.app.state)
    await capacity.write(ledger.checkpoint)
    return _answer(request, await capacity.read(ledger.read, transparency.checkpoint_view, None))


@router.get(
    "/v1/ledger/checkpoints/{size}",
    summary="A past checkpoint, by tree size",
    **answers(CheckpointView, also=["text/plain"]),
)
async def checkpoint_at(
    request: Request,
    size: Annotated[int, Path(ge=1, le=TREE_SIZE_MAX)],
    _viewer: Member = Depends(reader()),
) -> dict[str, Any] | Response:
    ledger = _ledger(request)
    view = await capacity_of(request.app.state).read(
        ledger.read, transparency.checkpoint_view, size
    )
    return _answer(request, view)


def _visible(repo: Repository, viewer: Member, seq: int) -> None:
    if not viewer.has_role("operator") and not repo.is_party(viewer.id, seq):
        raise Refusal("not-found", NOT_VISIBLE)


def _inclusion(repo: Repository, viewer: Member, seq: int, size: int) -> dict[str, Any]:
    _visible(repo, viewer, seq)
    return transparency.inclusion(repo, seq, size)


def _entry(repo: Repository, viewer: Member, seq: int) -> dict[str, Any]:
    _visible(repo, viewer, seq)
    return transparency.entry_view(repo, seq)


def _entry_key(repo: Repository, viewer: Member, seq: int) -> dict[str, Any]:
    _visible(repo, viewer, seq)
    return reads.entry_key(repo, viewer, seq)


@router.get(
    "/v1/ledger/proofs/inclusion",
    summary="Proof that an entry is in the tree of a size (its parties and the operator)",
    **answers(InclusionProof),
)
async def inclusion_proof(
    request: Request, seq: Size, size: Size, viewer: Member = Depends(reader())
) -> dict[str, Any]:
    ledger = _ledger(request)
    return await capacity_of(request.app.state).read(ledger.read, _inclusion, viewer, seq, size)


@router.get(
    "/v1/ledger/proofs/consistency",
    summary="Proof that the tree of one size extends the tree of a smaller one",
    **answers(ConsistencyProof),
)
async def consistency_proof(
    request: Request,
    first: Annotated[int, Query(alias="from", ge=1, le=TREE_SIZE_MAX)],
    second: Annotated[int, Query(alias="to", ge=1, le=TREE_SIZE_MAX)],
    _viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    ledger = _ledger(request)
    return await capacity_of(request.app.state).read(
        ledger.read, transparency.consistency, first, second
    )


@router.get(
    "/v1/ledger/entries/{seq}",
    summary="An entry as hashed (its parties and the operator)",
    **answers(EntryView),
)
async def entry(
    request: Request,
    seq: EntrySeq,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    ledger = _ledger(request)
    return await capacity_of(request.app.state).read(ledger.read, _entry, viewer, seq)


@router.get(
    "/v1/ledger/entries/{seq}/key",
    summary="The key that signed an entry, by name (its parties and the operator)",
    **answers(EntryKey),
)
async def entry_key(
    request: Request,
    seq: EntrySeq,
    viewer: Member = Depends(reader()),
) -> dict[str, Any]:
    ledger = _ledger(request)
    return await capacity_of(request.app.state).read(ledger.read, _entry_key, viewer, seq)
