"""``dcc``: the command-line tool (serve, db upgrade, keygen, init, verify, submit, report).

A mistake in how it is called — a server that does not answer, a body that is not JSON,
a public key where the private one is needed, a database that cannot be opened — is one
line on stderr, ``dcc: <what is wrong>; <how to fix it>``, and exit status 2, never a
traceback (:func:`_fail`, and :func:`main` for the database).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.db import database_url, make_engine, snapshot
from ledger.errors import Refusal
from ledger.keys import (
    KeyError_,
    decode_public_key,
    generate_private_key,
    load_private_key_pem,
    private_key_pem,
    public_key_b64,
)
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
    typer.Option(
        "--db",
        help="Database URL, or a file path for SQLite (default: DCC_DATABASE_URL or ./dcc.db)",
    ),
]

USAGE_EXIT = 2  # a mistake in how dcc was called, as click's own usage errors


def _fail(message: str) -> NoReturn:
    """Say one line on stderr — what is wrong and how to fix it — and exit 2."""
    typer.echo(f"dcc: {message}", err=True)
    raise typer.Exit(USAGE_EXIT)


def _private_key(path: Path, option: str = "--key") -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` given as ``option``."""
    data = _read(path, option)
    try:
        return load_private_key_pem(data)
    except (ValueError, TypeError):
        if _is_public_key(data):
            _fail(
                f"{option} {path} is a public key; signing needs the private half, "
                "NAME.key (not NAME.pub)"
            )
        _fail(
            f"{option} {path} is not an Ed25519 private key in PEM; pass the NAME.key "
            "that `dcc keygen --out NAME` wrote"
        )


def _public_key(path: Path, option: str) -> str:
    """The base64url public key in the file ``path`` given as ``option`` (a NAME.pub)."""
    data = _read(path, option)
    if b"PRIVATE KEY" in data:
        _fail(f"{option} {path} is a private key; pass the public half, NAME.pub (not NAME.key)")
    if not _is_public_key(data):
        _fail(
            f"{option} {path} is not a public key; pass the NAME.pub that "
            "`dcc keygen --out NAME` wrote"
        )
    return data.decode().strip()


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        _fail(f"{option} {path}: no such file (`dcc keygen --out NAME` writes NAME.key, NAME.pub)")
    except OSError as exc:
        _fail(f"{option} {path}: cannot read it ({exc.strerror})")


def _is_public_key(data: bytes) -> bool:
    try:
        decode_public_key(data.decode().strip())
    except (KeyError_, UnicodeDecodeError):
        return b"PUBLIC KEY" in data
    return True


def _json_body(text: str) -> dict[str, Any]:
    """A command body given on the command line (or stdin) as a JSON object."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        _fail(
            f"the body is not valid JSON ({exc.msg} at {where}); put it in single quotes, "
            """e.g. '{"id": "..."}', or pass - and pipe it in"""
        )
    if not isinstance(body, dict):
        _fail('the body must be a JSON object, e.g. \'{"id": "..."}\'')
    return body


@contextmanager
def _reaching(url: str) -> Iterator[None]:
    """Say in one line that the server at ``url`` cannot be reached or is no dcc server."""
    import httpx

    try:
        yield
    except httpx.UnsupportedProtocol:
        _fail(f"--url {url} is not an http:// or https:// URL; e.g. http://127.0.0.1:8000")
    except httpx.TransportError as exc:
        _fail(
            f"cannot reach the server at {url} ({type(exc).__name__}); start it (`make run` "
            "or `dcc serve`) or pass --url"
        )
    except httpx.HTTPStatusError as exc:
        _fail(
            f"{url} answered {exc.response.status_code} to GET {exc.request.url.path}; "
            "is it a dcc server? pass --url"
        )


def _existing_database(db: str | None, command: str) -> str:
    """The database URL for a command that only reads: a SQLite file that does not exist
    is a mistake to say, not an empty database to create."""
    from sqlalchemy.engine import make_url

    url = database_url(db)
    parsed = make_url(url)
    path = parsed.database or ":memory:"
    on_file = parsed.get_backend_name() == "sqlite" and path != ":memory:"
    if on_file and not path.startswith("file:") and not Path(path).exists():
        _fail(
            f"no database at {path} (nothing was created); `dcc {command}` reads an "
            "existing ledger: check --db or DCC_DATABASE_URL"
        )
    return url


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
    ledger: Ledger,
    log_private: Ed25519PrivateKey,
    operator_key: Ed25519PrivateKey,
    operator_id: str,
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
        operator_key,
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
    public_key = _public_key(operator_key, "--operator-key")
    ledger = _ledger(db)
    try:
        receipt = ledger.genesis(operator_id, operator_name, public_key)
        typer.echo(f"genesis written: seq {receipt.seq} {receipt.entry_hash}")
    except Refusal as refusal:
        if not (if_needed and refusal.type == "already-initialised"):
            _refused(refusal)
        typer.echo("already initialised")
    log_private = _log_key(ledger)
    if operator_signing_key is not None:
        signing_key = _private_key(operator_signing_key, "--operator-signing-key")
        _publish_log_key(ledger, log_private, signing_key, operator_id)
    ledger.close()


@log_key_app.command("init")
def log_key_init(
    operator_key: Annotated[Path, typer.Option("--operator-key", help="The operator's NAME.key")],
    operator_id: Annotated[str, typer.Option("--operator-id", help="The operator's USCC")],
    db: DbOption = None,
) -> None:
    """Make the log key (DCC_LOG_KEY_FILE) if missing and publish it, signed by the
    operator, unless it is the published one. To rotate: move the old file aside first."""
    signing_key = _private_key(operator_key, "--operator-key")
    ledger = _ledger(db)
    _publish_log_key(ledger, _log_key(ledger), signing_key, operator_id)
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

    engine = make_engine(_existing_database(db, "verify"))
    engine.connect().close()  # a database that cannot be opened is main()'s to say
    try:
        with snapshot(engine) as conn, conn.begin():
            report = run_verify(Repository(conn), chain=not reexecute)
    except DBAPIError as exc:  # no journal to read: say so, as a failed verification
        typer.echo(
            f"seq 0: cannot read the journal ({type(exc.orig).__name__}); "
            "is this a dcc database? (`dcc db upgrade` creates one)"
        )
        raise typer.Exit(1) from exc
    for line in report.settings_lines():  # each rule change, for the auditor to hold
        typer.echo(line)  # against the deployment's own records
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

    private = _private_key(key)
    payload = _json_body(sys.stdin.read() if body == "-" else body)
    with _reaching(url), httpx.Client(base_url=url, timeout=30) as http:
        response = DccClient(http, signer, private, ledger=ledger).submit(command_type, payload)
    _print_answer(response)


def _print_answer(response: Any) -> None:
    """The server's JSON answer, indented (its text if it is not JSON); exit 2 on a problem."""
    try:
        typer.echo(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(2)


@app.command()
def net(
    mode: Annotated[str, typer.Option("--mode", help="setoff or novation")] = "setoff",
    db: DbOption = None,
) -> None:
    """Preview netting on the current ledger state (nothing is applied).

    Applying a set-off is an operator-signed command: `dcc submit ... netting.run
    '{"mode": "setoff", "as_of": "YYYY-MM-DD"}'`. Novation is a preview only: no command
    applies it.
    """
    from ledger.handlers import netting_state
    from ledger.netting_run import preview
    from ledger.repository import Repository
    from ledger.settings import Settings
    from netting.report import NettingReport, render_report

    if mode not in ("setoff", "novation"):
        typer.echo("--mode must be setoff or novation", err=True)
        raise typer.Exit(2)
    engine = make_engine(_existing_database(db, "net"))
    with engine.connect() as conn, conn.begin():
        report = preview(netting_state(Repository(conn)), mode, Settings.from_env())
    typer.echo(render_report(cast(NettingReport, report)))
    for excluded in report["excluded"]:
        typer.echo(
            f"left out: {excluded['members']} members, {excluded['edges']} debts, "
            f"gross {excluded['gross']} ({excluded['reason']})"
        )
    if mode == "novation":
        typer.echo(NOVATION_NOT_APPLIED)


NOVATION_NOT_APPLIED = (
    "novation is shown, not applied: no command applies it (netting.run applies set-off "
    "only); its direct payments are for the parties to agree outside the ledger"
)


@app.command("id")
def id_(
    code: Annotated[str | None, typer.Argument(help="A member id (USCC) to check")] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Print a valid, random USCC to try things with")
    ] = False,
) -> None:
    """Check a member id (a unified social credit code, GB 32100-2015), or print an
    example one: admitting a member needs a valid code."""
    from ledger.uscc import example_uscc, uscc_problem

    if example:
        typer.echo(example_uscc())
        return
    if code is None:
        _fail("give a code to check, or --example for a valid one to try things with")
    problem = uscc_problem(code)
    if problem is not None:
        _fail(f"{code} is not a valid USCC: {problem} (`dcc id --example` prints a valid one)")
    typer.echo(f"{code} is a valid USCC")


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

    if not path.startswith("/"):
        _fail(f"the path must start with /: did you mean /{path} ?")
    private = _private_key(key)
    with _reaching(url), httpx.Client(base_url=url, timeout=30) as http:
        response = DccClient(http, signer, private, ledger=ledger).get(path)
    _print_answer(response)


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

    private = _private_key(key)
    with _reaching(url), _http(url) as http:
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
    report = check(bundle, _public_key(operator_key, "--operator-key"))
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
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            help="Keep the parties it made here: their keys and parties.json (ids, names, roles)",
        ),
    ] = None,
) -> None:
    """Walk a certificate through issue → accept → two levels of split → discounting at a
    bank played by `dcc bank-sim` → tree view; with --settle (and the --state the first
    act kept), on a server at the maturity date, the core pays every holder. With --keep
    DIR, go on as any of the parties afterwards (`dcc get --key DIR/tier3.key ...`)."""
    import httpx

    from api import demo as walkthrough

    if keep is not None and (keep / walkthrough.PARTIES_FILE).exists():
        _fail(f"--keep {keep} holds an earlier demo's parties; pass a new directory")
    if settle and state is None:
        _fail("--settle needs the --state FILE the first act kept")
    private = None if settle else _private_key(operator_key, "--operator-key")
    with _reaching(url), httpx.Client(base_url=url, timeout=30) as http:
        try:
            if settle:
                assert state is not None  # said above
                typer.echo(walkthrough.render_settlement(walkthrough.settle(http, state)))
                return
            assert private is not None  # loaded above
            walked = walkthrough.run(http, operator_id, private, state, keep)
        except typer.Exit:  # click's Exit is a RuntimeError too
            raise
        except RuntimeError as exc:  # the server refused a step: say which, in one line
            _fail(f"the demo stopped: {' '.join(str(exc).split())}")
    typer.echo(walkthrough.render(walked))
    if keep is not None:
        typer.echo(
            f"kept the parties' keys and ids in {keep}/ ({walkthrough.PARTIES_FILE}); go on "
            f"as one: dcc get --key {keep}/tier3.key --signer ID /v1/wallets/ID"
        )


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
    private = _private_key(key)
    with _reaching(service):
        banksim.run(member, private, service, port, parse_amount(approve_up_to), state_dir)


# -- dcc report ----------------------------------------------------------------------

IssuerOption = Annotated[str, typer.Option("--issuer", help="The issuer's member id")]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV instead of a table")]


def _report(db: str | None, as_csv: bool, view: Callable[..., Any], *args: Any) -> None:
    """Every page of a report (``ledger.reports``), as one table or one CSV."""
    from ledger.reports import Page
    from ledger.repository import Repository

    engine = make_engine(_existing_database(db, "report"))
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


def main() -> None:
    """The ``dcc`` entry point: the commands, and the one mistake any of them can meet
    outside its own options, a database that cannot be opened, said in one line."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        app()
    except ArgumentError as exc:
        typer.echo(
            f"dcc: not a database URL dcc can open ({_first_line(exc)}); use a file path or "
            "sqlite:///PATH for SQLite, postgresql+psycopg://USER@HOST:PORT/DB for PostgreSQL",
            err=True,
        )
        sys.exit(USAGE_EXIT)
    except OperationalError as exc:
        typer.echo(
            f"dcc: cannot open the database ({_first_line(exc.orig)}); check --db or "
            "DCC_DATABASE_URL, and that its server runs",
            err=True,
        )
        sys.exit(USAGE_EXIT)


def _first_line(exc: BaseException | None) -> str:
    return str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else "?"


if __name__ == "__main__":
    main()
