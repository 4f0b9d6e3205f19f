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
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The canonical code for what a person typed or pasted, or None if it cannot be one."""
    code = re.sub(r"[\s-]", "", text).upper().translate(_CONFUSABLE)
    return code if _VALID.match(code) else None


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("ascii")).digest()


_SEAL_MAGIC = b"SB1"


def _report_key(code: str) -> bytes:
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=b"secure-base/report", info=b"pdf-v1")
    return hkdf.derive(code.encode("ascii"))


def seal(code: str, data: bytes) -> bytes:
    """Encrypt ``data`` (AES-256-GCM) with a key only the holder of ``code`` can derive."""
    nonce = os.urandom(12)
    return _SEAL_MAGIC + nonce + AESGCM(_report_key(code)).encrypt(nonce, data, None)


def unseal(code: str, blob: bytes) -> bytes:
    """Decrypt what :func:`seal` made; raises ``ValueError`` for a wrong code or damaged data."""
    if not blob.startswith(_SEAL_MAGIC):
        raise ValueError("not a sealed report")
    nonce, body = blob[3:15], blob[15:]
    try:
        return AESGCM(_report_key(code)).decrypt(nonce, body, None)
    except Exception as exc:  # cryptography raises InvalidTag
        raise ValueError("the report cannot be opened with this code") from exc
