"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors
from api.routes import commands, ledger_routes, members
from ledger.db import make_engine
from ledger.service import Ledger


def create_app(ledger: Ledger | None = None, *, database_url: str | None = None) -> FastAPI:
    """An app serving ``ledger`` (or a new one on ``database_url``/``DCC_DATABASE_URL``)."""
    app = FastAPI(
        title="dcc — digital credit certificates",
        version="1.0",
        description=(
            "Every write is a signed command envelope POSTed to /v1/commands; every read is "
            "a signed request (X-DCC-* headers). Errors are application/problem+json. "
            "See docs/api.md."
        ),
    )
    app.state.ledger = ledger or Ledger(make_engine(database_url))
    errors.install(app)
    app.include_router(commands.router)
    app.include_router(members.router)
    app.include_router(ledger_routes.router)
    return app
