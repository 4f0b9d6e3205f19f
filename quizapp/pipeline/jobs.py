"""The render queue: each PDF report is a row of ``rendered_reports``, and while it is pending
that row is the job, a durable outbox drained by the renderer processes (``renderer``).

A job is added in the transaction that stores the submission, so a stored result always has
its job and a rolled-back one never has; it survives any process dying. A renderer claims a
job for a lease (``LEASE``), so a job whose renderer died is taken up again when the lease
runs out; a failed attempt is retried after a pause, at most ``ATTEMPTS`` times; a finished
job is never rendered again (one row per submission, kind, page size and report version).
The receipt code the PDF is sealed with travels in the row sealed with a key derived from
the app's secret key, and is wiped when the job ends. Nothing here loads WeasyPrint: the web
app only adds jobs and reads finished reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from ..storage import receipts
from ..storage.database import Linked
from ..storage.tables import RenderedReport, aware, utcnow
from .pipeline import Pipeline

LEASE = timedelta(seconds=120)  # a render takes about half a second; a dead renderer's job
ATTEMPTS = 3  # waits at most this long, and a job that keeps failing is given up after 3
RETRY_PAUSE = timedelta(seconds=5)  # doubled after each failed attempt
WAITING, BACKGROUND = 1, 0  # priority: someone is waiting for it, or not yet
T = TypeVar("T")


class JobQueue(Protocol):
    """A broker that wakes renderers elsewhere (``queue.ReportQueue``: Celery with Redis)."""

    def enqueue(self, job_id: int) -> None: ...


@cache
def _job_key(secret_key: str) -> bytes:
    return receipts.derive_key(secret_key, b"secure-base/render-job", b"receipt-v1")


def seal_receipt(secret_key: str, receipt: str) -> bytes:
    """The receipt code as a job carries it: readable only with the app's secret key."""
    return receipts.encrypt(_job_key(secret_key), receipt.encode("ascii"), b"render-job")


def open_receipt(secret_key: str, sealed: bytes) -> str:
    return receipts.decrypt(_job_key(secret_key), sealed, b"render-job").decode("ascii")


@cache
def _therapist_key(secret_key: str) -> bytes:
    return receipts.derive_key(secret_key, b"secure-base/therapist-report", b"pdf-v1")


def seal_pdf(secret_key: str, receipt: str | None, pdf: bytes) -> bytes:
    """A client report is sealed with its receipt code; a therapist report (no code) with a
    key derived from the secret key. Either way a copy of the database opens no report."""
    if receipt is not None:
        return receipts.seal(receipt, pdf)
    return receipts.encrypt(_therapist_key(secret_key), pdf, b"therapist-report")


def open_pdf(secret_key: str, receipt: str | None, sealed: bytes) -> bytes:
    if receipt is not None:
        return receipts.unseal(receipt, sealed)
    return receipts.decrypt(_therapist_key(secret_key), sealed, b"therapist-report")


def reseal_row(secret_key: str, fallbacks: Sequence[str], row: RenderedReport) -> bool:
    """After a key rotation: seal the row's job key and its therapist PDF with ``secret_key``
    if an older key (one of ``fallbacks``) sealed them; True if anything changed. Raises
    ``InvalidTag`` if no key opens them. A client PDF is sealed with its receipt code: left
    as it is."""
    changed = False
    if (job_key := row.job_key) is not None:
        receipt, old = _open_with(secret_key, fallbacks, lambda key: open_receipt(key, job_key))
        if old:
            row.job_key, changed = seal_receipt(secret_key, receipt), True
    if row.kind == "therapist" and (sealed := row.pdf) is not None:
        pdf, old = _open_with(secret_key, fallbacks, lambda key: open_pdf(key, None, sealed))
        if old:
            row.pdf, changed = seal_pdf(secret_key, None, pdf), True
    return changed


def _open_with(secret_key: str, fallbacks: Sequence[str], opener: Callable[[str], T]) -> (
    tuple[T, bool]
):  # fmt: skip
    """What ``opener`` opens with the current key, or with an older one (then True)."""
    for key in (secret_key, *fallbacks):
        try:
            return opener(key), key != secret_key
        except InvalidTag:
            continue
    raise InvalidTag


def report_row(
    session: Session, pipeline: Pipeline, submission_id: int, *, kind: str, page_size: str
) -> RenderedReport | None:
    """This report's row at the current report version: a pending job, a PDF, or a failure."""
    return session.scalars(
        select(RenderedReport).filter_by(
            submission_id=submission_id, kind=kind, page_size=page_size,
            template_version=pipeline.report_version,
        )
    ).first()  # fmt: skip


def new_report_row(pipeline: Pipeline, *, secret_key: str, receipt: str) -> Linked:
    """The job that renders the client report of a submission about to be stored with it
    (``linked`` in ``store_submission``: it goes into the submission's transaction)."""
    now = utcnow()
    return RenderedReport, {
        "kind": "client", "page_size": "A4",
        "template_version": pipeline.report_version, "status": "pending", "attempts": 0,
        "priority": BACKGROUND, "job_key": seal_receipt(secret_key, receipt), "pdf": None,
        "error": None, "claimed_until": None, "not_before": None, "created_at": now,
        "updated_at": now,
    }  # fmt: skip


def request_report(
    session: Session,
    pipeline: Pipeline,
    submission_id: int,
    *,
    kind: str,
    page_size: str,
    secret_key: str,
    receipt: str | None,
    priority: int = BACKGROUND,
) -> tuple[RenderedReport, bool]:
    """The report's row, adding its job if there is none, bringing it forward when someone
    waits, and queueing a given-up job once more (the caller commits); and whether a renderer
    has something new to do (a job added or queued again, or one whose renderer died).

    ``receipt`` is the canonical receipt code of a client report, None for a therapist report.
    Two first requests at the same moment: the second meets the unique index (an
    ``IntegrityError``); its caller rolls back and asks again, and finds the first one's row.
    """
    if (kind == "client") != (receipt is not None):
        raise ValueError("a client report is sealed with its receipt code, a therapist's not")
    key = None if receipt is None else seal_receipt(secret_key, receipt)
    row = report_row(session, pipeline, submission_id, kind=kind, page_size=page_size)
    fresh = row is None
    if row is None:
        row = RenderedReport(
            submission_id=submission_id, kind=kind, page_size=page_size,
            template_version=pipeline.report_version, status="pending", attempts=0,
            priority=priority, job_key=key,
        )  # fmt: skip
        session.add(row)
    elif row.status == "failed" and row.attempts < 2 * ATTEMPTS:  # one more round, asked for
        row.status, row.not_before, row.claimed_until, row.job_key = "pending", None, None, key
        fresh = True
    if row.status == "pending" and priority > row.priority:
        row.priority = priority
    abandoned = row.claimed_until is not None and aware(row.claimed_until) < utcnow()
    session.flush()
    return row, fresh or abandoned


def requeue_unreadable(row: RenderedReport, secret_key: str, receipt: str | None) -> None:
    """A stored PDF that cannot be opened (sealed with another key: the renderer's secret key
    differs, or was rotated) is rendered again, within the same bound on attempts."""
    row.pdf, row.status = None, "pending" if row.attempts < 2 * ATTEMPTS else "failed"
    row.job_key = None if receipt is None or row.status == "failed" else seal_receipt(
        secret_key, receipt
    )  # fmt: skip
    row.error = "the stored PDF could not be opened"


def _claimable(now: datetime, version: str) -> list[ColumnElement[bool]]:
    return [
        RenderedReport.status == "pending",
        RenderedReport.template_version == version,  # a renderer renders its own version only
        or_(RenderedReport.claimed_until.is_(None), RenderedReport.claimed_until < now),
        or_(RenderedReport.not_before.is_(None), RenderedReport.not_before <= now),
    ]


def _give_up_abandoned(session: Session, now: datetime) -> None:
    """Jobs whose renderer died while rendering them (their lease ran out) as many times as a
    job may be tried: given up, so that they end at the page saying so, not in a loop."""
    session.execute(
        update(RenderedReport)
        .where(RenderedReport.status == "pending", RenderedReport.claimed_until < now,
               RenderedReport.attempts > 0, RenderedReport.attempts % ATTEMPTS == 0)
        .values(status="failed", job_key=None, claimed_until=None,
                error="the renderer stopped while rendering it")
    )  # fmt: skip


def claim(session: Session, version: str, job_id: int | None = None) -> RenderedReport | None:
    """Claim one job of report ``version`` (this one, or the most urgent, oldest first) for
    ``LEASE``, counting the attempt; None if there is none. Safe between processes: a job is
    claimed by one renderer at a time, and one that keeps killing its renderer is given up."""
    now = utcnow()
    _give_up_abandoned(session, now)
    session.commit()
    while True:
        query = select(RenderedReport.id).where(*_claimable(now, version))
        if job_id is not None:
            query = query.where(RenderedReport.id == job_id)
        found = session.scalar(
            query.order_by(RenderedReport.priority.desc(), RenderedReport.id).limit(1)
        )
        if found is None:
            return None
        taken = session.execute(
            update(RenderedReport)
            .where(RenderedReport.id == found, *_claimable(now, version))
            .values(claimed_until=now + LEASE, attempts=RenderedReport.attempts + 1)
        )  # fmt: skip
        session.commit()
        if getattr(taken, "rowcount", 0) == 1:
            return session.get(RenderedReport, found)
        if job_id is not None:
            return None  # another renderer took it first


def finish(session: Session, row: RenderedReport, sealed_pdf: bytes) -> None:
    row.pdf, row.status, row.error = sealed_pdf, "done", None
    row.job_key = row.claimed_until = row.not_before = None
    session.commit()


def fail(session: Session, row: RenderedReport, error: str, *, final: bool = False) -> None:
    """Record a failed attempt: try again after a pause, or give up (after ``ATTEMPTS``
    attempts of a round, or at once when ``final``: trying again as it is cannot help, though
    the next download may queue it again)."""
    row.error = error[:500]
    row.claimed_until = None
    if final or row.attempts % ATTEMPTS == 0:
        row.status, row.job_key = "failed", None
    else:
        row.not_before = utcnow() + RETRY_PAUSE * 2 ** (row.attempts % ATTEMPTS - 1)
    session.commit()
