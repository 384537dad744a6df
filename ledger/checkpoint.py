"""Checkpoints: the tree head, signed by the service's log key as a C2SP signed note.

A checkpoint (c2sp.org/tlog-checkpoint) is three lines — the log's *origin*, the tree
size, the base64 root hash — and a signed note (c2sp.org/signed-note) appends a blank
line and one line per signature, ``— <key name> base64(key ID ‖ Ed25519 signature)``,
where the key ID is ``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``::

    dcc.example/ledger/3f2a…
    1024
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — dcc.example/ledger/3f2a… Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDe…

A verifier knows the log's key name and public key (a *verifier key*, published as
``<name>+<key ID hex>+base64(0x01 ‖ public key)``) and opens a note strictly: it must be
UTF-8 without control characters but newlines, its signature lines well formed, every
signature by the known key must verify and at least one must; others are ignored. The
checkpoint text is then parsed as strictly: exactly the origin expected, a size without
leading zeros, a 32-byte root. Anything else is refused with :class:`NoteError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from ledger.keys import public_key_raw

ED25519_TYPE = b"\x01"
SIGNATURES_MAX = 16  # the specification: verifiers MUST accept at least 16
NOTE_BYTES_MAX = 16 * 1024
_SIGNATURE_LINE = re.compile(r"— (\S+) (\S+)")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A note or checkpoint that does not open, and why."""


def key_id(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_raw).digest()[:4]


def verifier_key(name: str, public_raw: bytes) -> str:
    """The published form of a note key: ``name+keyid+base64(type ‖ key)``."""
    encoded = base64.b64encode(ED25519_TYPE + public_raw).decode()
    return f"{name}+{key_id(name, public_raw).hex()}+{encoded}"


def b64decode_exact(text: str) -> bytes:
    """Standard base64 with its padding, in the one spelling that encodes its bytes:
    binascii.Error for anything else. Base64 of a length not a multiple of three has
    spare bits a lenient decoder ignores, so two texts would read as one signature or
    hash, and a changed character of a note or a proof would go unseen."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise binascii.Error("not the canonical base64 of its bytes")
    return raw


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """(name, 32-byte public key) of a verifier key, checking its key ID."""
    name, _, rest = text.partition("+")
    hex_id, _, encoded = rest.partition("+")
    try:
        raw = b64decode_exact(encoded)
    except binascii.Error as exc:
        raise NoteError("verifier key: not base64") from exc
    if not name or len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise NoteError("verifier key: not a name and an Ed25519 key")
    if hex_id != key_id(name, raw[1:]).hex():
        raise NoteError("verifier key: the key ID does not match the name and key")
    return name, raw[1:]


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """``text`` (ending in a newline) signed by ``name``'s key."""
    assert text.endswith("\n") and " " not in name and "+" not in name, (text, name)
    ident = key_id(name, public_key_raw(private_key.public_key()))
    signature = private_key.sign(text.encode())
    return f"{text}\n— {name} {base64.b64encode(ident + signature).decode()}\n"


def open_note(note: str, name: str, public_raw: bytes) -> str:
    """The text of ``note`` once a signature by (``name``, ``public_raw``) verifies."""
    if len(note.encode()) > NOTE_BYTES_MAX:
        raise NoteError("note too large")
    if any(ch < " " and ch != "\n" for ch in note):
        raise NoteError("note contains control characters")
    if not note.endswith("\n") or "\n\n" not in note:
        raise NoteError("note has no signature block")
    split = note.rindex("\n\n")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    if not lines or len(lines) > SIGNATURES_MAX:
        raise NoteError("note has no signatures, or too many")
    ident, verified = key_id(name, public_raw), False
    for line in lines:
        match = _SIGNATURE_LINE.fullmatch(line)
        if match is None:
            raise NoteError(f"malformed signature line {line!r}")
        try:
            blob = b64decode_exact(match.group(2))
        except binascii.Error as exc:
            raise NoteError("signature is not base64") from exc
        if len(blob) < 5:
            raise NoteError("signature too short")
        if match.group(1) != name or blob[:4] != ident:
            continue  # somebody else's signature: ignored, as the specification says
        try:
            VerifyKey(public_raw).verify(text.encode(), blob[4:])
        except (BadSignatureError, ValueError) as exc:
            raise NoteError("a signature by the log key does not verify") from exc
        verified = True
    if not verified:
        raise NoteError("the note is not signed by the log key")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"


def parse_checkpoint(text: str, origin: str) -> Checkpoint:
    """The checkpoint in an opened note's text; it must be ``origin``'s."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint is at least three non-empty lines")
    if lines[0] != origin:
        raise NoteError(f"checkpoint of {lines[0]!r}, not of {origin!r}")
    if _SIZE.fullmatch(lines[1]) is None:
        raise NoteError("tree size is not a decimal without leading zeros")
    try:
        root = b64decode_exact(lines[2])
    except binascii.Error as exc:
        raise NoteError("root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    return Checkpoint(origin, int(lines[1]), root)


def open_checkpoint(note: str, name: str, public_raw: bytes) -> Checkpoint:
    """Verify a signed checkpoint of the log ``name`` (its origin) and parse it."""
    return parse_checkpoint(open_note(note, name, public_raw), name)
