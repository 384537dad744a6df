"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.bodies import BodyLimit
from api.capacity import Capacity
from api.routes import certificates, commands, ledger_routes, members, netting
from ledger.db import make_engine
from ledger.service import Ledger

log = logging.getLogger("dcc.sweeper")


def _sweeper(ledger: Ledger, interval_s: float, stop: threading.Event) -> None:
    """Expire due pending pieces every ``interval_s`` until ``stop`` is set."""
    while not stop.wait(interval_s):
        try:
            written = ledger.sweep_all()
            if written:
                log.info("sweep wrote %d expiry entries", written)
        except Exception:  # a failed sweep is retried at the next tick; the server stays up
            log.exception("sweep failed")


def create_app(
    ledger: Ledger | None = None,
    *,
    database_url: str | None = None,
    background_sweep: bool = False,
) -> FastAPI:
    """An app serving ``ledger`` (or a new one on ``database_url``/``DCC_DATABASE_URL``).

    ``background_sweep`` runs the expiry sweep every ``sweep_interval_s`` (``dcc serve``
    turns it on; tests drive the sweep themselves).
    """
    ledger = ledger or Ledger(make_engine(database_url))
    capacity = Capacity(ledger.settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        capacity.reset()
        stop = threading.Event()
        if background_sweep and ledger.settings.sweep_interval_s > 0:
            threading.Thread(
                target=_sweeper,
                args=(ledger, ledger.settings.sweep_interval_s, stop),
                name="dcc-sweeper",
                daemon=True,
            ).start()
        yield
        stop.set()

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
    app.include_router(certificates.router)
    app.include_router(netting.router)
    app.include_router(ledger_routes.router)
    return app
