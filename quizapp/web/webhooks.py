"""The therapist's webhook endpoints (``/therapist/webhooks``): register one (its signing
secret is shown once), send a test event, read the delivery log, turn one on again, remove it;
and the events a completed invitation sends. Every endpoint is looked up with the signed-in
therapist's id, so another therapist's is a 404 like a missing one. Deliveries are queued in
the request's transaction and sent by the renderer process or a Celery worker, never here."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..pipeline.stored import stored_analysis
from ..storage.tables import Client, Invite, Submission, WebhookDelivery, WebhookEndpoint
from ..therapists import deliveries, outbound, webhooks
from . import pipeline
from .account_forms import WebhookForm, add_error, text
from .auth import therapist
from .extensions import db
from .ratelimits import spend_for
from .therapist import bp

TEST_FLOOD = "You sent many test events lately. Please wait {wait} before sending another."


def _own(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhooks.own_endpoint(db.session, therapist().id, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _page(form: WebhookForm, status: int = 200, **extra: Any) -> tuple[str, int]:
    found = webhooks.endpoints(db.session, therapist().id)
    logs = {e.id: webhooks.delivery_log(db.session, e.id) for e in found}
    return render_template(
        "therapist/webhooks.html",
        endpoints=found,
        logs=logs,
        form=form,
        most=webhooks.MAX_ENDPOINTS,
        **extra,
    ), status


@bp.get("/webhooks")
def webhooks_page() -> tuple[str, int]:
    return _page(WebhookForm())


@bp.post("/webhooks")
def add_webhook() -> tuple[str, int]:
    form = WebhookForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        endpoint, secret = webhooks.register(
            db.session,
            therapist().id,
            text(form.url).strip(),
            secret_key=current_app.config["SECRET_KEY"],
            allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"],
        )
    except (outbound.Refused, webhooks.TooMany) as exc:
        add_error(form.url, f"Not added: {exc}.")
        return _page(form, 422)
    page = _page(WebhookForm(formdata=None), 201, new=endpoint, secret=secret)[0]
    db.session.commit()  # the secret is shown once: the endpoint exists only if it was shown
    return page, 201


@bp.post("/webhooks/<id:endpoint_id>/test")
def test_webhook(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if endpoint.disabled_at is not None:
        flash("This endpoint is turned off: turn it on again before sending a test event.")
        return redirect(url_for("therapist.webhooks_page"), code=303)
    spend_for("webhook-test", "therapist", str(therapist().id), TEST_FLOOD)
    rows = webhooks.queue_event(
        db.session, [endpoint], webhooks.PING, webhooks.ping_event(endpoint), attempts=1
    )
    queued = [row.id for row in rows]
    db.session.commit()
    wake(queued)
    flash("A test event is on its way; its attempt appears in the log below within seconds.")
    return redirect(url_for("therapist.webhooks_page"), code=303)


@bp.post("/webhooks/<id:endpoint_id>/enable")
def enable_webhook(endpoint_id: int) -> Response:
    webhooks.enable(_own(endpoint_id))
    db.session.commit()
    flash("The endpoint is on again. Events that were given up are not sent again.")
    return redirect(url_for("therapist.webhooks_page"), code=303)


@bp.post("/webhooks/<id:endpoint_id>/delete")
def remove_webhook(endpoint_id: int) -> Response:
    webhooks.remove(db.session, _own(endpoint_id))
    db.session.commit()
    flash("The endpoint was removed, with its log and any events not yet sent.")
    return redirect(url_for("therapist.webhooks_page"), code=303)


def announce_completed(invite: Invite) -> list[WebhookDelivery]:
    """Queue ``invitation.completed`` for the therapist's endpoints that are on, in the
    transaction that completes ``invite`` (after it was flushed). A result that cannot be
    scored any more is announced without scores."""
    endpoints = webhooks.active_endpoints(db.session, invite.therapist_id)
    if not endpoints or invite.submission_id is None:
        return []
    client = db.session.get(Client, invite.client_id)
    submission = db.session.get(Submission, invite.submission_id)
    assert client is not None and submission is not None
    try:
        analysis = stored_analysis(pipeline(), db.session, submission)
    except Exception:  # an outdated instrument, or a defect of ours: the event still goes
        current_app.logger.exception(
            "result %s could not be read for its webhook event", submission.id
        )
        report, title = None, submission.instrument_id
    else:
        report, title = analysis.report, analysis.instrument.title
    instrument = {
        "id": submission.instrument_id,
        "version": submission.instrument_version,
        "title": title,
    }
    body = webhooks.completed_event(invite, client, submission.id, instrument, report)
    return webhooks.queue_event(
        db.session,
        endpoints,
        webhooks.COMPLETED,
        body,
        client_id=client.id,
        attempts=deliveries.ATTEMPTS,
    )


def wake(delivery_ids: list[int]) -> None:
    """Tell a Celery worker about committed deliveries, when a broker is set (the renderer
    process polls the table otherwise). A broker that is down loses nothing: the delivery
    is in the database, and beat's sweep or a renderer sends it."""
    queue = current_app.extensions.get("report_queue")
    if queue is None:
        return
    for delivery_id in delivery_ids:
        try:
            queue.send(deliveries.TASK, delivery_id)
        except Exception:  # the broker is down: the delivery waits in the database
            current_app.logger.exception(
                "could not send webhook delivery %s to the broker", delivery_id
            )
