"""`dcc` as a newcomer meets it: every mistake in how it is called is one line on stderr
saying what is wrong and how to fix it, and a non-zero exit, never a traceback.

Each case runs the installed ``dcc`` entry point in its own process, as a user would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.keys import generate_private_key, private_key_pem, public_key_b64
from ledger.uscc import is_valid_uscc

DCC = str(Path(sys.executable).with_name("dcc"))
SIGNER = "91350100M000100Y43"


def dcc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DCC, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def one_line_mistake(result: subprocess.CompletedProcess[str], *saying: str) -> str:
    """The one line a mistake gets: on stderr, exit 2, no traceback; it says ``saying``."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    for words in saying:
        assert words in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """k.key (private, PEM) and k.pub (public) in ``tmp_path``, as `dcc keygen` writes."""
    private = generate_private_key()
    (tmp_path / "k.key").write_bytes(private_key_pem(private))
    (tmp_path / "k.pub").write_text(public_key_b64(private.public_key()) + "\n")
    return tmp_path


def closed_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


SIGNED = ("--key", "k.key", "--signer", SIGNER)


@pytest.mark.parametrize(
    ("args", "saying"),
    [
        (
            ("get", *SIGNED, "--url", "@closed", "/v1/ledger/head"),
            ("cannot reach the server at http://127.0.0.1:", "dcc serve", "--url"),
        ),
        (
            ("submit", *SIGNED, "--url", "@closed", "member.admit", "{}"),
            ("cannot reach the server", "--url"),
        ),
        (
            ("get", *SIGNED, "--url", "127.0.0.1:8000", "/v1/ledger/head"),
            ("not an http:// or https:// URL", "http://127.0.0.1:8000"),
        ),
        (
            ("submit", *SIGNED, "member.admit", "{id: 1}"),
            ("the body is not valid JSON", "single quotes"),
        ),
        (("submit", *SIGNED, "member.admit", "[1]"), ("must be a JSON object",)),
        (
            ("get", "--key", "k.pub", "--signer", SIGNER, "/v1/ledger/head"),
            ("--key k.pub is a public key", "NAME.key"),
        ),
        (
            ("get", "--key", "missing.key", "--signer", SIGNER, "/v1/ledger/head"),
            ("--key missing.key: no such file", "dcc keygen"),
        ),
        (
            ("init", "--operator-key", "k.key", "--operator-id", SIGNER, "--operator-name", "x"),
            ("--operator-key k.key is a private key", "NAME.pub"),
        ),
        (("get", *SIGNED, "v1/ledger/head"), ("must start with /", "/v1/ledger/head")),
        (("verify", "--db", "postgres://h/db"), ("not a database URL", "postgresql+psycopg://")),
        (
            ("verify", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none"),
            ("cannot open the database", "--db"),
        ),
        (("db", "upgrade", "--db", "."), ("cannot open the database", "--db")),
        (("id", "91350100M000100Y44"), ("check character is 4 where 3", "dcc id --example")),
        (("demo", "--url", "@closed", "--operator-key", "k.key"), ("cannot reach the server",)),
        (("demo", "--keep", "kept"), ("--keep kept holds an earlier demo's parties",)),
        (("demo", "--operator-key", "k.pub"), ("--operator-key k.pub is a public key",)),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) and len(value) < 4 else None,
)
def test_a_mistake_is_one_line_and_a_non_zero_exit(
    keys: Path, args: tuple[str, ...], saying: tuple[str, ...]
) -> None:
    url = closed_url()
    args = tuple(url if arg == "@closed" else arg for arg in args)
    (keys / "kept").mkdir()
    (keys / "kept" / "parties.json").write_text("{}")
    one_line_mistake(dcc(*args, cwd=keys), *saying)


def test_verify_on_a_missing_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    for path in ("./absent.db", "sqlite:///./absent.db"):
        line = one_line_mistake(dcc("verify", "--db", path, cwd=tmp_path), "no database at")
        assert "nothing was created" in line, line
    assert list(tmp_path.iterdir()) == []
    one_line_mistake(dcc("net", "--db", "absent.db", cwd=tmp_path), "no database at")
    one_line_mistake(dcc("report", "overdue", "--db", "absent.db", cwd=tmp_path), "no database")
    assert list(tmp_path.iterdir()) == []


def test_a_plain_path_is_a_sqlite_database(tmp_path: Path) -> None:
    upgraded = dcc("db", "upgrade", "--db", "./x.db", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "x.db").is_file()
    verified = dcc("verify", "--db", "x.db", cwd=tmp_path)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: 0 entries"), verified


def test_net_in_novation_mode_says_it_is_not_applied(database_url: str, tmp_path: Path) -> None:
    shown = dcc("net", "--mode", "novation", "--db", database_url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == (
        "novation is shown, not applied: no command applies it (netting.run applies set-off "
        "only); its direct payments are for the parties to agree outside the ledger"
    )
    setoff = dcc("net", "--mode", "setoff", "--db", database_url, cwd=tmp_path)
    assert setoff.returncode == 0 and "novation" not in setoff.stdout, setoff.stdout


def test_id_example_is_a_valid_uscc_each_time_new(tmp_path: Path) -> None:
    codes = {dcc("id", "--example", cwd=tmp_path).stdout.strip() for _ in range(2)}
    assert len(codes) == 2 and all(is_valid_uscc(code) for code in codes), codes
    (code,) = list(codes)[:1]
    checked = dcc("id", code, cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == f"{code} is a valid USCC"
