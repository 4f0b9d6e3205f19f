"""The therapist's dashboard: clients, invites, each client's administrations with their
change over time, and the audit log. Every client route looks the client up together with the
signed-in therapist's id, so another therapist's client is a 404 like a missing one.

Each view commits once, after its page is rendered, so a change, its audit line and the page
that shows it succeed or fail together; a page that only shows data is built first and its
audit line written last."""

from __future__ import annotations

import smtplib
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2

from ..pipeline.stored import stored_summaries
from ..storage import receipts
from ..storage.tables import Client, Invite
from ..therapists import audit, clients, invites, mail
from ..therapists.change import change_summary, trend_chart
from . import instruments, pipeline, public_url
from .account_forms import (
    ClientForm,
    DeleteForm,
    InviteForm,
    InviteMailForm,
    SearchForm,
    add_error,  # fmt: skip
    text,
)
from .auth import therapist, two_factor_required
from .extensions import db
from .ratelimits import spend_for

bp = Blueprint("therapist", __name__, url_prefix="/therapist")


@bp.before_request
@two_factor_required
def _signed_in() -> None:
    """Every page here needs a signed-in therapist with two-factor on."""


def own_client(client_id: int) -> Client:
    client = clients.get_client(db.session, therapist().id, client_id)
    if client is None:
        abort(404)
    return client


def _page_arg() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.get("/")
def dashboard() -> str:
    form = SearchForm(request.args)
    search = (form.q.data or "")[:80]
    completed = clients.recent_completed(db.session, therapist().id)
    summaries = stored_summaries(pipeline(), db.session, [s for s, _label in completed])
    return render_template(
        "therapist/dashboard.html",
        page=clients.list_clients(db.session, therapist().id, search, _page_arg()),
        form=form,
        search=search,
        pending=invites.open_invites(db.session, therapist().id),
        completed=completed,
        reports={key: report for key, (report, _flags) in summaries.items()},
        flags=_flag_titles(summaries),
    )


def _flag_titles(summaries: dict[int, tuple[Any, list[str]]]) -> dict[int, list[str]]:
    """Each result's validity cautions, by their titles in the therapist's words."""
    words = pipeline().therapist_content.cautions
    return {key: [words[c][0] if c in words else c for c in flags]
            for key, (_report, flags) in summaries.items()}  # fmt: skip


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client() -> Any:
    form = ClientForm()
    if form.validate_on_submit():
        try:
            client = clients.create_client(
                db.session, therapist().id, text(form.label), form.note.data
            )
            target = url_for("therapist.client", client_id=client.id)
            db.session.commit()
        except (clients.LabelTaken, IntegrityError):  # the latter: a request racing this one
            db.session.rollback()
            add_error(form.label, "You already have a client with this label.")
        else:
            return redirect(target, code=303)
    return render_template("therapist/new_client.html", form=form), 422 if form.errors else 200


def _invite_form() -> InviteForm:
    form = InviteForm()
    form.instrument.choices = [
        SelectChoice(i.id, f"{i.title} ({len(i.items)} statements)") for i in instruments().values()
    ]
    if form.instrument.data is None:
        form.instrument.data = current_app.config["DEFAULT_INSTRUMENT"]
    return form


def _client_page(client: Client, invite_form: InviteForm, status: int = 200) -> tuple[str, int]:
    submissions = clients.administrations(db.session, client.id)
    summaries = stored_summaries(pipeline(), db.session, submissions)
    reports = {key: report for key, (report, _flags) in summaries.items()}
    scored, notes = clients.scored_administrations(submissions, reports)
    rs = next(iter(instruments().values())).response_scale
    page = render_template(
        "therapist/client.html",
        client=client,
        submissions=submissions,
        scored=scored,
        notes=notes,
        changes=change_summary(scored) if scored else None,
        chart=trend_chart(scored, rs.min, rs.max),
        invites=invites.client_invites(db.session, client.id),
        invite_state=invites.invite_state,
        invite_form=invite_form,
        delete_form=DeleteForm(),
        flags=_flag_titles(summaries),
        bank=instruments(),
        client_sees=invites.CLIENT_SEES,
    )
    audit.audit(db.session, therapist().id, "view client", client_id=client.id)
    db.session.commit()  # the page is built: what it shows is logged as viewed
    return page, status


@bp.get("/clients/<id:client_id>")
def client(client_id: int) -> tuple[str, int]:
    return _client_page(own_client(client_id), _invite_form())


@bp.post("/clients/<id:client_id>/invites")
def create_invite(client_id: int) -> tuple[str, int]:
    client = own_client(client_id)
    form = _invite_form()
    if not form.validate_on_submit():
        return _client_page(client, form, 422)
    invite, token = invites.create_invite(
        db.session, client, text(form.instrument), text(form.client_sees), int(form.days.data or 14)
    )
    link = public_url("invite.start", token=token)
    page = render_template(
        "therapist/invite_link.html",
        client=client,
        invite=invite,
        link=link,
        instrument=instruments()[invite.instrument_id],
        mail_form=InviteMailForm(link=link),
    )
    db.session.commit()  # the link is shown once: the invitation exists only if it was shown
    return page, 201


@bp.post("/clients/<id:client_id>/invites/<id:invite_id>/revoke")
def revoke_invite(client_id: int, invite_id: int) -> Response:
    client = own_client(client_id)
    if not invites.revoke_invite(db.session, client, invite_id):
        abort(404)
    db.session.commit()
    flash("The invitation was withdrawn; its link no longer works.")
    return redirect(url_for("therapist.client", client_id=client.id), code=303)


@bp.post("/clients/<id:client_id>/delete")
def delete_client(client_id: int) -> Any:
    client = own_client(client_id)
    form = DeleteForm()
    if not form.validate_on_submit() or (form.confirm.data or "").strip() != client.label:
        flash("Nothing was deleted: type the client's label exactly to confirm.")
        return redirect(url_for("therapist.client", client_id=client.id), code=303)
    label = client.label
    clients.delete_client(db.session, therapist().id, client.id)
    db.session.commit()
    db.wipe_deleted()
    flash(f"{label} and all their answers, results and invitations were deleted.")
    return redirect(url_for("therapist.dashboard"), code=303)


@bp.get("/audit")
def audit_log() -> str:
    page = audit.audit_log(db.session, therapist().id, _page_arg())
    labels = audit.client_labels(db.session, therapist().id, page.items)
    return render_template("therapist/audit.html", page=page, labels=labels)


INVITE_MAIL_FLOOD = (
    "You have sent many invitation e-mails lately. Please copy the link into your own e-mail "
    "for now, or wait {wait}."
)


def _invite_message(link: str, invite: Invite, sender: str) -> tuple[str, str]:
    instrument = instruments()[invite.instrument_id]
    subject = f"{sender} invites you to a short questionnaire"
    body = (
        f"Hello,\n\n{sender} invites you to answer a short questionnaire about how you handle "
        f"closeness in relationships: {len(instrument.items)} statements, about "
        f"{instrument.minutes or 2} minutes.\n\nBefore you start, the page shows what will be "
        f"shared with {sender}, and asks for your consent. You can stop half-way and come "
        f"back later with the same link:\n\n{link}\n\n"
        f"The link works until {invite.expires_at:%-d %B %Y}. If you did not expect this "
        f"message, you can ignore it.\n"
    )
    return subject, body


@bp.post("/clients/<id:client_id>/invites/<id:invite_id>/email")
def email_invite(client_id: int, invite_id: int) -> Any:
    """Send an invitation link to the client's address: first shown as it will go out, then
    sent once. The address is used for that and kept nowhere; the link must be this
    invitation's own (no other text can be sent through the service)."""
    client = own_client(client_id)
    invite = db.session.get(Invite, invite_id)
    if invite is None or invite.client_id != client.id:
        abort(404)
    form = InviteMailForm()
    token = (form.link.data or "").rsplit("/invite/", 1)[-1]
    if not form.validate_on_submit() or receipts.token_digest(token) != invite.token_hash:
        flash("The message was not sent: give one e-mail address, and send the link from "
              "the page that showed it.")  # fmt: skip
        return redirect(url_for("therapist.client", client_id=client.id), code=303)
    if invites.invite_state(invite) != "open":
        abort(409, "This invitation is no longer open, so its link was not sent.")
    link = public_url("invite.start", token=token)
    subject, body = _invite_message(link, invite, therapist().display_name)
    if form.send.data != "yes":
        return render_template("therapist/invite_email.html", client=client, invite=invite,
                               form=form, subject=subject, body=body)  # fmt: skip
    spend_for("invite-mail", "therapist", str(therapist().id), INVITE_MAIL_FLOOD)
    try:
        mail.send(current_app.config, text(form.email), subject, body)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("the invitation e-mail could not be sent")
        abort(503, "The e-mail could not be sent just now. Copy the link instead, or try again.")
    audit.audit(db.session, therapist().id, "e-mail invitation", client_id=client.id)
    db.session.commit()
    flash(f"The invitation was sent to the address you gave. {client.label}'s address was not "
          "kept.")  # fmt: skip
    return redirect(url_for("therapist.client", client_id=client.id), code=303)
