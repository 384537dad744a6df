"""The evidence bundle over HTTP, checked offline by ``dcc verify-evidence``: an honest
bundle verifies and prints the lineage; any single change to an entry, a proof or the
checkpoint, or a checkpoint signed by another log key, fails it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.checkpoint import Checkpoint, sign_note, verifier_key
from ledger.keys import decode_public_key, generate_private_key, public_key_b64
from tests.conftest import Actor, Chain
from tests.helpers import assert_problem, ok, publish_log_key

runner = CliRunner()


@pytest.fixture
def bundle(chain: Chain, tmp_path: Path) -> dict[str, Any]:
    """s2's piece: issued by the core to s1, split by s1 (part to s2), accepted by s2."""
    publish_log_key(chain, tmp_path)
    root = chain.issued("1000.00")
    sent = ok(chain.transfer(chain.s1, [root], [(chain.s2, "300.00"), (chain.s1, "700.00")]))
    piece = next(c["id"] for c in sent["effects"]["certificates"] if c["holder"] == chain.s2.id)
    ok(chain.client(chain.s2).submit("certificate.accept", {"id": piece}))
    chain.admit("supplier")  # the head moves past the piece's entries
    return ok(chain.client(chain.s2).get(f"/v1/certificates/{piece}/evidence"))


def _verify(bundle: Any, tmp_path: Path, operator: Actor) -> Any:
    path, key = tmp_path / "evidence.json", tmp_path / "operator.pub"
    path.write_text(json.dumps(bundle))
    key.write_text(operator.public_key + "\n")
    return runner.invoke(app, ["verify-evidence", str(path), "--operator-key", str(key)])


def test_an_honest_bundle_verifies_offline_and_prints_the_lineage(
    chain: Chain, bundle: dict[str, Any], tmp_path: Path
) -> None:
    assert [item["entry"]["command"]["type"] for item in bundle["entries"]] == [
        "certificate.issue",
        "certificate.transfer",
        "certificate.accept",
    ]
    assert bundle["log_key_entry"]["entry"]["command"]["type"] == "ledger.log_key"
    assert bundle["checkpoint"]["size"] == chain.ledger.head().seq  # type: ignore[union-attr]
    result = _verify(bundle, tmp_path, chain.operator)
    assert result.exit_code == 0, result.output
    assert f"certificate.issue by {chain.core.id}" in result.output
    assert f"300.00 from {chain.s1.id} to {chain.s2.id}" in result.output
    assert "contract HT-SUB-1" in result.output and result.output.endswith("ok\n")
    # Another operator key fails it.
    other = Actor("x", generate_private_key())
    assert _verify(bundle, tmp_path, other).exit_code == 1


def test_only_who_may_read_the_piece_gets_its_evidence(chain: Chain, tmp_path: Path) -> None:
    publish_log_key(chain, tmp_path)
    root = chain.issued("10.00")
    ok(chain.client(chain.core).get(f"/v1/certificates/{root}/evidence"))
    ok(chain.client(chain.operator).get(f"/v1/certificates/{root}/evidence"))
    refused = chain.client(chain.s3).get(f"/v1/certificates/{root}/evidence")
    assert_problem(refused, 404, "not-found")


def _flip(text: str, at: int) -> str:
    at %= len(text)
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]


def _change(bundle: dict[str, Any], path: tuple[Any, ...], at: int) -> None:
    *parents, last = path
    node: Any = bundle
    for key in parents:
        node = node[key]
    value = node[last]
    node[last] = value + 1 if isinstance(value, int) else _flip(value, at)


NOTE_LINES = (0, 1, 2, 4)  # origin, size, root, signature (line 3 is blank)

TAMPERINGS = [
    # entries: a field of each kind, of the first and the last
    (("entries", 0, "entry", "recorded_at"), 3),
    (("entries", 0, "entry", "signature"), 10),
    (("entries", 0, "entry", "command", "body", "amount"), 0),
    (("entries", 0, "entry", "entry_hash"), 20),
    (("entries", 1, "entry", "prev_hash"), 5),
    (("entries", -1, "entry", "seq"), 0),
    (("entries", -1, "entry", "command", "nonce"), 2),
    (("entries", 1, "signer_key"), 7),
    (("log_key_entry", "entry", "recorded_at"), 0),
    (("log_key_entry", "entry", "command", "body", "public_key"), 9),
    # proofs
    (("entries", 0, "proof", 0), 4),
    (("entries", 1, "proof", -1), 12),
    (("entries", -1, "proof", 0), 30),
    (("log_key_entry", "proof", 0), 1),
    # the checkpoint, and what the bundle says of it
    (("checkpoint", "root_hash"), 6),
    (("checkpoint", "size"), 0),
    (("log_key", "verifier_key"), -3),
    (("lineage", 0), 3),
    (("certificate",), 3),
]


@pytest.mark.parametrize(("path", "at"), TAMPERINGS, ids=lambda v: str(v))
def test_one_changed_field_fails_the_bundle(
    chain: Chain, bundle: dict[str, Any], tmp_path: Path, path: tuple[Any, ...], at: int
) -> None:
    tampered = copy.deepcopy(bundle)
    _change(tampered, path, at)
    assert tampered != bundle
    result = _verify(tampered, tmp_path, chain.operator)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "not an evidence bundle" not in result.output


@pytest.mark.parametrize("line", NOTE_LINES)
@pytest.mark.parametrize("at", [0, 7, -2])
def test_one_changed_byte_of_the_note_fails_the_bundle(
    chain: Chain, bundle: dict[str, Any], tmp_path: Path, line: int, at: int
) -> None:
    lines = bundle["checkpoint"]["note"].split("\n")
    lines[line] = _flip(lines[line], at)
    tampered = copy.deepcopy(bundle)
    tampered["checkpoint"]["note"] = "\n".join(lines)
    result = _verify(tampered, tmp_path, chain.operator)
    assert result.exit_code == 1, result.output


def test_a_bundle_signed_by_another_log_key_fails(
    chain: Chain, bundle: dict[str, Any], tmp_path: Path
) -> None:
    other = generate_private_key()
    public = public_key_b64(other.public_key())
    name, size = bundle["log_key"]["name"], bundle["checkpoint"]["size"]
    root = Checkpoint(name, size, b"\x00" * 32)  # any root: only the key matters here
    honest = bundle["checkpoint"]["note"].split("\n")
    text = "\n".join(honest[:3]) + "\n"
    assert text.startswith(root.origin)
    forged = copy.deepcopy(bundle)
    forged["checkpoint"]["note"] = sign_note(text, name, other)
    # The note alone, and the note with the key it names swapped in: both fail.
    assert _verify(forged, tmp_path, chain.operator).exit_code == 1
    forged["log_key"] |= {
        "public_key": public,
        "verifier_key": verifier_key(name, decode_public_key(public)),
    }
    result = _verify(forged, tmp_path, chain.operator)
    assert result.exit_code == 1 and "log-key" in result.output, result.output
