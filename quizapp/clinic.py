"""Database steps of the therapist workflow: clients, invites, administrations and the audit log.

Every query that reads client data takes the therapist's id and filters on it, so a view
cannot forget the ownership check: another therapist's client is simply not found (404).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import operations, receipts
from .scoring.instrument import Instrument
from .tables import AuditEntry, Client, Invite, Submission, aware, utcnow

PER_PAGE = 25
CLIENT_SEES = {
    "results": "their results and personal report",
    "thanks": "a thank-you page only (you go through the results together)",
}


class LabelTaken(ValueError):
    """This therapist already has a client with this label."""


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


def _page_of(page: int, total: int, per_page: int) -> tuple[int, int]:
    pages = max(1, math.ceil(total / per_page))
    return min(max(1, page), pages), pages


# ---- Clients -------------------------------------------------------------------------------


def create_client(session: Session, therapist_id: int, label: str, note: str | None) -> Client:
    client = Client(
        therapist_id=therapist_id, label=label.strip(), note=(note or "").strip() or None
    )
    session.add(client)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise LabelTaken(label) from exc
    audit(session, therapist_id, "create client", client_id=client.id)
    return client


def get_client(session: Session, therapist_id: int, client_id: int) -> Client | None:
    return session.scalars(
        select(Client).where(Client.id == client_id, Client.therapist_id == therapist_id)
    ).first()


def delete_client(session: Session, therapist_id: int, client_id: int) -> bool:
    """Delete a client with every invite, answer and stored report (ON DELETE CASCADE)."""
    result = session.execute(
        delete(Client).where(Client.id == client_id, Client.therapist_id == therapist_id)
    )
    if not getattr(result, "rowcount", 0):
        session.rollback()
        return False
    audit(session, therapist_id, "delete client and all their data", client_id=client_id)
    return True


@dataclass(frozen=True)
class ClientRow:
    id: int
    label: str
    administrations: int
    last_result: datetime | None
    open_invites: int
    last_activity: datetime


def list_clients(
    session: Session, therapist_id: int, search: str = "", page: int = 1, per_page: int = PER_PAGE
) -> Page[ClientRow]:
    """One page of clients, most recently active first; ``search`` matches part of a label."""
    where = [Client.therapist_id == therapist_id]
    if search.strip():
        pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%")
        pattern = pattern.replace("_", "\\_") + "%"
        where.append(func.lower(Client.label).like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(Client).where(*where)) or 0
    page, pages = _page_of(page, total, per_page)
    clients = session.execute(
        select(Client.id, Client.label, Client.last_activity_at)
        .where(*where)
        .order_by(Client.last_activity_at.desc(), Client.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    ids = [c.id for c in clients]
    done: dict[int, tuple[int, datetime | None]] = dict.fromkeys(ids, (0, None))
    for cid, n, last in session.execute(
        select(Submission.client_id, func.count(), func.max(Submission.finished_at))
        .where(Submission.client_id.in_(ids))
        .group_by(Submission.client_id)
    ):
        if cid is not None:
            done[cid] = (n, last)
    now = utcnow()
    open_counts = dict(
        session.execute(
            select(Invite.client_id, func.count())
            .where(
                Invite.client_id.in_(ids),
                Invite.completed_at.is_(None),
                Invite.revoked_at.is_(None),
                Invite.expires_at > now,
            )
            .group_by(Invite.client_id)
        ).all()
    )
    rows = []
    for c in clients:
        n, latest = done[c.id]
        rows.append(
            ClientRow(
                c.id,
                c.label,
                n,
                aware(latest) if latest else None,
                open_counts.get(c.id, 0),
                aware(c.last_activity_at),
            )
        )
    return Page(rows, page, pages, total)


def touch(session: Session, client_id: int) -> None:
    client = session.get(Client, client_id)
    if client is not None:
        client.last_activity_at = utcnow()


def administrations(session: Session, client_id: int) -> list[Submission]:
    """Every completed questionnaire of a client, oldest first (caller checked ownership)."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.client_id == client_id)
            .order_by(Submission.finished_at, Submission.id)
        )
    )


def get_administration(
    session: Session, therapist_id: int, client_id: int, submission_id: int
) -> tuple[Client, Submission] | None:
    client = get_client(session, therapist_id, client_id)
    if client is None:
        return None
    submission = session.scalars(
        select(Submission).where(Submission.id == submission_id, Submission.client_id == client.id)
    ).first()
    return (client, submission) if submission is not None else None


# ---- Invites -------------------------------------------------------------------------------


def create_invite(
    session: Session, client: Client, instrument_id: str, client_sees: str, days: int
) -> tuple[Invite, str]:
    """A new invite and its token (192 random bits; only the SHA-256 is stored)."""
    token = secrets.token_urlsafe(24)
    invite = Invite(
        client_id=client.id,
        token_hash=receipts.token_digest(token),
        instrument_id=instrument_id,
        client_sees=client_sees,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invite)
    client.last_activity_at = utcnow()
    session.flush()
    audit(
        session,
        client.therapist_id,
        "create invite",
        client_id=client.id,
        detail=f"{instrument_id}, expires in {days} days",
    )
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


def clear_expired_drafts(session: Session, therapist_id: int) -> None:
    """Drop unfinished answers of this therapist's expired invitations (revoking drops them at
    once; an expired link can no longer be finished, so its answers serve nobody)."""
    mine = select(Client.id).where(Client.therapist_id == therapist_id)
    session.execute(
        update(Invite)
        .where(Invite.client_id.in_(mine), Invite.draft.is_not(None),
               Invite.completed_at.is_(None), Invite.expires_at <= utcnow())
        .values(draft=None)
    )  # fmt: skip
    session.commit()


def client_invites(session: Session, client_id: int) -> list[Invite]:
    return list(
        session.scalars(
            select(Invite).where(Invite.client_id == client_id).order_by(Invite.created_at.desc())
        )
    )


def open_invites(session: Session, therapist_id: int, limit: int = 20) -> list[tuple[Invite, str]]:
    """The therapist's invites still waiting for the client, oldest first, with the label."""
    rows = session.execute(
        select(Invite, Client.label)
        .join(Client, Client.id == Invite.client_id)
        .where(
            Client.therapist_id == therapist_id,
            Invite.completed_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > utcnow(),
        )
        .order_by(Invite.created_at)
        .limit(limit)
    ).all()
    return list(rows)


def recent_completed(
    session: Session, therapist_id: int, limit: int = 10
) -> list[tuple[Submission, str]]:
    rows = session.execute(
        select(Submission, Client.label)
        .join(Client, Client.id == Submission.client_id)
        .where(Client.therapist_id == therapist_id)
        .order_by(Submission.finished_at.desc())
        .limit(limit)
    ).all()
    return list(rows)


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


def give_consent(session: Session, invite: Invite, version: str) -> None:
    invite.consented_at = utcnow()
    invite.consent_version = version
    session.commit()


def save_draft(
    session: Session, invite: Invite, answers: Mapping[str, int], started: datetime
) -> None:
    """Keep unfinished answers on the server (never in a cookie) until the client comes back."""
    invite.draft = {key: int(value) for key, value in answers.items()}
    invite.draft_started_at = invite.draft_started_at or started
    session.commit()


def complete_invite(
    session: Session,
    invite: Invite,
    instrument: Instrument,
    answers: Mapping[str, int],
    *,
    started_at: datetime,
    nonce: str,
) -> operations.Stored:
    """Store the answers for the client and close the invite, in one transaction."""

    def close(submission: Submission) -> None:
        invite.completed_at = utcnow()
        invite.submission_id = submission.id
        invite.draft = None
        touch(session, invite.client_id)

    return operations.store_submission(
        session,
        instrument,
        answers,
        started_at=aware(invite.draft_started_at) if invite.draft_started_at else started_at,
        nonce=nonce,
        client_id=invite.client_id,
        before_commit=close,
    )


def share_result(session: Session, invite: Invite, original: Submission) -> Submission:
    """Give the therapist a copy of an earlier anonymous result; the visitor keeps theirs, and
    deleting the client deletes only the copy."""
    copy = Submission(
        receipt_hash=receipts.digest(receipts.new_code()),
        form_nonce=secrets.token_hex(16),
        instrument_id=original.instrument_id,
        instrument_version=original.instrument_version,
        answers=dict(original.answers),
        started_at=original.started_at,
        finished_at=original.finished_at,
        client_id=invite.client_id,
    )
    session.add(copy)
    session.flush()
    invite.completed_at = utcnow()
    invite.submission_id = copy.id
    invite.shared_receipt = True
    invite.draft = None
    touch(session, invite.client_id)
    session.commit()
    return copy


# ---- Audit log -----------------------------------------------------------------------------


def audit(
    session: Session,
    therapist_id: int,
    action: str,
    *,
    client_id: int | None = None,
    submission_id: int | None = None,
    detail: str = "",
) -> None:
    """Record one view, export or change of client data, and commit with it."""
    session.add(
        AuditEntry(
            therapist_id=therapist_id,
            action=action,
            client_id=client_id,
            submission_id=submission_id,
            detail=detail[:200],
        )
    )
    session.commit()


def audit_log(
    session: Session,
    therapist_id: int,
    page: int = 1,
    client_id: int | None = None,
    per_page: int = 50,
) -> Page[AuditEntry]:
    where = [AuditEntry.therapist_id == therapist_id]
    if client_id is not None:
        where.append(AuditEntry.client_id == client_id)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    page, pages = _page_of(page, total, per_page)
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(entries, page, pages, total)
