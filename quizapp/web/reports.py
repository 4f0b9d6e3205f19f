"""The PDF report beside the result's unguessable URL: served from the stored render."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request

from ..pipeline.jobs import ReportRenderer, stored_report
from ..reports.options import page_size
from ..storage import receipts, submissions
from . import pipeline
from .extensions import db

bp = Blueprint("reports", __name__, url_prefix="/r")


@bp.get("/<code>/report.pdf")
def download(code: str) -> Response | tuple[str, int, dict[str, str]]:
    submission = submissions.find_submission(db.session, code)
    canonical = receipts.normalise(code)
    if submission is None or canonical is None:
        abort(404)
    size = page_size(request.args.get("size", "a4"))
    if size is None:
        abort(400, "The page size must be a4 or letter.")
    row = stored_report(db.session, pipeline(), submission.id, kind="client", page_size=size)
    if row is None:  # not rendered yet, or an earlier render failed: try now, once more
        renderer: ReportRenderer = current_app.extensions["report_renderer"]
        row = renderer.render(submission.id, canonical, page_size=size, attempts=2, pause=0.2)
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
