"""A client generated from /openapi.json, by a real generator, works first time.

``openapi-python-client`` generates a package from the document the server serves; the
test then drives the server with that package alone (its models, its API functions): a
member is admitted with a command built from the generated ``MemberAdmitCommand`` (the
discriminated union's schema for ``member.admit``) and signed over its ``to_dict()``,
and read back with the generated ``get_member`` into the generated ``MemberRecord``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.commands import signed_bytes
from ledger.keys import generate_private_key, public_key_b64, sign
from ledger.signing import key_id_for, new_nonce, sign_request
from tests.conftest import World, new_member_id

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "dcc_generated_client"


@pytest.fixture
def generated(world: World, tmp_path: Path) -> Iterator[ModuleType]:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(world.http.get("/openapi.json").json()))
    out = tmp_path / PACKAGE
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    command = [str(GENERATOR), "generate", "--path", str(document), "--meta", "none"]
    run = subprocess.run(
        [*command, "--output-path", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Every schema is generated: the generator warns of any part it had to leave out.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _client(package: ModuleType, world: World, headers: dict[str, str]) -> Any:
    """The generated client on the in-process server, with these headers."""
    client = _module(package, "client").AuthenticatedClient(base_url="http://testserver", token="")
    client.set_httpx_client(TestClient(world.http.app, headers=headers))
    return client


def test_a_generated_client_submits_a_command_and_reads_its_result(
    world: World, generated: ModuleType
) -> None:
    models = _module(generated, "models")
    operator = world.operator
    member_id, member_key = new_member_id(), generate_private_key()
    command = models.MemberAdmitCommand(
        type_="member.admit",
        ledger=world.client(operator).ledger,
        signer=operator.id,
        key_id=key_id_for(operator.key),
        nonce=new_nonce(),
        issued_at=world.clock(),
        body=models.AdmitBody(
            id=member_id,
            name="Generated Client Supplier",
            roles=[models.AdmitBodyRolesItem.SUPPLIER],
            public_key=public_key_b64(member_key.public_key()),
        ),
    )
    signature = sign(operator.key, signed_bytes(command.to_dict()))
    envelope = models.CommandEnvelope(command=command, signature=signature)

    submit = _module(generated, "api.commands.submit")
    answer = submit.sync_detailed(client=_client(generated, world, {}), body=envelope)
    assert answer.status_code == 201, answer.content
    assert isinstance(answer.parsed, models.Receipt)
    assert answer.parsed.seq >= 2

    path = f"/v1/members/{member_id}"
    headers = sign_request(
        member_key,
        member_id,
        "GET",
        path,
        timestamp=int(world.clock().timestamp()),
        ledger=world.client(operator).ledger,
    )
    read = _module(generated, "api.members.get_member")
    record = read.sync_detailed(member_id, client=_client(generated, world, headers))
    assert record.status_code == 200, record.content
    assert isinstance(record.parsed, models.MemberRecord)
    assert record.parsed.name == "Generated Client Supplier"
    assert record.parsed.roles == ["supplier"]
    [key] = record.parsed.keys  # its one active key, a generated KeyView
    assert isinstance(key, models.KeyView) and key.key_id == record.parsed.key_id

    # A problem answer parses into the generated problem model with its listed type.
    unsigned = read.sync_detailed(member_id, client=_client(generated, world, {}))
    assert unsigned.status_code == 401
    assert unsigned.parsed.type_.value == "unauthenticated"
