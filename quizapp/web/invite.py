"""The client's side of an invite: see who asks and what will be shared, consent, answer (with
save-and-continue-later), or share an earlier anonymous result by its receipt code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..pipeline.stored import copy_analysis
from ..storage import submissions
from ..storage.tables import Client, Invite, Therapist
from ..therapists import invites
from . import get_instrument, pipeline
from .account_forms import ConsentForm, ShareForm
from .extensions import db
from .forms import form_class, issue_token, read_token
from .quiz import EXPIRED, commit_submission, form_again, reject_tampering, to_result
from .ratelimits import LOOKUPS, limited, note_miss
from .webhooks import announce_completed, wake

bp = Blueprint("invite", __name__, url_prefix="/invite")

GONE = {
    "revoked": "Your therapist has withdrawn this invitation. If you think that is a mistake, "
    "please ask them for a new link.",
    "expired": "This invitation has expired. Please ask your therapist for a new link.",
}


def consent_text() -> dict[str, Any]:
    text: dict[str, Any] = current_app.extensions["consent"]
    return text


def _open_invite(token: str) -> tuple[Invite, Therapist]:
    invite = invites.find_invite(db.session, token)
    if invite is None:
        abort(404)
    state = invites.invite_state(invite)
    if state in GONE:
        if invite.draft is not None:  # unfinished answers do not outlive the invitation
            invite.draft = None
            db.session.commit()
        abort(410, GONE[state])
    client = db.session.get(Client, invite.client_id)
    assert client is not None
    therapist = db.session.get(Therapist, client.therapist_id)
    assert therapist is not None
    return invite, therapist


@bp.route("/<token>", methods=["GET", "POST"])
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def start(token: str) -> Any:
    invite, therapist = _open_invite(token)
    if invite.completed_at is not None:
        return render_template("invite/done.html", invite=invite, therapist=therapist)
    instrument = get_instrument(invite.instrument_id)
    form = ConsentForm()
    if form.validate_on_submit():
        invites.give_consent(invite, consent_text()["version"])
        db.session.commit()
        return redirect(url_for("invite.answer", token=token), code=303)
    return render_template(
        "invite/start.html",
        invite=invite,
        therapist=therapist,
        instrument=instrument,
        consent=consent_text(),
        form=form,
        share=ShareForm(),
        token=token,
    ), 422 if form.errors else 200


def expired(token: str) -> tuple[str, int]:
    """The invitation's questionnaire again after an expired CSRF token, answers kept (400)."""
    invite, _therapist = _open_invite(token)
    if invite.completed_at is not None or invite.consented_at is None:
        abort(400, "This form has expired. Please open your invitation link again.")
    form = form_again(get_instrument(invite.instrument_id))
    flash(EXPIRED.replace("\u201cSee my result\u201d", "the button"))
    return _quiz(token, invite, form, 400)


def _quiz(token: str, invite: Invite, form: Any, status: int = 200) -> tuple[str, int]:
    instrument = get_instrument(invite.instrument_id)
    return render_template(
        "invite/quiz.html",
        instrument=instrument,
        form=form,
        invite=invite,
        action=url_for("invite.answer", token=token),
    ), status


@bp.route("/<token>/answers", methods=["GET", "POST"])
@limited("submit")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def answer(token: str) -> Any:
    invite, therapist = _open_invite(token)
    if invite.completed_at is not None:
        if request.method == "POST":
            abort(409, "These answers were already sent. Your therapist has them.")
        return redirect(url_for("invite.start", token=token))
    if invite.consented_at is None:
        flash("Please read what will be shared and agree first.")
        return redirect(url_for("invite.start", token=token))
    instrument = get_instrument(invite.instrument_id)
    form = form_class(instrument)()
    if request.method == "GET":
        form.started.data = issue_token(instrument)
        for item_id, value in (invite.draft or {}).items():
            if item_id in instrument.item_ids:
                form[item_id].data = value
        return _quiz(token, invite, form)
    reject_tampering(instrument, extra=("save",))
    started = read_token(request.form.get("started", ""))
    if started is None or started.instrument != instrument.id:
        abort(400, "This form was damaged on the way. Please open your invitation link again.")
    if started.version != instrument.version:
        abort(
            409,
            "The questionnaire was updated while you were answering it. Please open "
            "your invitation link again.",
        )
    began = datetime.fromtimestamp(started.started, UTC)
    if "save" in request.form:
        given = {k: int(v) for k, v in request.form.items() if k in instrument.item_ids}
        invites.save_draft(invite, given, began)
        page = render_template(
            "invite/saved.html",
            invite=invite,
            token=token,
            answered=len(given),
            total=len(instrument.items),
        )
        db.session.commit()
        return page
    if not form.validate():
        return _quiz(token, invite, form, 422)
    answers = {item_id: form[item_id].data for item_id in instrument.item_ids}
    announced: list[int] = []

    def store(finished_at: datetime, receipt: str, linked: Any, follow_up: Any) -> Any:
        """Complete the invitation, and queue its webhook events in the same transaction."""
        done = invites.complete_invite(
            db.session, invite, instrument, answers, started_at=began, nonce=started.nonce,
            finished_at=finished_at, receipt=receipt, linked=linked, follow_up=follow_up,
        )  # fmt: skip
        announced[:] = [row.id for row in announce_completed(invite)]
        return done

    stored = commit_submission(
        instrument, answers, invites.began_at(invite, began), store, started.nonce,
        already="These answers were already sent. Your therapist has them.",
        report=invite.client_sees == "results",
    )  # fmt: skip
    if stored is None:
        flash(
            "We could not save your answers just now. They are still filled in below: "
            "please press the button again in a moment."
        )
        page, status = _quiz(token, invite, form, 503)
        return page, status, {"Retry-After": "5"}
    wake(announced)
    if invite.client_sees == "results":
        return to_result(stored)
    return render_template("invite/done.html", invite=invite, therapist=therapist)


@bp.post("/<token>/share")
@limited("submit")
@limited("lookup", misses="lookup-miss")
def share(token: str) -> Any:
    invite, therapist = _open_invite(token)
    if invite.completed_at is not None:
        return redirect(url_for("invite.start", token=token))
    form = ShareForm()
    consent = ConsentForm()
    if not consent.agree.data:
        flash("Please tick the box to agree to share, then give your receipt code.")
        return redirect(url_for("invite.start", token=token), code=303)
    original = submissions.find_submission(db.session, form.receipt.data or "")
    if not form.validate_on_submit() or original is None or original.client_id is not None:
        note_miss()  # a wrong receipt code counts as a guess, as on /r/<code>
        flash("We found no result of yours with that receipt code. Check it and try again.")
        return redirect(url_for("invite.start", token=token), code=303)
    invites.give_consent(invite, consent_text()["version"])
    copy = invites.share_result(db.session, invite, original)
    copy_analysis(pipeline(), db.session, original, copy)
    announced = [row.id for row in announce_completed(invite)]
    page = render_template("invite/done.html", invite=invite, therapist=therapist, shared=True)
    db.session.commit()
    wake(announced)
    return page
