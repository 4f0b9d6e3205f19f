"""The results page at an unguessable URL, and deleting a result."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from .. import operations, receipts
from ..analysis import OutdatedInstrument, analyse
from ..charts import quadrant_chart
from ..extensions import db
from ..scoring.patterns import PATTERN_LABELS

bp = Blueprint("results", __name__, url_prefix="/r")


@bp.get("/<code>")
def show(code: str) -> str:
    submission = operations.find_submission(db.session, code)
    if submission is None:
        abort(404)
    try:
        result = analyse(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            submission.instrument_id, submission.instrument_version, submission.answers,
            started_at=submission.started_at, finished_at=submission.finished_at,
        )  # fmt: skip
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
        content=current_app.extensions["interpreter"].content,
        crisis_contacts=current_app.config["CRISIS_CONTACTS"],
        chart=quadrant_chart(report, instrument.response_scale),
        pattern_labels=PATTERN_LABELS,
        code=canonical,
        receipt=receipts.display(canonical),
        finished_at=submission.finished_at,
    )


@bp.get("/<code>/delete")
def confirm_delete(code: str) -> str:
    if operations.find_submission(db.session, code) is None:
        abort(404)
    return render_template("delete.html", code=receipts.normalise(code))


@bp.post("/<code>/delete")
def delete(code: str) -> Response:
    if not operations.delete_submission(db.session, code):
        abort(404)
    return redirect(url_for("results.deleted"), code=303)


@bp.get("/deleted")
def deleted() -> str:
    return render_template("deleted.html")
