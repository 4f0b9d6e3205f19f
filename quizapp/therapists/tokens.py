"""Personal access tokens: how a therapist's own scripts use the JSON API (``/api/v1``).

A token is made on the account page, named, with scopes and an expiry, and shown once: only
its SHA-256 is stored (it carries 256 random bits, so a plain hash is enough, as for receipt
codes). It works until it expires, is revoked, or an operator disables the account. Database
steps only; the caller commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage import receipts
from ..storage.tables import ApiToken, Therapist, aware, utcnow

PREFIX = "sbpat_"  # "Secure Base personal access token": secret scanners can spot one
SCOPES = {
    "results:read": "list your clients and read their results",
    "invitations:write": "create and withdraw invitations",
}
LIFETIMES = (7, 30, 90, 365)  # days a token may be made to work
MAX_TOKENS = 20  # live tokens per account


class TooManyTokens(ValueError):
    """The account has :data:`MAX_TOKENS` live tokens already."""


@dataclass(frozen=True)
class Bearer:
    """Who a request's token speaks for, and what it may do."""

    therapist_id: int
    token_id: int
    scopes: frozenset[str]


def token_state(token: ApiToken) -> str:
    """active, revoked or expired."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if aware(token.expires_at) <= utcnow() else "active"


def list_tokens(session: Session, therapist_id: int) -> list[ApiToken]:
    """The account's tokens, newest first (revoked and expired ones too, for the record)."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.therapist_id == therapist_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def create_token(
    session: Session, therapist_id: int, name: str, scopes: list[str], days: int
) -> tuple[ApiToken, str]:
    """A new token and its text (shown once; only its SHA-256 is kept)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes or days not in LIFETIMES:
        raise ValueError(f"unknown scopes {sorted(unknown)} or lifetime {days}")
    live = [t for t in list_tokens(session, therapist_id) if token_state(t) == "active"]
    if len(live) >= MAX_TOKENS:
        raise TooManyTokens(str(MAX_TOKENS))
    text = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(therapist_id=therapist_id, name=name.strip()[:80],
                     token_hash=receipts.token_digest(text),
                     scopes=" ".join(s for s in SCOPES if s in scopes),
                     created_at=now, expires_at=now + timedelta(days=days))  # fmt: skip
    session.add(token)
    session.flush()
    return token, text


def revoke_token(session: Session, therapist_id: int, token_id: int) -> bool:
    """Revoke one of the account's own tokens; False for none (or another's, or revoked)."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.therapist_id == therapist_id)
    ).first()
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.flush()
    return True


def authenticate(session: Session, text: str) -> Bearer | None:
    """The account a token speaks for, or None: an unknown, expired or revoked token, or one
    of a disabled account. Notes the time of use (the caller commits it with its audit line)."""
    if not text.startswith(PREFIX) or len(text) > 100:
        return None
    found = session.execute(
        select(ApiToken, Therapist.disabled_at)
        .join(Therapist, Therapist.id == ApiToken.therapist_id)
        .where(ApiToken.token_hash == receipts.token_digest(text))
    ).first()
    if found is None:
        return None
    token, disabled_at = found
    if disabled_at is not None or token_state(token) != "active":
        return None
    token.last_used_at = utcnow()
    return Bearer(token.therapist_id, token.id, frozenset(token.scopes.split()))
