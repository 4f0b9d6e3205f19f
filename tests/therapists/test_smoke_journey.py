"""The whole therapist journey through the test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from flask import Flask

from .journey import Therapist, add_client, answer, answers_for, consent, invite


def test_journey_invite_consent_answer_review_export(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-017", "intake in March")
    path = invite(therapist, client_id)
    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    assert "Dr Ana Ruiz" in page and "your answer to every statement" in page
    assert consent(visitor, path).status_code == 303
    response = answer(visitor, path, answers_for("quick", 5, 1))
    assert response.status_code == 303 and response.headers["Location"].startswith("/r/")
    page = therapist.web.get(f"/therapist/clients/{client_id}").get_data(as_text=True)
    assert "5.00" in page and "1.00" in page
    bundle = json.loads(therapist.web.get(f"/therapist/clients/{client_id}/fhir.json").data)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == [
        "CodeSystem",
        "Observation",
        "Observation",
        "Questionnaire",
        "QuestionnaireResponse",
    ]


def test_client_data_pages_are_never_cached(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-018")
    path = invite(therapist, client_id)
    visitor = app.test_client()
    pages = [(therapist.web, "/therapist/"), (therapist.web, f"/therapist/clients/{client_id}"),
             (therapist.web, "/account/"), (visitor, path)]  # fmt: skip
    for web, page in pages:
        response = web.get(page)
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store", page
