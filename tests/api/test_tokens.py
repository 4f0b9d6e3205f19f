"""A therapist's personal access tokens and the operations they open (issue 16): made on the
account page and shown once, stored as a hash, limited to their scopes, audited at each use,
dead once expired, revoked or their account disabled; another therapist's data is a 404."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from quizapp.storage.tables import ApiToken, AuditEntry, Invite, Therapist, utcnow
from quizapp.web.extensions import db

from ..therapists.journey import Therapist as Person
from ..therapists.journey import add_client, administer, answers_for
from .conftest import bearer, make_token
from .test_public import problem

BOTH = ["results:read", "invitations:write"]


def actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_token_is_shown_once_and_stored_only_as_a_hash(
    app: Flask, therapist: Person, database_url: str
) -> None:
    token = make_token(therapist, ["results:read"], name="records script")
    listing = therapist.web.get("/account/tokens/")
    page = listing.get_data(as_text=True)
    assert "records script" in page and token not in page and token[6:] not in page
    assert listing.headers["Cache-Control"] == "no-store"
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).one()
        assert len(stored.token_hash) == 32 and stored.scopes == "results:read"
    if database_url.startswith("sqlite:///"):
        db_file = Path(database_url.removeprefix("sqlite:///"))
        app.extensions["database"].dispose()
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        assert token.encode() not in raw and token[6:].encode() not in raw


def test_clients_and_results_for_results_read_and_audited(app: Flask, therapist: Person) -> None:
    client_id = add_client(therapist, "C-001")
    for level in (2, 4):
        administer(therapist, client_id, answers_for("quick", level, 2))
    token = make_token(therapist, ["results:read"])
    web = app.test_client()
    listed = web.get("/api/v1/clients", headers=bearer(token))
    assert listed.status_code == 200
    body = listed.get_json()
    assert [c["label"] for c in body["items"]] == ["C-001"] and body["items"][0]["results"] == 2
    results = web.get(f"/api/v1/clients/{client_id}/results?size=1", headers=bearer(token))
    page = results.get_json()
    assert (page["total"], page["pages"], len(page["items"])) == (2, 2, 1)
    newest = page["items"][0]["result"]
    assert {s["scale"]: s["score"] for s in newest["scores"]}["anxiety"] == 4.0
    problem(web.get("/api/v1/clients?size=101", headers=bearer(token)), 400)
    assert actions(app)[-2:] == ["api: list clients", "api: read results"]
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).one().last_used_at is not None


def test_invitations_are_created_and_withdrawn_with_invitations_write(
    app: Flask, therapist: Person
) -> None:
    client_id = add_client(therapist, "C-002")
    token = make_token(therapist, ["invitations:write"])
    web = app.test_client()
    made = web.post(f"/api/v1/clients/{client_id}/invitations",
                    json={"instrument_id": "quick", "days": 7}, headers=bearer(token))  # fmt: skip
    assert made.status_code == 201, made.get_data(as_text=True)
    invitation = made.get_json()
    assert invitation["state"] == "open" and "/invite/" in invitation["link"]
    path = "/invite/" + invitation["link"].rsplit("/invite/", 1)[1]
    assert app.test_client().get(path).status_code == 200  # the link works
    gone = web.delete(f"/api/v1/clients/{client_id}/invitations/{invitation['id']}",
                      headers=bearer(token))  # fmt: skip
    assert gone.status_code == 204
    assert app.test_client().get(path).status_code != 200
    problem(web.delete(f"/api/v1/clients/{client_id}/invitations/{invitation['id']}",
                       headers=bearer(token)), 404)  # fmt: skip
    assert "api: create invitation" in actions(app) and "api: withdraw invitation" in actions(app)
    # this token cannot read results: a 403 problem, audited
    problem(web.get("/api/v1/clients", headers=bearer(token)), 403)
    assert actions(app)[-1] == "api refused: no results:read"


def test_another_therapist_s_client_and_invitation_are_404(
    app: Flask, therapist: Person, other: Person
) -> None:
    client_id = add_client(therapist, "C-003")
    mine = make_token(therapist, BOTH)
    invitation = app.test_client().post(
        f"/api/v1/clients/{client_id}/invitations", json={"instrument_id": "quick"},
        headers=bearer(mine)).get_json()  # fmt: skip
    theirs = bearer(make_token(other, BOTH))
    web = app.test_client()
    problem(web.get(f"/api/v1/clients/{client_id}/results", headers=theirs), 404)
    problem(web.post(f"/api/v1/clients/{client_id}/invitations",
                     json={"instrument_id": "quick"}, headers=theirs), 404)  # fmt: skip
    problem(web.delete(f"/api/v1/clients/{client_id}/invitations/{invitation['id']}",
                       headers=theirs), 404)  # fmt: skip
    assert web.get("/api/v1/clients", headers=theirs).get_json()["items"] == []
    # every API route with a client in it was tried above (a new one must be added here)
    with_client = {r.endpoint for r in app.url_map.iter_rules()
                   if r.endpoint.startswith("api.") and "client_id" in r.arguments}  # fmt: skip
    assert with_client == {"api.client_results", "api.create_invitation",
                           "api.withdraw_invitation"}  # fmt: skip
    with app.app_context():
        assert db.session.get(Invite, invitation["id"]).revoked_at is None  # type: ignore[union-attr]


def _refused(app: Flask, token: str) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/clients", headers=bearer(token))
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return problem(response, 401)


def test_expired_revoked_disabled_and_cookie_only_requests_are_401(
    app: Flask, therapist: Person
) -> None:
    expiring, revoked, kept = (make_token(therapist, ["results:read"], name=n)
                               for n in ("expiring", "revoked", "kept"))  # fmt: skip
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.name == "expiring")
                           .values(expires_at=utcnow() + timedelta(seconds=1),
                                   created_at=utcnow() - timedelta(days=1)))  # fmt: skip
        db.session.execute(update(ApiToken).where(ApiToken.name == "expiring")
                           .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
        db.session.commit()
        revoked_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "revoked"))
    _refused(app, expiring)
    page = therapist.web.get("/account/tokens/")
    fields = {"csrf_token": page.get_data(as_text=True).split('name="csrf_token" value="')[1]
              .split('"')[0]}  # fmt: skip
    assert (
        therapist.web.post(f"/account/tokens/{revoked_id}/revoke", data=fields).status_code == 303
    )
    _refused(app, revoked)
    _refused(app, "sbpat_" + "A" * 43)
    # the signed-in web session's cookie authenticates nothing in the API
    problem(therapist.web.get("/api/v1/clients"), 401)
    assert app.test_client().get("/api/v1/clients", headers=bearer(kept)).status_code == 200
    with app.app_context():
        db.session.execute(update(Therapist).values(disabled_at=utcnow()))
        db.session.commit()
    _refused(app, kept)


def test_a_token_is_in_no_log_line_and_the_masks_cover_headers(
    app: Flask, therapist: Person, caplog: Any
) -> None:
    import logging

    from quizapp import logs

    caplog.set_level(logging.DEBUG)
    token = make_token(therapist, ["results:read"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    web = app.test_client()
    assert web.get("/api/v1/clients", headers=bearer(token)).status_code == 200
    web.get("/api/v1/clients", headers=bearer(token + "x"))
    logged = "\n".join(logs.RedactingFormatter(logs.FORMAT).format(r) for r in caplog.records)
    assert token not in logged and token[6:] not in logged
    for line in (f"Authorization: Bearer {token}", "{'Authorization': 'Bearer short1'}",
                 f"token {token} was used", "Receipt-Code: 7K2Q-AB12"):  # fmt: skip
        masked = logs.redact(line)
        assert token[6:] not in masked and "short1" not in masked and "AB12" not in masked


def test_guessing_tokens_is_limited_like_guessing_receipt_codes(
    database_url: str, tmp_path: Path
) -> None:
    from ..conftest import with_limits
    from .conftest import api_app

    app = api_app(database_url, tmp_path, RATE_LIMITS=with_limits(lookup_miss="2/minute"))
    for _ in range(2):
        _refused(app, "sbpat_" + "B" * 43)
    refused = app.test_client().get("/api/v1/clients", headers=bearer("sbpat_" + "C" * 43))
    problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    app.extensions["database"].dispose()
