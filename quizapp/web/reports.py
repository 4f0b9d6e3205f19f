"""The PDF report beside the result's unguessable URL: served from the stored render."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request
from sqlalchemy import select

from .. import operations, receipts
from ..extensions import db
from ..report_jobs import render_and_store
from ..tables import RenderedReport

bp = Blueprint("reports", __name__, url_prefix="/r")

SIZES = {"a4": "A4", "letter": "Letter"}


@bp.get("/<code>/report.pdf")
def download(code: str) -> Response | tuple[str, int, dict[str, str]]:
    submission = operations.find_submission(db.session, code)
    canonical = receipts.normalise(code)
    if submission is None or canonical is None:
        abort(404)
    size = SIZES.get(request.args.get("size", "a4").lower())
    if size is None:
        abort(400, "The page size must be a4 or letter.")
    row = db.session.scalars(
        select(RenderedReport).filter_by(
            submission_id=submission.id, kind="client", page_size=size,
            template_version=current_app.extensions["report_version"], status="done",
        )
    ).first()  # fmt: skip
    if row is None:  # not rendered yet, or an earlier render failed: try now, once more
        row = render_and_store(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            db.session, submission.id, receipt=canonical, page_size=size, attempts=2, pause=0.2,
        )  # fmt: skip
    if row is None or row.status != "done" or row.pdf is None:
        return render_template("report_unavailable.html"), 503, {"Retry-After": "60"}
    pdf = receipts.unseal(canonical, row.pdf)
    name = f"secure-base-report-{submission.finished_at:%Y-%m-%d}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
