"""What `dcc serve` asks of uvicorn: the lean front (the behaviour is tested end to end in
tests/e2e/test_http_limits.py and tests/e2e/test_workers.py)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.server import BoundedHttpToolsProtocol, uvicorn_options
from ledger.settings import Settings


def test_serve_runs_uvloop_and_httptools_without_an_access_log() -> None:
    settings = Settings()
    options = uvicorn_options(settings, "127.0.0.1", 8000, workers=3)
    assert options["loop"] == "uvloop" and options["access_log"] is False
    assert options["http"] is BoundedHttpToolsProtocol
    assert issubclass(BoundedHttpToolsProtocol, HttpToolsProtocol)
    assert options["ws"] == "none" and options["workers"] == 3
    assert options["factory"] is True and options["app"] == "api.server:worker_app"
    assert options["timeout_keep_alive"] == settings.http_keep_alive_s
    assert options["limit_concurrency"] == settings.http_connections_max
    assert options["backlog"] == settings.http_listen_backlog_max
