"""A therapist's operations, for their own scripts: clients, a client's results, invitations.

Authenticated by a personal access token alone (``Authorization: Bearer sbpat_...``), never by
the session cookie, and only for the scopes the token was given (a 403 otherwise). Every use
of a token writes an audit line; a wrong token counts as a failed lookup against the caller's
network, like a wrong receipt code. Another therapist's client or invitation is a 404, as on
the web pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, g, jsonify, request
from werkzeug.exceptions import NotFound

from ...pipeline.pipeline import OutdatedInstrument
from ...pipeline.portable import portable_data
from ...pipeline.stored import stored_analysis
from ...storage.tables import Client, Invite, Submission, aware
from ...therapists import audit, clients, invites, tokens
from .. import pipeline, public_url
from ..extensions import db
from ..ratelimits import limited, note_miss
from . import bp, json_body, query_int
from .problems import ApiError

F = TypeVar("F", bound=Callable[..., Any])
EVERY_METHOD = ("GET", "HEAD", "POST", "DELETE")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="secure-base"'}


def scoped(scope: str) -> Callable[[F], F]:
    """A view for a valid token holding ``scope`` (the view writes the audit line of its use;
    a refused use is audited here)."""

    def decorate(view: F) -> F:
        @limited("lookup", misses="lookup-miss", methods=EVERY_METHOD)
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            kind, _, text = request.headers.get("Authorization", "").partition(" ")
            bearer = tokens.authenticate(db.session, text.strip()) if kind == "Bearer" else None
            if bearer is None:
                note_miss()
                db.session.rollback()
                raise ApiError(401, headers=CHALLENGE)
            g.bearer = bearer
            if scope not in bearer.scopes:
                _audit(f"api refused: no {scope}"[:40])
                db.session.commit()
                raise ApiError(403, f"This token does not have the scope {scope}.")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def _bearer() -> tokens.Bearer:
    found: tokens.Bearer = g.bearer
    return found


def _audit(action: str, client_id: int | None = None) -> None:
    """One audit line for this use of the token (saved by the view's commit)."""
    bearer = _bearer()
    audit.audit(db.session, bearer.therapist_id, action, client_id=client_id,
                detail=f"API, personal access token #{bearer.token_id}")  # fmt: skip


def _own_client(client_id: int) -> Client:
    client = clients.get_client(db.session, _bearer().therapist_id, client_id)
    if client is None:
        raise NotFound
    return client


def _paging() -> tuple[int, int]:
    return query_int("page", 1, 1, 100000), query_int("size", clients.PER_PAGE, 1, 100)


def _time(moment: Any) -> str | None:
    return None if moment is None else aware(moment).isoformat()


@bp.get("/clients")
@scoped("results:read")
def list_clients() -> Response:
    page, size = _paging()
    found = clients.list_clients(db.session, _bearer().therapist_id, "", page, size)
    items = [{"id": c.id, "label": c.label, "results": c.administrations,
              "last_result_at": _time(c.last_result), "open_invitations": c.open_invites,
              "last_activity_at": _time(c.last_activity)} for c in found.items]  # fmt: skip
    body = {"items": items, "page": found.page, "size": size, "pages": found.pages,
            "total": found.total}  # fmt: skip
    _audit("api: list clients")
    db.session.commit()
    return jsonify(body)


def _client_result(submission: Submission) -> dict[str, Any]:
    try:
        analysis = stored_analysis(pipeline(), db.session, submission)
        result: dict[str, Any] | None = portable_data(pipeline(), submission, analysis)
    except OutdatedInstrument:
        result = None
    return {"id": submission.id, "instrument_id": submission.instrument_id,
            "instrument_version": submission.instrument_version,
            "finished_at": _time(submission.finished_at), "result": result}  # fmt: skip


@bp.get("/clients/<id:client_id>/results")
@scoped("results:read")
def client_results(client_id: int) -> Response:
    client = _own_client(client_id)
    page, size = _paging()
    found = clients.client_results(db.session, client.id, page, size)
    body = {"items": [_client_result(s) for s in found.items], "page": found.page,
            "size": size, "pages": found.pages, "total": found.total}  # fmt: skip
    _audit("api: read results", client.id)
    db.session.commit()
    return jsonify(body)


def _invitation(invite: Invite, link: str | None) -> dict[str, Any]:
    return {"id": invite.id, "client_id": invite.client_id, "instrument_id": invite.instrument_id,
            "client_sees": invite.client_sees, "state": invites.invite_state(invite),
            "created_at": _time(invite.created_at), "expires_at": _time(invite.expires_at),
            "link": link}  # fmt: skip


@bp.post("/clients/<id:client_id>/invitations")
@scoped("invitations:write")
def create_invitation(client_id: int) -> tuple[Response, int]:
    client = _own_client(client_id)
    body = json_body("InvitationRequest")
    invite, token = invites.create_invite(
        db.session, client, body["instrument_id"], body.get("client_sees", "results"),
        int(body.get("days", 14)),
    )  # fmt: skip
    _audit("api: create invitation", client.id)
    answer = _invitation(invite, public_url("invite.start", token=token))
    db.session.commit()  # the link is in the answer: the invitation exists only if it is sent
    return jsonify(answer), 201


@bp.delete("/clients/<id:client_id>/invitations/<id:invitation_id>")
@scoped("invitations:write")
def withdraw_invitation(client_id: int, invitation_id: int) -> tuple[str, int]:
    client = _own_client(client_id)
    if not invites.revoke_invite(db.session, client, invitation_id):
        raise NotFound
    _audit("api: withdraw invitation", client.id)
    db.session.commit()
    return "", 204
