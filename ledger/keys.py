"""Ed25519 keys: identifiers, encodings, signing and verification.

A member's public key travels as base64url (no padding) of its raw 32 bytes. Its
``key_id`` is the first 32 hex characters of SHA-256 over those raw bytes, so a key id
names exactly one key forever and a signature made with it can be checked without
any lock. Private keys live only with members: the service never sees one.

    >>> private = generate_private_key()
    >>> public_b64 = public_key_b64(private.public_key())
    >>> sig = sign(private, b"hello")
    >>> verify(public_b64, sig, b"hello")
    True
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
KEY_ID_HEX_LENGTH = 32
VERIFY_KEYS_CACHED_MAX = 4096  # decoded public keys kept (LRU), a few hundred KiB
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class KeyError_(ValueError):
    """A key or signature in the wrong encoding, with a message for the client."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; refuse padding, any other alphabet, and
    non-canonical trailing bits (so each byte string has exactly one accepted text)."""
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None:
        raise KeyError_("expected base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyError_("expected base64url without padding") from exc
    if b64url_encode(data) != text:
        raise KeyError_("expected canonical base64url")
    return data


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return b64url_encode(public_key_raw(public_key))


def key_id_of_raw(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX_LENGTH]


def key_id_of(public_b64: str) -> str:
    """The key id of a base64url public key."""
    return key_id_of_raw(decode_public_key(public_b64))


def decode_public_key(public_b64: str) -> bytes:
    """Decode and check a base64url public key; returns the raw 32 bytes."""
    raw = b64url_decode(public_b64)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyError_(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes, got {len(raw)}")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyError_("not a valid Ed25519 public key") from exc
    return raw


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    """Sign ``message``; the signature as base64url without padding."""
    return b64url_encode(private_key.sign(message))


@functools.lru_cache(maxsize=VERIFY_KEYS_CACHED_MAX)
def _verify_key(public_b64: str) -> VerifyKey:
    """A member's key, decoded once: a key signs many commands (an auditor checks
    every one), and decoding it is a tenth of the cost of checking a signature."""
    return VerifyKey(decode_public_key(public_b64))


def verify(public_b64: str, signature_b64: str, message: bytes) -> bool:
    """True when ``signature_b64`` is a valid Ed25519 signature of ``message``.

    Verified with libsodium (PyNaCl), about a third faster than OpenSSL through
    ``cryptography`` and stricter: it also refuses small-order keys and non-canonical
    signature encodings, which no honest signer produces.
    """
    try:
        signature = b64url_decode(signature_b64)
        public = _verify_key(public_b64)
    except (KeyError_, ValueError, CryptoError):
        return False
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        public.verify(message, signature)
    except (BadSignatureError, CryptoError):
        return False
    return True


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_("the PEM file does not hold an Ed25519 private key")
    return key
