"""Therapist accounts: passwords (argon2id), sign-in throttling and single-use password reset
tokens (two-factor sign-in is in ``two_factor``). Database steps only; the views are in
``quizapp.web.auth``, and the caller commits.

Secrets are never stored as given: passwords as argon2id hashes, reset tokens as SHA-256 (they
carry 256 random bits), and throttle keys as HMACs of the e-mail address and the network
address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..storage import receipts
from ..storage.tables import PasswordReset, SignInFailure, Therapist, aware, utcnow

MIN_PASSWORD = 12
MAX_PASSWORD = 256
RESET_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    """At most ``per_account`` failures for one e-mail address from one network address, and
    ``per_address`` from one network address for any accounts, within ``window``; then that
    network address is refused until the oldest failure ages out. The account's owner, at any
    other address, signs in as usual: failures from elsewhere never lock them out."""

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
    """Add an account; raises :class:`EmailTaken` for an address in use (a request racing
    this one for the same address meets the unique constraint at the flush instead)."""
    email = normalise_email(email)
    if session.scalar(select(Therapist.id).where(Therapist.email == email)) is not None:
        raise EmailTaken(email)
    therapist = Therapist(email=email, display_name=display_name.strip(),
                          password_hash=ph.hash(password))  # fmt: skip
    session.add(therapist)
    session.flush()
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
    were too many recent failures from this address, for this account or for any (checked
    before the password,
    so a throttled guess learns nothing). A failure is recorded for the caller to commit, also
    when it then refuses the sign-in."""
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
            raise Throttled(max(aware(rows[1]) + throttle.window - now, timedelta(seconds=1)))
    therapist = session.scalars(select(Therapist).where(Therapist.email == email)).first()
    if therapist is None:
        ph.hash(password)  # the same work as a real check, so timing does not reveal accounts
    elif check_password(ph, therapist, password):
        return therapist
    record_failure(session, keys)
    return None


def record_failure(session: Session, keys: list[bytes]) -> None:
    session.add_all(SignInFailure(key_hash=key) for key in keys)
    session.flush()


def failure_keys(secret: str, email: str, address: str) -> list[bytes]:
    """The throttle keys of a sign-in: the account's at this network address, then the
    network address's."""
    pair = f"{normalise_email(email)}\0{address}"
    return [_key(secret, "email-addr", pair), _key(secret, "addr", address)]


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
    session.flush()


# ---- Password reset ------------------------------------------------------------------------


def start_reset(session: Session, email: str) -> tuple[Therapist, str] | None:
    """A new single-use reset token for the account, or None if there is no such account (or
    an operator disabled it)."""
    therapist = session.scalars(
        select(Therapist).where(Therapist.email == normalise_email(email))
    ).first()
    if therapist is None or therapist.disabled_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(therapist_id=therapist.id, token_hash=receipts.token_digest(token),
                              expires_at=utcnow() + RESET_LIFETIME))  # fmt: skip
    session.flush()
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
