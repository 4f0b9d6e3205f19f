"""Access control of the therapist area: another therapist's client data is a 404 on every
route that touches it, and a visitor who is not signed in is sent to sign in.

The routes are enumerated from ``app.url_map`` (every rule with a client, result or invite id,
plus the all-client exports), so a route added later without a check here fails the tests.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import select

from quizapp.storage.tables import AuditEntry, Client, Invite, RenderedReport, Submission
from quizapp.web.extensions import db

from ..conftest import hidden_fields
from .journey import Therapist, add_client, administer, answers_for, invite

ID_ARGS = {"client_id", "submission_id", "invite_id"}
ALL_CLIENT_EXPORTS = {"therapist.all_csv", "therapist.all_fhir"}
# What an honest form would send to each POST route (so only the ownership check can stop it).
FORM_DATA: dict[str, dict[str, str]] = {
    "therapist.create_invite": {"instrument": "quick", "client_sees": "results", "days": "14"},
    "therapist.revoke_invite": {},
    "therapist.email_invite": {"email": "client@example.org", "link": "", "send": "yes"},
    "therapist.delete_client": {"confirm": "A-secret-001"},
}

# The columns compared before and after the attempts (first column: the id).
WATCHED: dict[str, tuple[Any, ...]] = {
    "clients": (Client.id, Client.therapist_id, Client.label, Client.note),
    "invites": (
        *(Invite.id, Invite.client_id, Invite.revoked_at, Invite.completed_at),
        *(Invite.consented_at, Invite.draft, Invite.submission_id),
    ),
    "submissions": (Submission.id, Submission.client_id, Submission.answers),
    "reports": (RenderedReport.id, RenderedReport.submission_id),
    "audit": (
        *(AuditEntry.id, AuditEntry.therapist_id, AuditEntry.action),
        *(AuditEntry.client_id, AuditEntry.submission_id),
    ),
}

Route = tuple[str, str]  # (endpoint, method)


@dataclass(frozen=True)
class Practice:
    """One therapist's data: a client with a finished administration and an open invite."""

    client_id: int
    submission_id: int
    invite_id: int
    label: str


def methods(rule: Any) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def client_data_routes(app: Flask) -> set[Route]:
    """Every (endpoint, method) of the web pages that reads or changes client data, from the
    URL map (the JSON API's take a bearer token, not the session: tests/api/test_tokens.py
    checks the same 404s there)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            continue
        if rule.arguments & ID_ARGS or rule.endpoint in ALL_CLIENT_EXPORTS:
            found |= {(rule.endpoint, method) for method in methods(rule)}
    return found


def rule_of(app: Flask, endpoint: str) -> Any:
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return rule


def path_for(app: Flask, endpoint: str, ids: dict[str, int]) -> str:
    rule = rule_of(app, endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{arg: ids[arg] for arg in rule.arguments})


def open_invite_id(app: Flask, client_id: int) -> int:
    with app.app_context():
        return db.session.scalars(
            select(Invite.id).where(Invite.client_id == client_id, Invite.completed_at.is_(None))
        ).one()


def practice(app: Flask, t: Therapist, label: str, anxiety: int) -> Practice:
    client_id = add_client(t, label, "private note")
    _, submission_id = administer(t, client_id, answers_for("quick", anxiety, 2))
    invite(t, client_id)
    return Practice(client_id, submission_id, open_invite_id(app, client_id), label)


def snapshot(app: Flask) -> dict[str, list[Any]]:
    """Every row that matters here, so a test can show nothing changed."""
    with app.app_context():
        return {
            name: list(db.session.execute(select(*columns).order_by(columns[0])).all())
            for name, columns in WATCHED.items()
        }


@pytest.fixture
def a_data(app: Flask, therapist: Therapist) -> Practice:
    return practice(app, therapist, "A-secret-001", anxiety=5)


@pytest.fixture
def b_data(app: Flask, other: Therapist) -> Practice:
    return practice(app, other, "B-own-001", anxiety=3)


def csrf_token(t: Therapist, own_client_id: int) -> str:
    """A valid CSRF token of ``t``'s session, from a form on one of their own pages."""
    page = t.web.get(f"/therapist/clients/{own_client_id}").get_data(as_text=True)
    return hidden_fields(page)["csrf_token"]


def test_url_map_has_the_client_data_routes_this_module_knows(app: Flask) -> None:
    """A sanity check that the enumeration finds routes at all (the guard is only as good)."""
    routes = client_data_routes(app)
    assert ("therapist.client", "GET") in routes
    assert ("therapist.revoke_invite", "POST") in routes
    assert {endpoint for endpoint, _ in routes} >= ALL_CLIENT_EXPORTS
    posts = {endpoint for endpoint, method in routes if method == "POST"}
    assert posts <= FORM_DATA.keys(), "a new POST route needs honest form data in FORM_DATA"


def test_every_client_data_route_hides_another_therapists_data(
    app: Flask, therapist: Therapist, other: Therapist, a_data: Practice, b_data: Practice
) -> None:
    token = csrf_token(other, b_data.client_id)
    a_ids = {
        "client_id": a_data.client_id,
        "submission_id": a_data.submission_id,
        "invite_id": a_data.invite_id,
    }
    # A's result or invite under B's own client id must not be found either.
    mixed_ids = {**a_ids, "client_id": b_data.client_id}
    before = snapshot(app)
    exercised: set[Route] = set()
    exports: dict[str, str] = {}
    for endpoint, method in sorted(client_data_routes(app)):
        if endpoint in ALL_CLIENT_EXPORTS:
            response = other.web.get(path_for(app, endpoint, {}))
            assert response.status_code == 200, endpoint
            exports[endpoint] = response.get_data(as_text=True)
            exercised.add((endpoint, method))
            continue
        args = rule_of(app, endpoint).arguments
        for ids in [a_ids, mixed_ids] if args & {"submission_id", "invite_id"} else [a_ids]:
            path = path_for(app, endpoint, ids)
            if method == "GET":
                response = other.web.get(path)
            else:
                data = {"csrf_token": token, **FORM_DATA[endpoint]}
                response = other.web.post(path, data=data)
            assert response.status_code == 404, (method, path, response.status_code)
        exercised.add((endpoint, method))
    assert exercised == client_data_routes(app)

    after = snapshot(app)
    new_audit = after.pop("audit")[len(before["audit"]) :]
    assert after == {k: v for k, v in before.items() if k != "audit"}, "B's attempts changed data"
    assert len(new_audit) == len(ALL_CLIENT_EXPORTS)  # only the two exports B made of B's data
    for entry in new_audit:
        assert entry.client_id is None and entry.submission_id is None
        assert entry.therapist_id == owner_of(app, b_data.client_id)
    check_exports_hold_only_own_data(exports, own=b_data, foreign=a_data)


def owner_of(app: Flask, client_id: int) -> int:
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        return client.therapist_id


def check_exports_hold_only_own_data(
    exports: dict[str, str], own: Practice, foreign: Practice
) -> None:
    text = exports["therapist.all_csv"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["client_id"] for r in rows} == {str(own.client_id)}
    assert {r["result_id"] for r in rows} == {str(own.submission_id)}
    assert {r["client_label"] for r in rows} == {own.label}
    assert foreign.label not in text

    text = exports["therapist.all_fhir"]
    resources = [e["resource"] for e in json.loads(text)["entry"]]
    subjects = [r["subject"] for r in resources if "subject" in r]
    assert subjects, "B's own administration is in B's export"
    assert {s["identifier"]["value"] for s in subjects} == {str(own.client_id)}
    assert {s["display"] for s in subjects} == {own.label}
    responses = {r["id"] for r in resources if r["resourceType"] == "QuestionnaireResponse"}
    assert responses == {f"qr-{own.submission_id}"}
    assert foreign.label not in text


def test_a_result_must_belong_to_the_client_in_the_address(
    app: Flask, therapist: Therapist, a_data: Practice
) -> None:
    """Even the owner gets 404 for their own result or invite under another of their clients."""
    second = add_client(therapist, "A-second-002")
    token = csrf_token(therapist, second)
    for endpoint in ("therapist.result", "therapist.report"):
        path = path_for(app, endpoint, {"client_id": second, "submission_id": a_data.submission_id})
        assert therapist.web.get(path).status_code == 404, path
    path = path_for(
        app, "therapist.revoke_invite", {"client_id": second, "invite_id": a_data.invite_id}
    )
    assert therapist.web.post(path, data={"csrf_token": token}).status_code == 404
    assert open_invite_id(app, a_data.client_id) == a_data.invite_id  # still open
    right = {"client_id": a_data.client_id, "submission_id": a_data.submission_id}
    assert therapist.web.get(path_for(app, "therapist.result", right)).status_code == 200


def test_b_gets_404_for_as_result_under_bs_own_client(
    app: Flask, other: Therapist, a_data: Practice, b_data: Practice
) -> None:
    for endpoint in ("therapist.result", "therapist.report"):
        ids = {"client_id": b_data.client_id, "submission_id": a_data.submission_id}
        assert other.web.get(path_for(app, endpoint, ids)).status_code == 404
        own = {"client_id": b_data.client_id, "submission_id": b_data.submission_id}
        assert other.web.get(path_for(app, endpoint, own)).status_code in (200, 202)  # queued


def therapist_routes(app: Flask) -> set[Route]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("therapist.")
        for method in methods(rule)
    }


def test_signed_out_visitor_is_sent_to_sign_in_from_every_therapist_route(
    app: Flask, a_data: Practice
) -> None:
    visitor = app.test_client()
    token = hidden_fields(visitor.get("/account/sign-in").get_data(as_text=True))["csrf_token"]
    ids = {
        "client_id": a_data.client_id,
        "submission_id": a_data.submission_id,
        "invite_id": a_data.invite_id,
        "endpoint_id": 1,  # a webhook endpoint (tests/therapists/test_webhooks.py: its owner's)
    }
    before = snapshot(app)
    exercised: set[Route] = set()
    for endpoint, method in sorted(therapist_routes(app)):
        path = path_for(app, endpoint, ids)
        if method == "GET":
            response = visitor.get(path)
        else:
            data = {"csrf_token": token, **FORM_DATA.get(endpoint, {})}
            response = visitor.post(path, data=data)
        assert response.status_code in (302, 303), (method, path, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/account/sign-in", path
        assert a_data.label not in response.get_data(as_text=True)
        exercised.add((endpoint, method))
    assert exercised == therapist_routes(app)
    assert exercised >= client_data_routes(app)
    assert snapshot(app) == before
