"""Receipt codes: 140 random bits a visitor keeps to reopen or delete their result.

Written in Crockford's base32 (no I, L, O, U) in groups of four, e.g. ``7K2Q-...``; typing
errors between look-alike characters are forgiven. Only a SHA-256 of the code is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets

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
