"""Therapist accounts: passwords (argon2id), sign-in throttling, TOTP two-factor with recovery
codes, and single-use password reset tokens. Database steps only; the views are in web/auth.py.

Secrets are never stored as given: passwords as argon2id hashes, recovery codes and reset
tokens as SHA-256 (they carry 80 and 256 random bits), TOTP secrets sealed with AES-GCM under
a key derived from the app's secret key, and throttle keys as HMACs of the e-mail address and
the network address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import receipts
from .tables import PasswordReset, RecoveryCode, SignInFailure, Therapist, aware, utcnow

MIN_PASSWORD = 12
MAX_PASSWORD = 256
RECOVERY_CODES = 10
RESET_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    """At most ``per_account`` failures per e-mail address and ``per_address`` per network
    address within ``window``; then sign-in is refused until the oldest failure ages out."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


class EmailTaken(ValueError):
    """An account with this e-mail address exists already."""


class Throttled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(f"too many failed attempts; retry in {retry_after}")
        self.retry_after = retry_after


def hasher(params: dict[str, int] | None = None) -> PasswordHasher:
    """Argon2id with the library's defaults (RFC 9106 low-memory profile), or lighter ones
    for tests (``time_cost``, ``memory_cost`` in KiB, ``parallelism``)."""
    if not params:
        return PasswordHasher()
    return PasswordHasher(time_cost=params["time_cost"], memory_cost=params["memory_cost"],
                          parallelism=params["parallelism"])  # fmt: skip


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_therapist(
    session: Session, ph: PasswordHasher, *, email: str, display_name: str, password: str
) -> Therapist:
    therapist = Therapist(
        email=normalise_email(email),
        display_name=display_name.strip(),
        password_hash=ph.hash(password),
    )
    session.add(therapist)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise EmailTaken(email) from exc
    return therapist


def _key(secret: str, kind: str, value: str) -> bytes:
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).digest()


def authenticate(
    session: Session,
    ph: PasswordHasher,
    *,
    email: str,
    password: str,
    address: str,
    secret: str,
    throttle: Throttle = Throttle(),  # frozen
) -> Therapist | None:
    """The account for this e-mail and password, or None; raises :class:`Throttled` when there
    were too many recent failures for the address or the account (checked before the password,
    so a throttled guess learns nothing)."""
    email = normalise_email(email)
    keys = failure_keys(secret, email, address)
    now = utcnow()
    since = now - throttle.window
    session.execute(delete(SignInFailure).where(SignInFailure.at < since))
    for key, limit in zip(keys, (throttle.per_account, throttle.per_address), strict=True):
        rows = session.execute(
            select(func.count(), func.min(SignInFailure.at))
            .where(SignInFailure.key_hash == key, SignInFailure.at >= since)
        ).one()  # fmt: skip
        if rows[0] >= limit:
            session.commit()
            raise Throttled(max(aware(rows[1]) + throttle.window - now, timedelta(seconds=1)))
    therapist = session.scalars(select(Therapist).where(Therapist.email == email)).first()
    if therapist is None:
        ph.hash(password)  # the same work as a real check, so timing does not reveal accounts
    elif check_password(ph, therapist, password):
        session.commit()
        return therapist
    record_failure(session, keys)
    return None


def record_failure(session: Session, keys: list[bytes]) -> None:
    session.add_all(SignInFailure(key_hash=key) for key in keys)
    session.commit()


def failure_keys(secret: str, email: str, address: str) -> list[bytes]:
    """The throttle keys of a sign-in: the account's, then the network address's."""
    return [_key(secret, "email", normalise_email(email)), _key(secret, "addr", address)]


def check_password(ph: PasswordHasher, therapist: Therapist, password: str) -> bool:
    """True if ``password`` is right; rehashes it when the hashing parameters have changed."""
    try:
        ph.verify(therapist.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if ph.check_needs_rehash(therapist.password_hash):
        therapist.password_hash = ph.hash(password)
    return True


def set_password(session: Session, ph: PasswordHasher, therapist: Therapist, password: str) -> None:
    """A new password signs out every session (the epoch is part of the session id)."""
    therapist.password_hash = ph.hash(password)
    therapist.session_epoch += 1
    session.commit()


# ---- Two-factor (TOTP, RFC 6238) ------------------------------------------------------------


def _totp_key(secret: str) -> bytes:
    return receipts.derive_key(secret, b"secure-base/totp", b"totp-v1")


def seal_totp(secret: str, totp_secret: str) -> bytes:
    return receipts.encrypt(_totp_key(secret), totp_secret.encode(), b"totp")


def unseal_totp(secret: str, blob: bytes) -> str:
    return receipts.decrypt(_totp_key(secret), blob, b"totp").decode()


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


def verify_second_factor(session: Session, secret: str, therapist: Therapist, code: str) -> bool:
    """A TOTP code or an unused recovery code; either works once."""
    if therapist.totp_secret is None:
        return False
    step = totp_step(unseal_totp(secret, therapist.totp_secret), code, therapist.totp_last_step)
    if step is not None:
        therapist.totp_last_step = step
        session.commit()
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
    session.commit()


def _code_digest(code: str) -> bytes:
    return hashlib.sha256(code.upper().replace("-", "").replace(" ", "").encode()).digest()


def new_recovery_codes(session: Session, therapist: Therapist) -> list[str]:
    """Replace the recovery codes with ``RECOVERY_CODES`` new ones (16 base32 characters)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.therapist_id == therapist.id))
    codes = ["".join(secrets.choice(receipts.ALPHABET) for _ in range(16))
             for _ in range(RECOVERY_CODES)]  # fmt: skip
    session.add_all(RecoveryCode(therapist_id=therapist.id, code_hash=_code_digest(c))
                    for c in codes)  # fmt: skip
    session.commit()
    return [receipts.display(c) for c in codes]


def use_recovery_code(session: Session, therapist: Therapist, code: str) -> bool:
    result = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.therapist_id == therapist.id,
               RecoveryCode.code_hash == _code_digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )  # fmt: skip
    session.commit()
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


# ---- Password reset ------------------------------------------------------------------------


def start_reset(session: Session, email: str) -> tuple[Therapist, str] | None:
    """A new single-use reset token for the account, or None if there is no such account."""
    therapist = session.scalars(
        select(Therapist).where(Therapist.email == normalise_email(email))
    ).first()
    if therapist is None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(therapist_id=therapist.id, token_hash=receipts.token_digest(token),
                              expires_at=utcnow() + RESET_LIFETIME))  # fmt: skip
    session.commit()
    return therapist, token


def find_reset(session: Session, token: str) -> PasswordReset | None:
    """The reset for a token if it is unused and unexpired."""
    reset = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == receipts.token_digest(token))
    ).first()
    if reset is None or reset.used_at is not None:
        return None
    return reset if aware(reset.expires_at) > utcnow() else None


def finish_reset(session: Session, ph: PasswordHasher, token: str, password: str) -> bool:
    """Set the new password and use up the token (and every other open token of the account)."""
    reset = find_reset(session, token)
    if reset is None:
        return False
    therapist = session.get(Therapist, reset.therapist_id)
    assert therapist is not None
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.therapist_id == therapist.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )  # fmt: skip
    set_password(session, ph, therapist, password)
    return True
