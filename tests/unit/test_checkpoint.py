"""Signed notes and checkpoints: published vectors, a verifier written from the text of
the specifications, and notes that must not open."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import (
    Checkpoint,
    NoteError,
    open_checkpoint,
    open_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from ledger.keys import public_key_raw

# golang.org/x/mod/sumdb/note's package documentation, and c2sp.org/signed-note's example.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def peter_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]  # the base64 may hold a "+"
    return Ed25519PrivateKey.from_private_bytes(seed)


def test_the_published_notes_open_and_the_key_ids_match() -> None:
    name, public = parse_verifier_key(PETER_VKEY)
    assert open_note(PETER_NOTE, name, public) == PETER_TEXT
    name, public = parse_verifier_key(FOO_VKEY)
    assert open_note(FOO_NOTE, name, public) == "This is an example message.\n"


def test_signing_the_published_text_gives_the_published_note_byte_for_byte() -> None:
    key = peter_key()
    assert verifier_key("PeterNeumann", public_key_raw(key.public_key())) == PETER_VKEY
    assert sign_note(PETER_TEXT, "PeterNeumann", key) == PETER_NOTE


def _by_the_spec(note: str, name: str, public: bytes) -> bool:
    """An independent reading of c2sp.org/signed-note for one Ed25519 key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text, _, block = note.rpartition("\n\n")
    want_id = hashlib.sha256(name.encode() + b"\x0a\x01" + public).digest()[:4]
    ok = False
    for line in block.rstrip("\n").split("\n"):
        prefix = f"\u2014 {name} "
        if not line.startswith(prefix):
            continue
        blob = base64.b64decode(line[len(prefix) :])
        if blob[:4] != want_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], (text + "\n").encode())
        except InvalidSignature:
            return False
        ok = True
    return ok


ORIGIN = "dcc.example/ledger/0123abcd"


def _signed(size: int = 1024, root: bytes = b"\x07" * 32) -> tuple[str, bytes, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"log key").digest())
    note = sign_note(Checkpoint(ORIGIN, size, root).text(), ORIGIN, key)
    return note, public_key_raw(key.public_key()), key


def test_a_checkpoint_round_trips_and_matches_the_specification() -> None:
    note, public, _key = _signed()
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "1024", base64.b64encode(b"\x07" * 32).decode(), ""]
    assert lines[4].startswith(f"— {ORIGIN} ") and lines[5:] == [""]
    assert _by_the_spec(note, ORIGIN, public)
    assert open_checkpoint(note, ORIGIN, public) == Checkpoint(ORIGIN, 1024, b"\x07" * 32)


def test_a_signature_by_another_key_is_ignored_and_alone_is_refused() -> None:
    note, public, _key = _signed()
    other = Ed25519PrivateKey.generate()
    other_public = public_key_raw(other.public_key())
    with pytest.raises(NoteError, match="not signed by the log key"):
        open_checkpoint(note, ORIGIN, other_public)
    # A witness's extra signature on the same text is ignored; the log's still counts.
    cosigned = (
        note + sign_note(note.split("\n\n")[0] + "\n", "witness.example", other).split("\n\n")[1]
    )
    assert open_checkpoint(cosigned, ORIGIN, public).size == 1024


def _forgeries(note: str) -> dict[str, str]:
    text, _, block = note.partition("\n\n")
    line = block.rstrip("\n")
    prefix, _, encoded = line.rpartition(" ")
    blob = bytearray(base64.b64decode(encoded))
    blob[10] ^= 1
    bad_sig = f"{prefix} {base64.b64encode(bytes(blob)).decode()}"
    # The same bytes, spelt otherwise: 68 bytes end in one "=", and the character before
    # it carries two bits that encode nothing. A lenient decoder reads the same signature.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert encoded.endswith("=") and not encoded.endswith("==")
    spare = alphabet[alphabet.index(encoded[-2]) ^ 1]
    respelt = f"{prefix} {encoded[:-2]}{spare}="
    assert base64.b64decode(respelt.rpartition(" ")[2]) == base64.b64decode(encoded)
    return {
        "signature respelt with its spare bits set": f"{text}\n\n{respelt}\n",
        "size changed": note.replace("\n1024\n", "\n1025\n", 1),
        "root changed": note.replace(text.split("\n")[2], base64.b64encode(b"\x08" * 32).decode()),
        "origin changed": note.replace(ORIGIN, ORIGIN + "x", 1),
        "extra text line": text + "\nextension\n\n" + block,
        "missing root line": "\n".join(text.split("\n")[:2]) + "\n\n" + block,
        "signature flipped": f"{text}\n\n{bad_sig}\n",
        "no blank line": f"{text}\n{line}\n",
        "no final newline": note[:-1],
        "CRLF": note.replace("\n", "\r\n"),
        "control character": note.replace("1024", "10\x0024"),
        "signature not base64": f"{text}\n\n{prefix} !!!!\n",
        "hyphen, not em dash": note.replace("—", "-"),
        "no signatures": f"{text}\n\n",
        "trailing garbage": note + "garbage",
        "leading zero size": note.replace("\n1024\n", "\n01024\n", 1),
        "short root": note.replace(text.split("\n")[2], base64.b64encode(b"\x07" * 31).decode()),
    }


@pytest.mark.parametrize("forgery", sorted(_forgeries(_signed()[0])))
def test_tampered_notes_do_not_open(forgery: str) -> None:
    note, public, _key = _signed()
    forged = _forgeries(note)[forgery]
    assert forged != note
    with pytest.raises(NoteError):
        open_checkpoint(forged, ORIGIN, public)


def test_the_verifier_key_is_checked_when_parsed() -> None:
    name, public = parse_verifier_key(FOO_VKEY)
    assert name == "example.com/foo" and len(public) == 32
    for bad in (
        FOO_VKEY.replace("530d903a", "530d903b"),
        FOO_VKEY.replace("example.com/foo", "example.com/bar"),
        FOO_VKEY[:-2],
        FOO_VKEY.replace("+Ae", "+Ag"),
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ):
        with pytest.raises(NoteError):
            parse_verifier_key(bad)
