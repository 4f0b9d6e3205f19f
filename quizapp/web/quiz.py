"""The quiz page: show the form, check the post, store the submission in one step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..pipeline.jobs import new_report_row
from ..pipeline.pipeline import Analysis
from ..pipeline.stored import analysis_row
from ..scoring.instrument import Instrument
from ..storage import analyses, receipts, submissions
from ..storage.database import Linked
from ..storage.tables import utcnow
from . import get_instrument, pipeline
from .extensions import db
from .forms import form_class, issue_token, read_token
from .ratelimits import limited
from .reports import wake

bp = Blueprint("quiz", __name__, url_prefix="/quiz")
FollowUp = dict[str, Any] | None  # what a submission is to ask next (store_submission)


@bp.get("/")
def default() -> Response:
    return redirect(url_for("quiz.take", instrument_id=current_app.config["DEFAULT_INSTRUMENT"]))


def _render(instrument: Instrument, form: object, status: int = 200) -> tuple[str, int]:
    action = url_for("quiz.take", instrument_id=instrument.id)
    return render_template("quiz.html", instrument=instrument, form=form, action=action), status


def reject_tampering(instrument: Instrument, extra: tuple[str, ...] = ()) -> None:
    """Abort with 4xx for a post no honest browser sends (our form has only these fields)."""
    form = request.form  # bound once: each ``request`` lookup goes through a context proxy
    allowed = {*instrument.item_ids, "csrf_token", "started", *extra}
    unknown = sorted(set(form) - allowed)
    if unknown:
        abort(400, f"The form contained fields this questionnaire does not have: "
                   f"{', '.join(unknown[:5])}.")  # fmt: skip
    if any(len(values) > 1 for values in form.listvalues()):
        abort(400, "The form sent more than one answer for a statement.")
    valid = instrument.response_scale.value_texts
    for item_id in instrument.item_ids:
        value = form.get(item_id)
        if value is not None and value not in valid:
            abort(400, f"The answer sent for statement {item_id} is not one of the choices.")


def _analyse(
    instrument: Instrument, answers: Mapping[str, int], started_at: datetime, finished_at: datetime
) -> Analysis | None:
    """The analysis of answers about to be stored (analyse once); None if computing it fails:
    a defect of ours must not cost a person their answers, so they are stored all the same and
    analysed when they are read."""
    try:
        return pipeline().analyse(
            instrument.id, instrument.version, answers,
            started_at=min(started_at, finished_at), finished_at=finished_at,
        )  # fmt: skip
    except Exception:
        current_app.logger.exception("analysing a submission to %s failed", instrument.id)
        return None


def commit_submission(
    instrument: Instrument,
    answers: Mapping[str, int],
    started_at: datetime,
    store: Callable[[datetime, str, list[Linked], FollowUp], submissions.Stored],
    nonce: str,
    *,
    already: str,
    report: bool = True,
) -> submissions.Stored | None:
    """Analyse the answers, then run ``store`` (it inserts the submission, finished at the time
    and with the receipt code it is given, with the rows it is given: the analysis and, with
    ``report``, the job that renders the client report; and the follow-up to ask when the
    result is uncertain: answered, it replaces the analysis and the report), and commit the
    request's transaction;
    None when the database could not take it (the caller shows the answers again, with 503). A
    form already stored is a 409 with the message ``already``, also when its twin was
    committed a moment earlier.

    Everything is computed before the transaction writes anything: on SQLite the first insert
    takes the database's write lock, which is then held only for the inserts; on PostgreSQL
    the submission, its analysis and its job go in one statement."""
    finished_at, receipt = utcnow(), receipts.new_code()
    analysis = _analyse(instrument, answers, started_at, finished_at)
    try:
        linked = [] if analysis is None else [analysis_row(pipeline(), db.session, analysis)]
        more = analysis.follow_up if analysis is not None and report else ()
        job = report and current_app.config["REPORT_PRERENDER"]
        if job:
            linked.append(new_report_row(pipeline(), secret_key=current_app.config["SECRET_KEY"],
                                         receipt=receipt))  # fmt: skip
        follow_up = {"asked": list(more), "answers": None} if more else None
        stored = store(finished_at, receipt, linked, follow_up)
        db.session.commit()
    except SQLAlchemyError:  # a form sent twice meets the unique nonce; or the database failed
        db.session.rollback()
        analyses.forget_kept_content()
        try:
            replayed = submissions.nonce_used(db.session, nonce)
        except SQLAlchemyError:
            replayed = False
        if replayed:
            abort(409, already)
        current_app.logger.exception("could not store a submission")
        return None
    if job:
        wake(stored.linked[-1])
    return stored


EXPIRED = (
    "This page was open so long that its form expired, so nothing was sent yet. Your answers "
    "are still filled in below: press \u201cSee my result\u201d again to send them."
)


def form_again(instrument: Instrument) -> FlaskForm:
    """The posted answers in a fresh form (a new CSRF token; the start token kept when it is
    still this instrument's, else a new one), for a post refused before any view ran."""
    reject_tampering(instrument, extra=("save",))
    form = form_class(instrument)()
    token = read_token(request.form.get("started", ""))
    if token is None or token.instrument != instrument.id or token.version != instrument.version:
        form.started.data = issue_token(instrument)
    return form


def expired(instrument_id: str) -> tuple[str, int]:
    """The quiz again after an expired CSRF token, every answer kept (400)."""
    instrument = get_instrument(instrument_id)
    form = form_again(instrument)
    flash(EXPIRED)
    return _render(instrument, form, 400)


def given_answers(instrument: Instrument) -> dict[str, int] | None:
    """Every statement's answer, or None if one is missing (``reject_tampering`` has checked
    that each answer sent is one of the choices). The WTForms form is built only to show the
    page again, so a complete post costs no form machinery."""
    values = [request.form.get(item_id) for item_id in instrument.item_ids]
    if any(value is None for value in values):
        return None
    return {item_id: int(str(value)) for item_id, value in zip(instrument.item_ids, values,
                                                                  strict=True)}  # fmt: skip


@bp.route("/<instrument_id>", methods=["GET", "POST"])
@limited("submit")
def take(instrument_id: str) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    instrument = get_instrument(instrument_id)
    if request.method == "GET":
        form = form_class(instrument)()
        form.started.data = issue_token(instrument)
        return _render(instrument, form)
    reject_tampering(instrument)
    token = read_token(request.form.get("started", ""))
    if token is None or token.instrument != instrument.id:
        abort(400, "This form was damaged on the way. Please start the questionnaire again.")
    if token.version != instrument.version:
        abort(409, "The questionnaire was updated while you were answering it. "
                   "Please take the new version; nothing of your answers was stored.")  # fmt: skip
    answers = given_answers(instrument)
    if answers is None:  # the page again, every answer kept, a message at each missing one
        form = form_class(instrument)()
        form.validate()
        return _render(instrument, form, 422)
    started_at = datetime.fromtimestamp(token.started, UTC)
    stored = commit_submission(
        instrument, answers, started_at,
        lambda finished_at, receipt, linked, follow_up: submissions.store_submission(
            db.session, instrument, answers, started_at=started_at, finished_at=finished_at,
            nonce=token.nonce, receipt=receipt, linked=linked, follow_up=follow_up,
        ),
        token.nonce,
        already="These answers were already submitted. Your result was saved the first "
                "time; open it with the receipt code shown then.",
    )  # fmt: skip
    if stored is None:
        flash("We could not save your answers just now. They are still filled in below: "
              "please press \u201cSee my result\u201d again in a moment.")  # fmt: skip
        page, status = _render(instrument, form_class(instrument)(), 503)
        return page, status, {"Retry-After": "5"}
    return to_result(stored)


def to_result(stored: submissions.Stored) -> Response:
    """To the follow-up statements when the result is uncertain, else to the result."""
    more = stored.submission.follow_up is not None
    return redirect(url_for("results.more" if more else "results.show", code=stored.receipt),
                    code=303)  # fmt: skip
