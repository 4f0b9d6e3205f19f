"""PDF reports for submissions: rendered right after the submission, off the request path,
stored per result, kind, page size and template version, so the download is immediate.

The embedded default renders in a small thread pool inside each app process; the result is
stored in the database, so any process can serve it. A render that fails is retried (with a
pause) and logged; the submission itself is never touched by a failed render.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import receipts
from .analysis import Analysis, analyse
from .tables import RenderedReport, Submission

log = logging.getLogger(__name__)

KINDS = ("client", "therapist")
PAGE_SIZES = ("A4", "Letter")


def report_data_for(
    app: Flask, analysis: Analysis, *, receipt: str | None, kind: str
) -> dict[str, Any]:
    """The plain data of one report (what the templates and the answer-level page show)."""
    from .reports.data import report_data

    return report_data(
        analysis.instrument,
        dict(analysis.answers),
        analysis.report,
        analysis.interpretation,
        app.extensions["interpreter"].content,
        app.extensions["therapist_content"],
        receipt=receipt,
        finished_at=analysis.finished_at,
        base_url=app.config["BASE_URL"],
        crisis_contacts=list(app.config["CRISIS_CONTACTS"]),
        kind=kind,
        outputs=analysis.outputs,
        rules=app.extensions["interpreter"].rules,
    )


def build_pdf(app: Flask, analysis: Analysis, *, receipt: str | None, kind: str,
              page_size: str) -> bytes:  # fmt: skip
    """Render one report for an analysed submission (plain data in, PDF bytes out)."""
    from .reports.render import render_pdf

    data = report_data_for(app, analysis, receipt=receipt, kind=kind)
    pdf: bytes = render_pdf(data, kind, page_size=page_size,
                            templates_dir=Path(app.config["REPORT_TEMPLATES_DIR"]))  # fmt: skip
    return pdf


def report_version(app: Flask) -> str:
    """What a stored PDF depends on: templates, WeasyPrint, content, rules, models, code.

    A change to any of them makes stored PDFs stale, and they are rendered again on request.
    """
    from . import __version__
    from .reports.render import template_version

    interpreter = app.extensions["interpreter"]
    models = sorted((k, m.version if m else "") for k, m in app.extensions["models"].items())
    parts = [template_version(Path(app.config["REPORT_TEMPLATES_DIR"])), __version__,
             interpreter.content.version, interpreter.rules.version, repr(models)]  # fmt: skip
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _row(
    session: Session, submission_id: int, kind: str, page_size: str, version: str
) -> RenderedReport:
    key = {"submission_id": submission_id, "kind": kind, "page_size": page_size,
           "template_version": version}  # fmt: skip
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


def render_and_store(
    app: Flask,
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

    Returns the stored row (status done or failed), or None if the submission is gone.
    """
    submission = session.get(Submission, submission_id)
    if submission is None:
        return None
    row = _row(session, submission_id, kind, page_size, app.extensions["report_version"])
    for attempt in range(attempts):
        if row.status == "done":
            return row
        try:
            analysis = analyse(
                app, submission.instrument_id, submission.instrument_version,
                submission.answers, started_at=submission.started_at,
                finished_at=submission.finished_at,
            )  # fmt: skip
            pdf = build_pdf(app, analysis, receipt=receipts.display(receipt), kind=kind,
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
    """Runs an app's render jobs after submissions: on Celery with Redis when
    ``CELERY_BROKER_URL`` is set, else in a thread pool, or inline if configured."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._pool: ThreadPoolExecutor | None = None
        self._queue = bool(app.config.get("CELERY_BROKER_URL"))
        if self._queue:
            from .report_queue import make_celery

            app.extensions["celery"] = make_celery(app)
        elif not app.config["REPORTS_INLINE"]:
            self._pool = ThreadPoolExecutor(
                max_workers=app.config["REPORT_WORKERS"], thread_name_prefix="report"
            )

    def schedule(self, submission_id: int, receipt: str) -> Future[None] | None:
        """Render the client report of a new submission (A4) without delaying the response:
        on the Celery queue when a broker is configured, else in this process's pool."""
        if self._queue:
            from .report_queue import enqueue

            try:
                enqueue(self.app, submission_id, receipt)
            except Exception:  # broker down: the download renders on request instead
                log.exception("could not queue the report of submission %s", submission_id)
            return None
        if self._pool is None:
            self._job(submission_id, receipt)
            return None
        return self._pool.submit(self._job, submission_id, receipt)

    def _job(self, submission_id: int, receipt: str) -> None:
        from .extensions import db

        with self.app.app_context():
            try:
                render_and_store(self.app, db.session, submission_id, receipt=receipt)
            except Exception:  # a job must never take the process down
                log.exception("report job for submission %s failed", submission_id)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
