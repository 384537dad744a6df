"""The README's walk-through, run as a user would: `dcc demo` against `dcc serve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ledger.keys import private_key_pem
from tests.conftest import Actor
from tests.e2e.test_clock_offset import server


def demo(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--url", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dcc_demo_against_a_live_server(
    operator: Actor, live_server: str, database_url: str, tmp_path: Path
) -> None:
    key_file, state = tmp_path / "operator.key", tmp_path / "demo.json"
    key_file.write_bytes(private_key_pem(operator.key))
    operator_args = ("--operator-key", str(key_file), "--operator-id", operator.id)
    kept = tmp_path / "parties"
    result = demo(live_server, *operator_args, "--state", str(state), "--keep", str(kept))
    assert result.returncode == 0, result.stdout + result.stderr
    *lines, went_on = result.stdout.splitlines()
    assert went_on.startswith(f"kept the parties' keys and ids in {kept}/"), went_on
    # Tier 3 is unrated (tier C): 3.85 % × 1.6 = 6.16 % on 100.00 until the payment date.
    assert lines[0].startswith("quote      100.00 at 0.0616 for "), lines[0]
    assert lines[1].split()[2:4] == ["approved", "registration"], lines[1]
    assert "face 1000.00" in lines[2]
    # Drawn as a tree: each piece under the one it was split from, at its depth (its
    # prefix: two spaces, then three characters a level).
    depths = [(line.index("level") - 2) // 3 for line in lines[3:]]
    amounts = [line.split()[-5] for line in lines[3:]]
    assert sorted(zip(depths, amounts, strict=True)) == [
        *((0, "1000.00"), (1, "300.00"), (1, "700.00"), (2, "120.00"), (2, "180.00")),
        *((3, "100.00"), (3, "20.00")),
    ], lines
    split = amounts.index("120.00")  # the bank's 100.00 and tier 3's 20.00 right under it
    assert depths[split + 1 : split + 3] == [3, 3], lines
    # level N STATE AMOUNT holder ID id ID
    pieces = [line.lstrip(" │├└─").split() for line in lines[3:]]
    active = sorted((p[1], p[3]) for p in pieces if p[2] == "active")
    # Tier 1 keeps 700.00 of 1000.00, tier 2 keeps 180.00 of 300.00; tier 3 had 120.00
    # and the bank now holds the 100.00 of it it financed.
    assert active == [("1", "700.00"), ("2", "180.00"), ("3", "100.00"), ("3", "20.00")]
    assert sorted(p[2] for p in pieces) == ["active"] * 4 + ["spent"] * 3
    holders = {p[3]: p[5] for p in pieces if p[2] == "active" and p[1] == "3"}
    assert holders["100.00"] != holders["20.00"]  # the bank's, and tier 3's
    went_on_as_kept_parties(live_server, kept, holders["100.00"])

    # The second act, as the README has it: the server restarted on the maturity date
    # (90 days on, to the second), and the core pays every holder.
    with server(database_url, clock_offset_s=str(90 * 86400)) as (ahead, _):
        settled = demo(ahead, "--settle", "--state", str(state))
    assert settled.returncode == 0, settled.stdout + settled.stderr
    lines = settled.stdout.splitlines()
    paid = [line.split() for line in lines if line.startswith("paid ")]
    # On the maturity date: nobody is late, every holder paid what it holds.
    assert sorted(p[1] for p in paid) == ["100.00", "180.00", "20.00", "700.00"], lines
    assert {(p[5], p[8]) for p in paid} == {("0", "0.00")}, lines
    assert holders["100.00"] in {p[3] for p in paid}  # the bank is paid like any holder
    assert "limit      outstanding 0.00 of 5000000.00" in lines, lines
    assert any(line.startswith("line ") and line.endswith("used 0.00") for line in lines)
    root_line = next(line for line in lines if line.startswith("root "))
    assert "face 1000.00  paid 1000.00" in root_line, root_line


def test_dcc_submit_and_get_sign_for_the_servers_ledger(
    operator: Actor, live_server: str, tmp_path: Path
) -> None:
    import json

    import httpx
    from typer.testing import CliRunner

    from api.cli import app as cli_app
    from tests.conftest import new_actor

    key_file = tmp_path / "operator.key"
    key_file.write_bytes(private_key_pem(operator.key))
    signer = ["--key", str(key_file), "--signer", operator.id, "--url", live_server]
    bank = new_actor()
    body = json.dumps(
        {"id": bank.id, "name": "Bank", "roles": ["bank"], "public_key": bank.public_key}
    )
    runner = CliRunner()
    # Without --ledger the CLI asks the server which ledger it signs for.
    admitted = runner.invoke(cli_app, ["submit", *signer, "member.admit", body])
    assert admitted.exit_code == 0, admitted.output
    read = runner.invoke(cli_app, ["get", *signer, f"/v1/members/{bank.id}"])
    assert read.exit_code == 0 and json.loads(read.output)["id"] == bank.id, read.output
    # Signed for another ledger: refused, and said so.
    other = ["--ledger", "0" * 64]
    refused = runner.invoke(cli_app, ["get", *signer, *other, f"/v1/members/{bank.id}"])
    assert refused.exit_code == 2 and json.loads(refused.output)["type"] == "bad-signature"
    ledger_id = httpx.get(f"{live_server}/v1/ledger").json()["ledger_id"]
    again = runner.invoke(cli_app, ["get", *signer, "--ledger", ledger_id, "/v1/ledger/head"])
    assert again.exit_code == 0, again.output


def went_on_as_kept_parties(url: str, kept: Path, bank_id: str) -> None:
    """`--keep DIR` kept every party: with its key and id, a signed read as the bank and
    one as tier 3, through the CLI, answer as that member."""
    import json

    parties = json.loads((kept / "parties.json").read_text())
    assert set(parties["parties"]) == {"core", "tier1", "tier2", "tier3", "bank"}, parties
    assert parties["parties"]["bank"]["id"] == bank_id
    assert parties["parties"]["core"]["roles"] == ["core"]
    assert (kept / "tier3.key").stat().st_mode & 0o777 == 0o600
    for name in ("bank", "tier3"):
        party = parties["parties"][name]
        member = party["id"]
        read = subprocess.run(
            [
                *(sys.executable, "-m", "api.cli", "get", "--url", url),
                *("--key", str(kept / party["key"]), "--signer", member),
                f"/v1/wallets/{member}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert read.returncode == 0, read.stdout + read.stderr
        assert json.loads(read.stdout)["member"] == member, read.stdout
