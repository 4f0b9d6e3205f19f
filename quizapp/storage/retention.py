"""How long each kind of record is kept, and the purge that enforces it.

``quizapp purge`` prints what is due (``--apply`` deletes it); the renderer (or a Celery worker
with the beat schedule) runs the same purge every hour, so the embedded default enforces the
policy with no cron job. Rows go in batches, each its own short transaction, so a purge can
run beside the service; on SQLite the write-ahead log is emptied afterwards, so no deleted row
stays in the database's files.

What is kept, and for how long (README and the privacy page say the same):

- an anonymous result (answers, analysis, PDFs): ``QUIZAPP_RETENTION_DAYS`` after it was
  finished, 365 by default, long enough to come back to it or compare with a retake a year
  on; a therapist's client records are kept until the therapist deletes the client;
- a stored PDF made with an earlier report version (templates, content, rules or models have
  changed since): deleted; it is rendered again when someone asks for it;
- an invitation never completed: 30 days after it expired or was withdrawn (completed ones
  belong to the client's record);
- a password-reset token: a day after it was used or expired;
- a failed sign-in: a day (it counts for 15 minutes);
- an audit entry: ``QUIZAPP_AUDIT_RETENTION_DAYS``, 730 by default (two years: long enough to
  answer a client's question about who saw their data, set longer where the law asks);
- a snapshot of earlier interpretation content that no stored analysis uses any more;
- a webhook delivery that ended (sent or given up), with its lines in the delivery log: 30
  days after its last attempt (its body went when it ended).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from .tables import (
    AuditEntry,
    ContentSnapshot,
    Invite,
    PasswordReset,
    RenderedReport,
    SignInFailure,
    StoredAnalysis,
    Submission,
    WebhookDelivery,
    utcnow,
)

INVITATION_GRACE = timedelta(days=30)
TOKEN_GRACE = timedelta(days=1)
FAILURE_GRACE = timedelta(days=1)
WEBHOOK_LOG_DAYS = timedelta(days=30)
BATCH = 500


@dataclass(frozen=True)
class Policy:
    results_days: int = 365
    audit_days: int = 730

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(settings["RETENTION_DAYS"], settings["AUDIT_RETENTION_DAYS"])


@dataclass(frozen=True)
class Current:
    """What the running code makes now: its report version (of stored PDFs) and its content
    version (a snapshot the next analysis needs, so never purged)."""

    report: str
    content: str


@dataclass(frozen=True)
class Kind:
    """One kind of record the policy removes: its rows, the key to delete them by, and which
    of them are due."""

    name: str
    table: Any
    key: Any
    due: Callable[[Policy, datetime, Current], ColumnElement[bool]]


KINDS = (
    Kind("anonymous results (answers, analysis, PDFs)", Submission, Submission.id,
         lambda p, now, _v: and_(Submission.client_id.is_(None),
                                 Submission.finished_at < now - timedelta(days=p.results_days))),
    Kind("PDFs of an earlier report version", RenderedReport, RenderedReport.id,
         lambda _p, _now, current: RenderedReport.template_version != current.report),
    Kind("invitations expired or withdrawn, never completed", Invite, Invite.id,
         lambda _p, now, _v: and_(Invite.completed_at.is_(None),
                                  or_(Invite.expires_at < now - INVITATION_GRACE,
                                      Invite.revoked_at < now - INVITATION_GRACE))),
    Kind("password-reset tokens used or expired", PasswordReset, PasswordReset.id,
         lambda _p, now, _v: or_(PasswordReset.expires_at < now - TOKEN_GRACE,
                                 PasswordReset.used_at < now - TOKEN_GRACE)),
    Kind("failed sign-ins", SignInFailure, SignInFailure.id,
         lambda _p, now, _v: SignInFailure.at < now - FAILURE_GRACE),
    Kind("audit entries", AuditEntry, AuditEntry.id,
         lambda p, now, _v: AuditEntry.at < now - timedelta(days=p.audit_days)),
    Kind("content snapshots no analysis uses", ContentSnapshot, ContentSnapshot.version,
         lambda _p, _now, current: and_(
             ContentSnapshot.version != current.content,
             ~exists().where(StoredAnalysis.content_version == ContentSnapshot.version))),
    Kind("webhook deliveries ended, with their log", WebhookDelivery, WebhookDelivery.id,
         lambda _p, now, _v: and_(WebhookDelivery.status != "pending",
                                  WebhookDelivery.updated_at < now - WEBHOOK_LOG_DAYS)),
)  # fmt: skip


def due(session: Session, policy: Policy, current: Current, now: datetime | None = None) -> (
    dict[str, int]
):  # fmt: skip
    """How many rows of each kind the policy would delete now."""
    now = now or utcnow()
    counts = {}
    for kind in KINDS:
        counted = select(func.count()).select_from(kind.table)
        counts[kind.name] = session.scalar(counted.where(kind.due(policy, now, current)))
    return {name: int(n or 0) for name, n in counts.items()}


def purge(
    sessions: Callable[[], Session],
    policy: Policy,
    current: Current,
    now: datetime | None = None,
    batch: int = BATCH,
) -> dict[str, int]:
    """Delete what the policy says is due, kind by kind, ``batch`` rows per transaction
    (deleting a result takes its analysis and PDFs with it); how many rows of each kind."""
    now = now or utcnow()
    deleted = {}
    for kind in KINDS:
        deleted[kind.name] = sum(_batches(sessions, kind, policy, now, current, batch))
    return deleted


def _batches(sessions: Callable[[], Session], kind: Kind, policy: Policy, now: datetime,
             current: Current, batch: int) -> Iterator[int]:  # fmt: skip
    while True:
        with sessions() as session:
            chosen = select(kind.key).where(kind.due(policy, now, current)).limit(batch)
            keys = list(session.scalars(chosen))
            if not keys:
                return
            session.execute(delete(kind.table).where(kind.key.in_(keys)))
            session.commit()
        yield len(keys)
