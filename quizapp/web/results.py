"""The results page at an unguessable URL, and deleting a result."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..pipeline.pipeline import OutdatedInstrument
from ..pipeline.stored import read_analysis
from ..reports.charts import quadrant_chart
from ..scoring.patterns import PATTERN_LABELS
from ..storage import receipts, submissions
from . import pipeline
from .extensions import db
from .ratelimits import LOOKUPS, limited

bp = Blueprint("results", __name__, url_prefix="/r")


@bp.get("/<code>")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def show(code: str) -> str:
    found = submissions.find_with_analysis(db.session, code)
    if found is None:
        abort(404)
    submission, row = found
    try:
        result = read_analysis(pipeline(), db.session, submission, row)
    except OutdatedInstrument:
        abort(
            410,
            "This result was made with an earlier version of the questionnaire, which this "
            "site no longer scores. Your answers are kept until you delete them.",
        )
    instrument, report, interpretation = result.instrument, result.report, result.interpretation
    canonical = receipts.normalise(code) or code
    return render_template(
        "result.html",
        instrument=instrument,
        report=report,
        interpretation=interpretation,
        content=result.content,
        crisis_contacts=pipeline().crisis_contacts,
        chart=quadrant_chart(report, instrument.response_scale),
        pattern_labels=PATTERN_LABELS,
        code=canonical,
        receipt=receipts.display(canonical),
        finished_at=submission.finished_at,
    )


@bp.get("/<code>/delete")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def confirm_delete(code: str) -> str:
    if submissions.find_submission(db.session, code) is None:
        abort(404)
    return render_template("delete.html", code=receipts.normalise(code))


@bp.post("/<code>/delete")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def delete(code: str) -> Response:
    if not submissions.delete_submission(db.session, code):
        abort(404)
    db.session.commit()
    db.wipe_deleted()
    return redirect(url_for("results.deleted"), code=303)


@bp.get("/deleted")
def deleted() -> str:
    return render_template("deleted.html")
