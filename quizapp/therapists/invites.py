"""Invitations: a link that asks a client to take one questionnaire for their therapist.

The client sees who asks and what will be shared (``content/consent.toml``), consents (stored
with the consent text's version), can save half-way and come back with the same link, and
either answers or shares an earlier anonymous result by its receipt code.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..scoring.instrument import Instrument
from ..storage import receipts, submissions
from ..storage.database import Linked
from ..storage.tables import Client, Invite, Submission, aware, utcnow
from .audit import audit
from .clients import touch

CLIENT_SEES = {
    "results": "their results and personal report",
    "thanks": "a thank-you page only (you go through the results together)",
}
CONSENT_KEYS = ("version", "shared", "not_shared", "terms")


def load_consent(path: str | Path) -> dict[str, Any]:
    """The consent text shown with every invitation; refuses a file without its parts."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    for key in CONSENT_KEYS:
        if key not in data:
            raise RuntimeError(f"{path}: missing {key!r}")
    return data


def create_invite(
    session: Session, client: Client, instrument_id: str, client_sees: str, days: int
) -> tuple[Invite, str]:
    """A new invite and its token (192 random bits; only the SHA-256 is stored)."""
    token = secrets.token_urlsafe(24)
    invite = Invite(
        client_id=client.id,
        therapist_id=client.therapist_id,
        token_hash=receipts.token_digest(token),
        instrument_id=instrument_id,
        client_sees=client_sees,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invite)
    client.last_activity_at = utcnow()
    session.flush()
    audit(session, client.therapist_id, "create invite", client_id=client.id,
          detail=f"{instrument_id}, expires in {days} days")  # fmt: skip
    return invite, token


def invite_state(invite: Invite) -> str:
    """open, completed, revoked or expired."""
    if invite.completed_at is not None:
        return "completed"
    if invite.revoked_at is not None:
        return "revoked"
    if aware(invite.expires_at) <= utcnow():
        return "expired"
    return "open"


def find_invite(session: Session, token: str) -> Invite | None:
    if not 16 <= len(token) <= 64:
        return None
    return session.scalars(
        select(Invite).where(Invite.token_hash == receipts.token_digest(token))
    ).first()


def clear_all_expired_drafts(session: Session) -> None:
    """Drop the unfinished answers of every expired invitation (the renderer's periodic
    chore, so that no page has to write while it reads)."""
    session.execute(
        update(Invite)
        .where(Invite.draft.is_not(None), Invite.completed_at.is_(None),
               Invite.expires_at <= utcnow())
        .values(draft=None)
    )  # fmt: skip


def client_invites(session: Session, client_id: int) -> list[Invite]:
    return list(
        session.scalars(
            select(Invite).where(Invite.client_id == client_id).order_by(Invite.created_at.desc())
        )
    )


def open_invites(session: Session, therapist_id: int, limit: int = 20) -> list[tuple[Invite, str]]:
    """The therapist's invites still waiting for the client, oldest first, with the label."""
    values = {"therapist": therapist_id, "now": utcnow(), "limit": limit}
    return [(row[0], row[1]) for row in session.execute(_OPEN, values).all()]


# Built once (with its cache key): the dashboard runs it on every view.
_OPEN = (
    select(Invite, Client.label)
    .join(Client, Client.id == Invite.client_id)
    .where(
        Invite.therapist_id == bindparam("therapist"),
        Invite.completed_at.is_(None),
        Invite.revoked_at.is_(None),
        Invite.expires_at > bindparam("now"),
    )
    .order_by(Invite.created_at)
    .limit(bindparam("limit"))
)


def revoke_invite(session: Session, client: Client, invite_id: int) -> bool:
    invite = session.scalars(
        select(Invite).where(Invite.id == invite_id, Invite.client_id == client.id)
    ).first()
    if invite is None or invite_state(invite) != "open":
        return False
    invite.revoked_at = utcnow()
    invite.draft = None  # unfinished answers go with the invite
    audit(session, client.therapist_id, "revoke invite", client_id=client.id)
    return True


def give_consent(invite: Invite, version: str) -> None:
    invite.consented_at = utcnow()
    invite.consent_version = version


def save_draft(invite: Invite, answers: Mapping[str, int], started: datetime) -> None:
    """Keep unfinished answers on the server (never in a cookie) until the client comes back."""
    invite.draft = {key: int(value) for key, value in answers.items()}
    invite.draft_started_at = invite.draft_started_at or started


def began_at(invite: Invite, started_at: datetime) -> datetime:
    """When the client began: with saved answers, when they began the first time."""
    return aware(invite.draft_started_at) if invite.draft_started_at else started_at


def complete_invite(
    session: Session,
    invite: Invite,
    instrument: Instrument,
    answers: Mapping[str, int],
    *,
    started_at: datetime,
    nonce: str,
    finished_at: datetime | None = None,
    receipt: str | None = None,
    linked: Sequence[Linked] = (),
    follow_up: Mapping[str, Any] | None = None,
) -> submissions.Stored:
    """Store the answers for the client (with the ``linked`` rows and the ``follow_up`` to
    ask, as ``store_submission``) and close the invite (one commit saves both)."""
    stored = submissions.store_submission(
        session,
        instrument,
        answers,
        started_at=began_at(invite, started_at),
        nonce=nonce,
        client_id=invite.client_id,
        therapist_id=invite.therapist_id,
        finished_at=finished_at,
        receipt=receipt,
        linked=linked,
        follow_up=follow_up,
    )
    invite.completed_at = utcnow()
    invite.submission_id = stored.submission_id
    invite.draft = None
    touch(session, invite.client_id)
    return stored


def share_result(session: Session, invite: Invite, original: Submission) -> Submission:
    """Give the therapist a copy of an earlier anonymous result; the visitor keeps theirs, and
    deleting the client deletes only the copy."""
    copy = Submission(
        receipt_hash=receipts.digest(receipts.new_code()),
        form_nonce=secrets.token_hex(16),
        instrument_id=original.instrument_id,
        instrument_version=original.instrument_version,
        answers=dict(original.answers),
        follow_up=None if original.follow_up is None else dict(original.follow_up),
        started_at=original.started_at,
        finished_at=original.finished_at,
        client_id=invite.client_id,
        therapist_id=invite.therapist_id,
    )
    session.add(copy)
    session.flush()
    invite.completed_at = utcnow()
    invite.submission_id = copy.id
    invite.shared_receipt = True
    invite.draft = None
    touch(session, invite.client_id)
    return copy
