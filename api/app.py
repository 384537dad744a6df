"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs, errors, openapi
from api.bodies import BodyLimit
from api.capacity import Capacity
from api.routes import (
    certificates,
    commands,
    financing,
    ledger_routes,
    listings,
    members,
    netting,
    proofs,
    settlement,
    webhooks,
)
from ledger.db import make_engine
from ledger.jobs import checkpointer, relay, sweeper
from ledger.service import Ledger


def create_app(
    ledger: Ledger | None = None,
    *,
    database_url: str | None = None,
    background_sweep: bool = False,
    background_relay: bool = False,
) -> FastAPI:
    """An app serving ``ledger`` (or a new one on ``database_url``/``DCC_DATABASE_URL``).

    ``background_sweep`` runs the expiry sweep every ``sweep_interval_s`` and the
    checkpointer (``dcc serve`` turns them on; tests drive both themselves).
    ``background_relay`` runs the webhook relay on a thread of this process: for an app
    in process (the tests); under ``dcc serve`` the relay runs once, in the sequencer's
    process (``ledger.remote``), and no worker runs one.
    """
    ledger = ledger or Ledger(make_engine(database_url))
    capacity = Capacity(ledger.settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        capacity.reset()
        stop = sweeper.start(ledger) if background_sweep else None
        signing = checkpointer.start(ledger) if background_sweep else None
        sending = relay.start(ledger) if background_relay else None
        yield
        if stop is not None:
            stop.set()
        if signing is not None:
            signing.set()
        if sending is not None:
            sending.stop()
        # What is queued is applied and answered before the process goes.
        ledger.stop_sequencer()

    app = FastAPI(
        title="dcc — digital credit certificates",
        version="1.0",
        description=(
            "Every write is a signed command envelope POSTed to /v1/commands; every read is "
            "a signed request (X-DCC-* headers). Errors are application/problem+json. "
            "See docs/api.md."
        ),
        lifespan=lifespan,
        # A redirect to the path with(out) its trailing slash would be built from the
        # request's Host header, which the client chose: answer 404 instead.
        redirect_slashes=False,
        # An operation's id is its function's name (get_member, submit): what a generated
        # client names its calls (unique: tests/integration/test_openapi.py).
        generate_unique_id_function=lambda route: route.name,
        # Served by api.docs from a package, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ledger = ledger
    app.state.capacity = capacity
    app.add_middleware(
        BodyLimit,
        bytes_max=ledger.settings.request_body_bytes_max,
        read_s_max=ledger.settings.request_body_read_s_max,
    )
    errors.install(app)
    app.include_router(commands.router)
    app.include_router(members.router)
    app.include_router(listings.router)
    app.include_router(certificates.router)
    app.include_router(netting.router)
    app.include_router(financing.router)
    app.include_router(settlement.router)
    app.include_router(webhooks.router)
    app.include_router(ledger_routes.router)
    app.include_router(proofs.router)
    openapi.install(app)
    docs.install(app)
    return app
