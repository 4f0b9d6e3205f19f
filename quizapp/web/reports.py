"""PDF reports beside the result's unguessable URL, served from the stored render.

The web app never renders: a download finds the stored PDF, or adds (or brings forward) the
render job and shows a page that checks again every few seconds and downloads the PDF when
the renderer has stored it. Shared with the therapist's report download.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import Headers

from ..pipeline.jobs import (
    ATTEMPTS,
    WAITING,
    open_pdf,
    report_row,
    request_report,
    requeue_unreadable,
)
from ..reports.options import page_size
from ..storage import receipts, submissions
from ..storage.tables import RenderedReport
from . import pipeline
from .extensions import db
from .ratelimits import LOOKUPS, limited

bp = Blueprint("reports", __name__, url_prefix="/r")
REFRESH_SECONDS = 2


def wake(job_id: int) -> None:
    """Tell a Celery worker about a committed job, when a broker is configured (the
    embedded renderer polls the queue instead). A broker that is down loses nothing: the job
    is in the database, and the next download that waits for it sends it again."""
    queue = current_app.extensions.get("report_queue")
    if queue is None:
        return
    try:
        queue.enqueue(job_id)
    except Exception:  # the broker is down: the job waits in the database
        current_app.logger.exception("could not send render job %s to the broker", job_id)


def _ahead(row: RenderedReport) -> int:
    """How many pending jobs a renderer takes before this one."""
    return db.session.scalar(
        select(func.count()).select_from(RenderedReport).where(
            RenderedReport.status == "pending",
            (RenderedReport.priority > row.priority)
            | ((RenderedReport.priority == row.priority) & (RenderedReport.id < row.id)),
        )
    ) or 0  # fmt: skip


def _wait_page(row: RenderedReport | None, back: str) -> tuple[str, int, Headers]:
    ahead = 0 if row is None else _ahead(row)
    page = render_template("report_waiting.html", refresh=REFRESH_SECONDS, ahead=ahead, back=back)
    return page, 202, Headers({"Retry-After": str(REFRESH_SECONDS), "Cache-Control": "no-store"})


def _queue(submission_id: int, kind: str, size: str, receipt: str | None) -> RenderedReport:
    """Add or bring forward the report's job and commit; a renderer is woken when it has
    something new to do. Two first requests at the same moment: the second finds the first's."""
    secret = current_app.config["SECRET_KEY"]
    for attempt in range(2):
        try:
            row, wanted = request_report(db.session, pipeline(), submission_id, kind=kind,
                                         page_size=size, secret_key=secret, receipt=receipt,
                                         priority=WAITING)  # fmt: skip
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
    if wanted:
        wake(row.id)
    return row


def pdf_or_wait(
    submission_id: int, *, kind: str, size: str, receipt: str | None, filename: str, back: str
) -> Response | tuple[str, int, Headers]:
    """The stored PDF as a download, or a page that waits for it (queueing the job if needed).

    ``receipt``: the canonical receipt code of a client report (None: a therapist report). A
    HEAD request reads what there is and queues nothing.
    """
    secret = current_app.config["SECRET_KEY"]
    row = report_row(db.session, pipeline(), submission_id, kind=kind, page_size=size)
    if row is not None and row.status == "done" and row.pdf is not None:
        try:
            pdf = open_pdf(secret, receipt, row.pdf)
        except (ValueError, InvalidTag):  # sealed with another key: render it again
            current_app.logger.error("the stored %s report of submission %s cannot be opened",
                                     kind, submission_id)  # fmt: skip
            requeue_unreadable(row, secret, receipt)
            db.session.commit()
        else:
            headers = {"Cache-Control": "no-store",
                       "Content-Disposition": f'attachment; filename="{filename}"'}  # fmt: skip
            return Response(pdf, mimetype="application/pdf", headers=headers)
    if row is not None and row.status == "failed" and row.attempts >= 2 * ATTEMPTS:
        unavailable = render_template("report_unavailable.html", back=back)
        return unavailable, 503, Headers({"Retry-After": "3600"})
    if request.method == "HEAD":
        return _wait_page(row, back)
    return _wait_page(_queue(submission_id, kind, size, receipt), back)


@bp.get("/<code>/report.pdf")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def download(code: str) -> Response | tuple[str, int, Headers]:
    submission = submissions.find_submission(db.session, code)
    canonical = receipts.normalise(code)
    if submission is None or canonical is None:
        abort(404)
    size = page_size(request.args.get("size", "a4"))
    if size is None:
        abort(400, "The page size must be a4 or letter.")
    return pdf_or_wait(
        submission.id, kind="client", size=size, receipt=canonical,
        filename=f"secure-base-report-{submission.finished_at:%Y-%m-%d}.pdf",
        back=url_for("results.show", code=canonical),
    )  # fmt: skip
