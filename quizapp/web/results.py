"""The results page at an unguessable URL, and deleting a result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..pipeline.jobs import request_report
from ..pipeline.pipeline import OutdatedInstrument
from ..pipeline.stored import analyse_submission, read_analysis, store_analysis
from ..reports.charts import quadrant_chart
from ..scoring.patterns import PATTERN_LABELS
from ..storage import receipts, submissions
from ..storage.tables import Submission
from . import pipeline
from .extensions import db
from .ratelimits import LOOKUPS, limited
from .reports import wake

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
        more=_pending(submission.follow_up),
    )


def _pending(follow_up: dict[str, Any] | None) -> int:
    """How many follow-up statements wait for an answer (0: none asked, or done)."""
    if follow_up is None or follow_up.get("answers") is not None:
        return 0
    return len(follow_up["asked"])


REASONS = {
    "anxiety": "Your anxiety score is close to the middle, so it is not yet clear on which "
    "side of it you are.",
    "avoidance": "Your avoidance score is close to the middle, so it is not yet clear on "
    "which side of it you are.",
    "both": "Both your scores are close to the middle, so it is not yet clear which pattern "
    "is closest to you.",
    "check": "Some of your answers point in different directions, which happens when a "
    "statement is read quickly or means something different to you.",
}


@bp.route("/<code>/more", methods=["GET", "POST"])
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def more(code: str) -> Response | str | tuple[str, int]:
    """A few more statements for an uncertain result: answered, they sharpen the closest
    pattern (the analysis is computed again from every answer); skipped, the result stays."""
    submission = submissions.find_submission(db.session, code)
    if submission is None:
        abort(404)
    canonical = receipts.normalise(code) or code
    follow_up = submission.follow_up
    if follow_up is None or follow_up.get("answers") is not None:
        return redirect(url_for("results.show", code=canonical), code=303)
    known = pipeline().follow_up_items(submission.instrument_id)
    asked = [known[i] for i in follow_up["asked"] if i in known]
    if len(asked) != len(follow_up["asked"]):  # the site no longer has these statements
        return redirect(url_for("results.show", code=canonical), code=303)
    model = pipeline().follow_ups[submission.instrument_id]
    scale = pipeline().bank[model.bank].response_scale
    given: dict[str, str] = {}
    missing: set[str] = set()
    if request.method == "POST":
        form = request.form
        unknown = set(form) - {"csrf_token", "skip", *(s.id for s in asked)}
        if unknown or any(len(v) > 1 for v in form.listvalues()):
            abort(400, "The form contained fields these statements do not have.")
        given = {s.id: form[s.id] for s in asked if s.id in form}
        if any(v not in scale.value_texts for v in given.values()):
            abort(400, "An answer sent is not one of the choices.")
        if "skip" in form:
            return _finish(submission, canonical, [s.id for s in asked], {})
        missing = {s.id for s in asked} - set(given)
        if not missing:
            answers = {k: int(v) for k, v in given.items()}
            return _finish(submission, canonical, [s.id for s in asked], answers)
    why = next((name for name, route in model.routes.items()
                if list(route) == follow_up["asked"]), "both")  # fmt: skip
    page = render_template(
        "more.html", code=canonical, statements=asked, reason=REASONS[why],
        choices=list(zip(scale.values, scale.labels, strict=True)), given=given,
        missing=missing,
    )  # fmt: skip
    return (page, 422) if missing else page


def _finish(
    submission: Submission, code: str, asked: list[str], answers: dict[str, int]
) -> Response:
    finish_follow_up(submission, code, asked, answers)
    return redirect(url_for("results.show", code=code), code=303)


def finish_follow_up(
    submission: Submission, code: str, asked: list[str], answers: dict[str, int]
) -> None:
    """Keep the follow-up answers ({} when skipped), analyse again from every answer
    (replacing the stored analysis and any PDF of it), queue the report, and commit (the web
    page and the API's follow-up both end here)."""
    submission.follow_up = {"asked": asked, "answers": answers}
    if answers:
        analysis = analyse_submission(pipeline(), submission)
        store_analysis(pipeline(), db.session, submission, analysis)
    job = None
    if current_app.config["REPORT_PRERENDER"]:
        job, _fresh = request_report(
            db.session, pipeline(), submission.id, kind="client", page_size="A4",
            secret_key=current_app.config["SECRET_KEY"], receipt=code,
        )  # fmt: skip
    db.session.commit()
    if job is not None:
        wake(job.id)


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
