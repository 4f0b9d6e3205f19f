"""PDF reports for submissions: rendered right after the submission, off the request path,
stored per result, kind, page size and report version, so the download is immediate.

The embedded default renders in a small thread pool inside each app process; with a broker,
on Celery workers (``queue``). The result is stored in the database, so any process can serve
it. A render that fails is retried (with a pause) and logged; the submission itself is never
touched by a failed render.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..storage import receipts
from ..storage.tables import RenderedReport, Submission
from .pipeline import Pipeline
from .stored import stored_analysis

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Where jobs go when they run elsewhere (``queue.ReportQueue``: Celery with Redis)."""

    def enqueue(self, submission_id: int, receipt: str) -> None: ...


def _row(session: Session, key: dict[str, object]) -> RenderedReport:
    """The report's row, created as pending (and committed) when it is the first attempt."""
    row = session.scalars(select(RenderedReport).filter_by(**key)).first()
    if row is None:
        row = RenderedReport(**key, status="pending", attempts=0)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another worker created it first
            session.rollback()
            row = session.scalars(select(RenderedReport).filter_by(**key)).one()
    return row


def stored_report(
    session: Session, pipeline: Pipeline, submission_id: int, *, kind: str, page_size: str
) -> RenderedReport | None:
    """The finished render of this report at the current report version, if there is one."""
    return session.scalars(
        select(RenderedReport).filter_by(
            submission_id=submission_id, kind=kind, page_size=page_size,
            template_version=pipeline.report_version, status="done",
        )
    ).first()  # fmt: skip


def render_and_store(
    pipeline: Pipeline,
    session: Session,
    submission_id: int,
    *,
    receipt: str,
    kind: str = "client",
    page_size: str = "A4",
    attempts: int = 3,
    pause: float = 0.5,
) -> RenderedReport | None:
    """Render (unless already done) and store one report, sealed with the receipt code.

    A job of its own: it commits the row's state after every attempt, so ``session`` must
    have nothing else pending. Returns the stored row (status done or failed), or None if
    the submission is gone.
    """
    submission = session.get(Submission, submission_id)
    if submission is None:
        return None
    row = _row(session, {"submission_id": submission_id, "kind": kind, "page_size": page_size,
                         "template_version": pipeline.report_version})  # fmt: skip
    for attempt in range(attempts):
        if row.status == "done":
            return row
        try:
            analysis = stored_analysis(pipeline, session, submission)
            pdf = pipeline.render_pdf(analysis, receipt=receipts.display(receipt), kind=kind,
                                      page_size=page_size)  # fmt: skip
            row.pdf = receipts.seal(receipt, pdf)
            row.status, row.error = "done", None
        except Exception as exc:  # any failure: keep the result, log, retry later
            log.exception("rendering the %s report of submission %s failed", kind, submission_id)
            row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        row.attempts += 1
        session.commit()
        if row.status != "done" and attempt + 1 < attempts:
            time.sleep(pause * 2**attempt)
    return row


class ReportRenderer:
    """Renders the client report (A4) of each new submission without delaying the response:
    on the Celery queue when one is given, else in a thread pool of ``workers`` threads, or in
    the caller's thread when ``workers`` is 0. Each job opens its own session."""

    def __init__(
        self,
        pipeline: Pipeline,
        sessions: sessionmaker[Session],
        *,
        workers: int = 1,
        queue: JobQueue | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sessions = sessions
        self.queue = queue
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report")
            if queue is None and workers > 0
            else None
        )

    def schedule(self, submission_id: int, receipt: str) -> Future[RenderedReport | None] | None:
        if self.queue is not None:
            try:
                self.queue.enqueue(submission_id, receipt)
            except Exception:  # broker down: the download renders on request instead
                log.exception("could not queue the report of submission %s", submission_id)
            return None
        if self._pool is None:
            self.render(submission_id, receipt)
            return None
        return self._pool.submit(self.render, submission_id, receipt)

    def render(
        self,
        submission_id: int,
        receipt: str,
        *,
        page_size: str = "A4",
        attempts: int = 3,
        pause: float = 0.5,
    ) -> RenderedReport | None:
        """One client-report job, here and now, in a session of its own. Never raises (a job
        must not take the process down); returns the stored row, or None."""
        try:
            with self.sessions() as session:
                return render_and_store(
                    self.pipeline, session, submission_id, receipt=receipt, page_size=page_size,
                    attempts=attempts, pause=pause,
                )  # fmt: skip
        except Exception:
            log.exception("report job for submission %s failed", submission_id)
            return None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
