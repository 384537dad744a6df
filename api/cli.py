"""``dcc``: the command-line tool (serve, db upgrade, keygen, init, verify, submit, report)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.db import database_url, make_engine, snapshot
from ledger.errors import Refusal
from ledger.keys import generate_private_key, load_private_key_pem, private_key_pem, public_key_b64
from ledger.service import Ledger

app = typer.Typer(
    help="dcc: digital credit certificates on a signed, hash-chained ledger.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
report_app = typer.Typer(
    help="Settlement reports, read from the database directly (as the operator).",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")
log_key_app = typer.Typer(
    help="The service's log key, which signs checkpoints.", no_args_is_help=True
)
app.add_typer(log_key_app, name="log-key")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: DCC_DATABASE_URL or sqlite:///./dcc.db)"),
]


def _ledger(db: str | None) -> Ledger:
    from migrations.runner import upgrade

    engine = make_engine(database_url(db))
    upgrade(engine)
    return Ledger(engine)


def _refused(refusal: Refusal) -> None:
    typer.echo(f"refused ({refusal.type}): {refusal.detail}", err=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply every migration to the database."""
    from migrations.runner import current_revision, upgrade

    engine = make_engine(database_url(db))
    upgrade(engine)
    typer.echo(f"database at revision {current_revision(engine)}")


@app.command()
def keygen(out: Annotated[str, typer.Option("--out", help="Writes OUT.key and OUT.pub")]) -> None:
    """Generate an Ed25519 key pair: OUT.key (PKCS#8 PEM, mode 0600) and OUT.pub."""
    key_path = Path(f"{out}.key")
    if key_path.exists():
        typer.echo(f"{key_path} exists; refusing to overwrite a private key", err=True)
        raise typer.Exit(1)
    _write_key_pair(key_path)
    typer.echo(f"wrote {key_path} and {key_path.with_suffix('.pub')}")


def _write_key_pair(key_path: Path) -> Ed25519PrivateKey:
    """A new key at ``key_path`` (PKCS#8 PEM, mode 0600, never overwritten) and its
    public half beside it (``.pub``)."""
    private = generate_private_key()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(private))
    key_path.with_suffix(".pub").write_text(public_key_b64(private.public_key()) + "\n")
    return private


def _log_key(ledger: Ledger) -> Ed25519PrivateKey:
    """The log key in ``DCC_LOG_KEY_FILE`` (default keys/log.key), made if missing."""
    path = Path(ledger.settings.log_key_file)
    if path.is_file():
        return load_private_key_pem(path.read_bytes())
    private = _write_key_pair(path)
    typer.echo(f"wrote the log key {path} and {path.with_suffix('.pub')}")
    return private


def _publish_log_key(
    ledger: Ledger, log_private: Ed25519PrivateKey, operator_key: Path, operator_id: str
) -> None:
    """Publish the log key (``ledger.log_key``, signed by the operator) unless it is the
    published one already."""
    from ledger.keys import key_id_of
    from ledger.repository import Repository
    from ledger.signing import sign_command

    public = public_key_b64(log_private.public_key())
    with ledger.connect() as conn, conn.begin():
        active = Repository(conn).active_log_key()
    if active is not None and active.key_id == key_id_of(public):
        typer.echo(f"log key {active.key_id} is published (seq {active.published_seq})")
        return
    envelope = sign_command(
        load_private_key_pem(operator_key.read_bytes()),
        operator_id,
        "ledger.log_key",
        {"name": f"dcc/{ledger.ledger_id()}", "public_key": public},
        issued_at=datetime.now(UTC),
        ledger=ledger.ledger_id(),
    )
    try:
        receipt = ledger.execute(envelope)
    except Refusal as refusal:
        _refused(refusal)
    typer.echo(f"log key published: seq {receipt.seq}")


@app.command()
def init(
    operator_key: Annotated[Path, typer.Option("--operator-key", help="The operator's NAME.pub")],
    operator_id: Annotated[str, typer.Option("--operator-id", help="The operator's USCC")],
    operator_name: Annotated[str, typer.Option("--operator-name")],
    db: DbOption = None,
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Succeed quietly if already initialised")
    ] = False,
    operator_signing_key: Annotated[
        Path | None,
        typer.Option(
            "--operator-signing-key",
            help="The operator's NAME.key: also publish the log key (ledger.log_key)",
        ),
    ] = None,
) -> None:
    """Write the genesis entry (seq 1) that admits the operator, and make the log key
    (DCC_LOG_KEY_FILE, default keys/log.key) if missing; with --operator-signing-key,
    publish it too."""
    ledger = _ledger(db)
    public_key = operator_key.read_text().strip()
    try:
        receipt = ledger.genesis(operator_id, operator_name, public_key)
        typer.echo(f"genesis written: seq {receipt.seq} {receipt.entry_hash}")
    except Refusal as refusal:
        if not (if_needed and refusal.type == "already-initialised"):
            _refused(refusal)
        typer.echo("already initialised")
    log_private = _log_key(ledger)
    if operator_signing_key is not None:
        _publish_log_key(ledger, log_private, operator_signing_key, operator_id)
    ledger.close()


@log_key_app.command("init")
def log_key_init(
    operator_key: Annotated[Path, typer.Option("--operator-key", help="The operator's NAME.key")],
    operator_id: Annotated[str, typer.Option("--operator-id", help="The operator's USCC")],
    db: DbOption = None,
) -> None:
    """Make the log key (DCC_LOG_KEY_FILE) if missing and publish it, signed by the
    operator, unless it is the published one. To rotate: move the old file aside first."""
    ledger = _ledger(db)
    _publish_log_key(ledger, _log_key(ledger), operator_key, operator_id)
    ledger.close()


@app.command()
def verify(
    db: DbOption = None,
    reexecute: Annotated[
        bool,
        typer.Option("--reexecute", help="Only re-execute every command and compare its effects"),
    ] = False,
) -> None:
    """Recompute every hash, link and signature, rebuild the projections, then re-execute
    every command and compare its effects (under the rule settings the journal recorded
    before each entry)."""
    from sqlalchemy.exc import DBAPIError

    from ledger.repository import Repository
    from ledger.verify import verify as run_verify

    engine = make_engine(database_url(db))
    try:
        with snapshot(engine) as conn, conn.begin():
            report = run_verify(Repository(conn), chain=not reexecute)
    except DBAPIError as exc:  # no journal to read: say so, as a failed verification
        typer.echo(
            f"seq 0: cannot read the journal ({type(exc.orig).__name__}); "
            "is this a dcc database? (`dcc db upgrade` creates one)"
        )
        raise typer.Exit(1) from exc
    for problem in report.problems:
        typer.echo(str(problem))
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"ok: {report.entries} entries, head {report.head_hash}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    db: DbOption = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes sharing the port, each with its own pools (default 1)",
        ),
    ] = 1,
) -> None:
    """Migrate, then serve the HTTP API (OpenAPI at /docs) from WORKERS processes, with
    the limits and timeouts of docs/operations.md (DCC_* settings)."""
    from api import server
    from migrations.runner import upgrade

    url = database_url(db)
    engine = make_engine(url)
    upgrade(engine)  # once, before any worker starts
    engine.dispose()
    server.run(url, host, port, workers)


@app.command()
def sweep(db: DbOption = None) -> None:
    """Do what is due by the clock (also run by `dcc serve`): expire pending pieces and
    applications past their deadlines, bring paper in flight home at maturity, mark
    overdue paper, and write settlement notices."""
    written = _ledger(db).sweep_all()
    typer.echo(f"{written} expiry entries written")


@app.command()
def submit(
    key: Annotated[Path, typer.Option("--key", help="The signer's NAME.key")],
    signer: Annotated[str, typer.Option("--signer", help="The signer's member id")],
    command_type: Annotated[str, typer.Argument(metavar="TYPE")],
    body: Annotated[str, typer.Argument(help="The command body as JSON ('-' reads stdin)")],
    url: Annotated[str, typer.Option("--url")] = "http://127.0.0.1:8000",
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="The ledger id to sign for (default: ask the server)"),
    ] = None,
) -> None:
    """Sign a command with a local key and POST it; print the receipt or the problem."""
    import httpx

    from api.client import DccClient

    private = load_private_key_pem(key.read_bytes())
    payload = json.loads(sys.stdin.read() if body == "-" else body)
    with httpx.Client(base_url=url, timeout=30) as http:
        response = DccClient(http, signer, private, ledger=ledger).submit(command_type, payload)
    typer.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))
    if response.status_code >= 400:
        raise typer.Exit(2)


@app.command()
def net(
    mode: Annotated[str, typer.Option("--mode", help="setoff or novation")] = "setoff",
    db: DbOption = None,
) -> None:
    """Preview netting on the current ledger state (nothing is applied).

    Applying a set-off is an operator-signed command: `dcc submit ... netting.run
    '{"mode": "setoff", "as_of": "YYYY-MM-DD"}'`.
    """
    from ledger.handlers import netting_state
    from ledger.netting_run import preview
    from ledger.repository import Repository
    from ledger.settings import Settings
    from netting.report import NettingReport, render_report

    if mode not in ("setoff", "novation"):
        typer.echo("--mode must be setoff or novation", err=True)
        raise typer.Exit(2)
    engine = make_engine(database_url(db))
    with engine.connect() as conn, conn.begin():
        report = preview(netting_state(Repository(conn)), mode, Settings.from_env())
    typer.echo(render_report(cast(NettingReport, report)))
    for excluded in report["excluded"]:
        typer.echo(
            f"left out: {excluded['members']} members, {excluded['edges']} debts, "
            f"gross {excluded['gross']} ({excluded['reason']})"
        )


@app.command()
def get(
    key: Annotated[Path, typer.Option("--key", help="The reader's NAME.key")],
    signer: Annotated[str, typer.Option("--signer", help="The reader's member id")],
    path: Annotated[str, typer.Argument(help="e.g. /v1/wallets/<id>")],
    url: Annotated[str, typer.Option("--url")] = "http://127.0.0.1:8000",
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="The ledger id to sign for (default: ask the server)"),
    ] = None,
) -> None:
    """A signed read: GET a path as a member and print the JSON."""
    import httpx

    from api.client import DccClient

    private = load_private_key_pem(key.read_bytes())
    with httpx.Client(base_url=url, timeout=30) as http:
        response = DccClient(http, signer, private, ledger=ledger).get(path)
    typer.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))
    if response.status_code >= 400:
        raise typer.Exit(2)


def _http(url: str) -> Any:
    """The HTTP client for ``url`` (a context manager; tests put the in-process app here)."""
    import httpx

    return httpx.Client(base_url=url, timeout=30)


@app.command()
def audit(
    member: Annotated[str, typer.Option("--member", help="The member's id")],
    key: Annotated[Path, typer.Option("--key", help="The member's NAME.key")],
    url: Annotated[str, typer.Option("--url")] = "http://127.0.0.1:8000",
    state: Annotated[
        Path, typer.Option("--state", help="Where the pinned log key and last checkpoint live")
    ] = Path(".dcc-audit"),
) -> None:
    """Check the member's entries (hash, signature, inclusion), the checkpoint's signature
    by the pinned log key, and that the log only grew since the last run. Exit 1, with
    the signed checkpoints as evidence, on any rollback, fork or bad entry."""
    from api.audit import audit as run_audit
    from api.client import DccClient

    private = load_private_key_pem(key.read_bytes())
    with _http(url) as http:
        report = run_audit(DccClient(http, member, private), state)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify-evidence")
def verify_evidence(
    file: Annotated[Path, typer.Argument(help="An evidence bundle (JSON)")],
    operator_key: Annotated[
        Path, typer.Option("--operator-key", help="The operator's public key (OPERATOR.pub)")
    ],
) -> None:
    """Check an evidence bundle offline (no server, no database) and print the lineage."""
    from ledger.audit import verify_evidence as check

    try:
        bundle = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        typer.echo(f"FAIL bundle: cannot read {file} ({exc})")
        raise typer.Exit(1) from exc
    report = check(bundle, operator_key.read_text().strip())
    for line in report.lineage:
        typer.echo(line)
    for finding in report.findings:
        typer.echo(f"FAIL {finding}")
    typer.echo("ok" if report.ok else f"{len(report.findings)} problem(s)")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    operator_key: Annotated[Path, typer.Option("--operator-key")] = Path("keys/operator.key"),
    operator_id: Annotated[str, typer.Option("--operator-id")] = "91110000MA0000000H",
    url: Annotated[str, typer.Option("--url")] = "http://127.0.0.1:8000",
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Keep what --settle needs here (the demo's own keys)"),
    ] = None,
    settle: Annotated[
        bool,
        typer.Option("--settle", help="Second act, at maturity: the core pays every holder"),
    ] = False,
) -> None:
    """Walk a certificate through issue → accept → two levels of split → discounting at a
    bank played by `dcc bank-sim` → tree view; with --settle (and the --state the first
    act kept), on a server at the maturity date, the core pays every holder."""
    import httpx

    from api import demo as walkthrough

    with httpx.Client(base_url=url, timeout=30) as http:
        if settle:
            if state is None:
                raise typer.BadParameter("--settle needs the --state the first act kept")
            typer.echo(walkthrough.render_settlement(walkthrough.settle(http, state)))
            return
        private = load_private_key_pem(operator_key.read_bytes())
        walked = walkthrough.run(http, operator_id, private, state)
    typer.echo(walkthrough.render(walked))


@app.command("bank-sim")
def bank_sim(
    member: Annotated[str, typer.Option("--member", help="The bank's member id")],
    key: Annotated[Path, typer.Option("--key", help="The bank's NAME.key")],
    service: Annotated[str, typer.Option("--service", help="The ledger's base URL")],
    port: Annotated[int, typer.Option("--port", help="Where to hear webhooks (127.0.0.1)")],
    approve_up_to: Annotated[
        str, typer.Option("--approve-up-to", help="Approve financing up to this face amount")
    ] = "1000000.00",
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Where the ids already handled are kept")
    ] = Path("."),
) -> None:
    """Play a bank: hear webhooks (verified with standardwebhooks, each handled once across
    restarts), approve financing up to an amount, reject above, accept what is sent."""
    import logging

    from api import banksim
    from ledger.money import parse_amount

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    private = load_private_key_pem(key.read_bytes())
    banksim.run(member, private, service, port, parse_amount(approve_up_to), state_dir)


def main() -> None:
    app()


if __name__ == "__main__":
    main()


# -- dcc report ----------------------------------------------------------------------

IssuerOption = Annotated[str, typer.Option("--issuer", help="The issuer's member id")]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV instead of a table")]


def _report(db: str | None, as_csv: bool, view: Callable[..., Any], *args: Any) -> None:
    """Every page of a report (``ledger.reports``), as one table or one CSV."""
    from ledger.reports import Page
    from ledger.repository import Repository

    engine = make_engine(database_url(db))
    pages: list[Page] = []
    cursor: str | None = None
    try:
        with snapshot(engine) as conn, conn.begin():
            while True:
                page = view(Repository(conn), None, *args, cursor)
                pages.append(page)
                cursor = page.next_cursor
                if cursor is None:
                    break
    except Refusal as refusal:
        _refused(refusal)
    first = pages[0]
    whole = replace(first, rows=[row for page in pages for row in page.rows], next_cursor=None)
    typer.echo(whole.csv() if as_csv else whole.table(), nl=False)


def _today() -> date:
    from ledger.certificates import business_today
    from ledger.context import Context
    from ledger.settings import Settings

    return business_today(Context(0, datetime.now(UTC), "", Settings.from_env()))


def _paged(view: Callable[..., Any], *fixed: Any) -> Callable[..., Any]:
    """``view(repo, viewer, *fixed, cursor, limit=None, settings)`` as ``(repo, viewer,
    cursor)``."""
    from ledger.settings import Settings

    settings = Settings.from_env()
    return lambda repo, viewer, cursor: view(repo, viewer, *fixed, cursor, None, settings)


@report_app.command("due")
def report_due(
    issuer: IssuerOption,
    on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD: due on or before")],
    as_csv: CsvOption = False,
    db: DbOption = None,
) -> None:
    """The clearing list: an issuer's pieces due on or before a date, with late interest."""
    from ledger import reports

    _report(db, as_csv, _paged(reports.due, issuer, on))


@report_app.command("roots")
def report_roots(issuer: IssuerOption, as_csv: CsvOption = False, db: DbOption = None) -> None:
    """Per root of an issuer: face, paid, outstanding, overdue, late interest, pieces."""
    from ledger import reports

    _report(db, as_csv, _paged(reports.roots, issuer, _today()))


@report_app.command("overdue")
def report_overdue(
    issuer: Annotated[str | None, typer.Option("--issuer", help="Only this issuer's")] = None,
    as_csv: CsvOption = False,
    db: DbOption = None,
) -> None:
    """Overdue pieces: holder, outstanding, days late, late interest so far."""
    from ledger import reports

    _report(db, as_csv, _paged(reports.overdue, issuer, _today()))


@report_app.command("issuer")
def report_issuer(
    issuer: IssuerOption,
    first: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    last: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    as_csv: CsvOption = False,
    db: DbOption = None,
) -> None:
    """An issuer's limit and outstanding, and what it issued, paid and owes late in a period."""
    from ledger import reports
    from ledger.settings import Settings

    settings = Settings.from_env()
    today = _today()

    def view(repo: Any, viewer: Any, cursor: str | None) -> Any:
        return reports.issuer_report(repo, viewer, issuer, first, last, today, settings)

    _report(db, as_csv, view)


@report_app.command("splitting")
def report_splitting(
    flagged: Annotated[bool, typer.Option("--flagged", help="Only flagged roots")] = False,
    as_csv: CsvOption = False,
    db: DbOption = None,
) -> None:
    """Roots with value held: depth, live pieces, holders, smallest piece, flags."""
    from ledger import reports

    _report(db, as_csv, _paged(reports.splitting, flagged))
