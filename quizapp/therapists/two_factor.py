"""Two-factor sign-in for therapists: TOTP (RFC 6238) and single-use recovery codes.

The TOTP secret is sealed with AES-GCM under a key derived from the app's secret key (so
losing that key locks every therapist out; after a rotation, the old keys in
``QUIZAPP_SECRET_KEY_FALLBACKS`` still open it until it is sealed again); recovery codes (80
random bits) are stored as SHA-256. A code works once: a TOTP step at or before the last one
used is refused. Database steps only; the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..storage import receipts
from ..storage.tables import RecoveryCode, Therapist, utcnow

RECOVERY_CODES = 10


def _totp_key(secret: str) -> bytes:
    return receipts.derive_key(secret, b"secure-base/totp", b"totp-v1")


def seal_totp(secret: str, totp_secret: str) -> bytes:
    return receipts.encrypt(_totp_key(secret), totp_secret.encode(), b"totp")


def unseal_totp(secret: str, blob: bytes, fallbacks: Sequence[str] = ()) -> str:
    """The TOTP secret, sealed with ``secret`` or, after a key rotation, with one of the
    ``fallbacks`` (raises ``InvalidTag`` if none opens it)."""
    for key in (secret, *fallbacks):
        try:
            return receipts.decrypt(_totp_key(key), blob, b"totp").decode()
        except InvalidTag:
            continue
    raise InvalidTag


def reseal_totp(secret: str, fallbacks: Sequence[str], therapist: Therapist) -> bool:
    """Seal the account's TOTP secret with ``secret`` if an older key sealed it; True if so."""
    if therapist.totp_secret is None:
        return False
    try:
        receipts.decrypt(_totp_key(secret), therapist.totp_secret, b"totp")
        return False
    except InvalidTag:
        totp_secret = unseal_totp(secret, therapist.totp_secret, fallbacks)
    therapist.totp_secret = seal_totp(secret, totp_secret)
    return True


def new_totp_secret() -> str:
    return pyotp.random_base32()  # 160 bits


def provisioning_uri(totp_secret: str, email: str, issuer: str = "Secure Base") -> str:
    return pyotp.TOTP(totp_secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (drawn here, no image service)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, border=2, title="Two-factor QR code")
    return svg


def totp_step(totp_secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for (allowing one step of clock drift either way), or
    None; a step at or before ``last_step`` is refused, so a code works once."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(totp_secret)
    now = datetime.now().timestamp()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        step = int(at // totp.interval)
        if hmac.compare_digest(totp.at(at), code) and (last_step is None or step > last_step):
            return step
    return None


def verify_second_factor(
    session: Session, secret: str, therapist: Therapist, code: str, fallbacks: Sequence[str] = ()
) -> bool:
    """A TOTP code or an unused recovery code; either works once. A TOTP secret still sealed
    with an older key (``fallbacks``, during a key rotation) is sealed again with ``secret``."""
    if therapist.totp_secret is None:
        return False
    totp_secret = unseal_totp(secret, therapist.totp_secret, fallbacks)
    step = totp_step(totp_secret, code, therapist.totp_last_step)
    if step is not None:
        therapist.totp_last_step = step
        if fallbacks:
            reseal_totp(secret, fallbacks, therapist)
        session.flush()
        return True
    return use_recovery_code(session, therapist, code)


def enable_totp(
    session: Session, secret: str, therapist: Therapist, totp_secret: str, code: str
) -> list[str] | None:
    """Turn two-factor on once the person proves their app has the secret; returns fresh
    recovery codes (shown once) or None for a wrong code."""
    step = totp_step(totp_secret, code, None)
    if step is None:
        return None
    therapist.totp_secret = seal_totp(secret, totp_secret)
    therapist.totp_last_step = step
    therapist.session_epoch += 1
    return new_recovery_codes(session, therapist)


def disable_totp(session: Session, therapist: Therapist) -> None:
    therapist.totp_secret = None
    therapist.totp_last_step = None
    therapist.session_epoch += 1
    session.execute(delete(RecoveryCode).where(RecoveryCode.therapist_id == therapist.id))


def _code_digest(code: str) -> bytes:
    return hashlib.sha256(code.upper().replace("-", "").replace(" ", "").encode()).digest()


def new_recovery_codes(session: Session, therapist: Therapist) -> list[str]:
    """Replace the recovery codes with ``RECOVERY_CODES`` new ones (16 base32 characters)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.therapist_id == therapist.id))
    codes = ["".join(secrets.choice(receipts.ALPHABET) for _ in range(16))
             for _ in range(RECOVERY_CODES)]  # fmt: skip
    session.add_all(RecoveryCode(therapist_id=therapist.id, code_hash=_code_digest(c))
                    for c in codes)  # fmt: skip
    session.flush()
    return [receipts.display(c) for c in codes]


def use_recovery_code(session: Session, therapist: Therapist, code: str) -> bool:
    result = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.therapist_id == therapist.id,
               RecoveryCode.code_hash == _code_digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )  # fmt: skip
    return bool(getattr(result, "rowcount", 0))


def recovery_codes_left(session: Session, therapist: Therapist) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                RecoveryCode.therapist_id == therapist.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )
