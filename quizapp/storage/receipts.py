"""Receipt codes: 140 random bits a visitor keeps to reopen or delete their result.

Written in Crockford's base32 (no I, L, O, U) in groups of four, e.g. ``7K2Q-...``; typing
errors between look-alike characters are forgiven. Only a SHA-256 of the code is stored, and
stored PDF reports (which print the code) are sealed with a key derived from the code, so a
copy of the database opens neither results nor reports.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 28  # 28 x 5 = 140 bits
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VALID = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")


def new_code() -> str:
    bits = secrets.randbits(5 * LENGTH)  # one read of the system's random source
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(LENGTH))


def normalise(text: str) -> str | None:
    """The canonical code for what a person typed or pasted, or None if it cannot be one."""
    code = re.sub(r"[\s-]", "", text).upper().translate(_CONFUSABLE)
    return code if _VALID.match(code) else None


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("ascii")).digest()


def token_digest(token: str) -> bytes:
    """SHA-256 of a random token (invite links, reset links): what is stored instead of it."""
    return hashlib.sha256(token.encode()).digest()


def derive_key(material: str, salt: bytes, info: bytes) -> bytes:
    """A 256-bit key from a secret (a receipt code, the app's secret key) with HKDF-SHA256."""
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(material.encode())


def encrypt(key: bytes, data: bytes, aad: bytes | None = None) -> bytes:
    """AES-256-GCM with a fresh 96-bit nonce, returned in front of the ciphertext."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes | None = None) -> bytes:
    """Undo :func:`encrypt`; raises ``cryptography.exceptions.InvalidTag`` if anything differs."""
    return AESGCM(key).decrypt(blob[:12], blob[12:], aad)


_SEAL_MAGIC = b"SB1"


def _report_key(code: str) -> bytes:
    return derive_key(code, b"secure-base/report", b"pdf-v1")


def seal(code: str, data: bytes) -> bytes:
    """Encrypt ``data`` (AES-256-GCM) with a key only the holder of ``code`` can derive."""
    return _SEAL_MAGIC + encrypt(_report_key(code), data)


def unseal(code: str, blob: bytes) -> bytes:
    """Decrypt what :func:`seal` made; raises ``ValueError`` for a wrong code or damaged data."""
    if not blob.startswith(_SEAL_MAGIC):
        raise ValueError("not a sealed report")
    try:
        return decrypt(_report_key(code), blob[len(_SEAL_MAGIC) :])
    except Exception as exc:  # cryptography raises InvalidTag
        raise ValueError("the report cannot be opened with this code") from exc
