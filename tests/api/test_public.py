"""The visitor's side of the JSON API (issue 16): answers sent through it are stored and
analysed as the web quiz stores them, and read back, completed or deleted by the receipt code
in a header; errors are problem details; CORS stays closed; the limits are the web's."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from numpy.testing import assert_allclose
from sqlalchemy import func, select, update

from quizapp import logs
from quizapp.scoring.engine import score
from quizapp.storage.tables import Submission
from quizapp.web import forms
from quizapp.web.extensions import db

from ..conftest import with_limits
from ..web.test_my_data import FOLLOW_UP, take_quiz
from .conftest import QUICK, UNCERTAIN, api_app, quick_answers, submission, submit

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem details of an error response, checked for their one shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert PROBLEM_KEYS <= set(body) <= PROBLEM_KEYS | {"errors"}
    assert body["status"] == status and body["detail"]
    return body


def stored_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Submission)) or 0


def test_the_api_gives_the_engine_s_scores_and_the_web_s_stored_analysis(
    app: Flask, client: FlaskClient
) -> None:
    sent = submit(client, QUICK)
    assert sent["follow_up_pending"] is False
    instrument = app.extensions["pipeline"].bank["quick"]
    expected = score(instrument, quick_answers(QUICK))
    got = {s["scale"]: s for s in sent["result"]["scores"]}
    for name, scale in expected.scales.items():
        assert_allclose(got[name]["score"], scale.score, rtol=0, atol=1e-12)
        assert_allclose(got[name]["sem"], scale.sem, rtol=0, atol=1e-12)
    assert expected.pattern is not None
    assert sent["result"]["pattern"]["closest"] == expected.pattern.closest
    # The same answers through the web quiz: the same analysis, read back the same way.
    web_code = take_quiz(client, QUICK)
    web = client.get(f"/r/{web_code}/data.json").get_json()
    read = client.get("/api/v1/result", headers={"Receipt-Code": sent["receipt_code"]})
    assert read.status_code == 200 and read.headers["Cache-Control"] == "no-store"
    assert read.get_json() == sent["result"]
    for document in (web, sent["result"]):
        del document["taken"]
    assert sent["result"] == web
    assert stored_count(app) == 2


def test_a_start_token_is_used_once_and_times_the_answering(
    app: Flask, client: FlaskClient
) -> None:
    body = submission(client, QUICK)
    with app.test_request_context():
        token = forms.read_token(body["start_token"])
        assert token is not None
        started = token.started - 30  # as if the questionnaire had been fetched 30 s earlier
        body["start_token"] = forms._serializer().dumps(["quick", "1.0.0", started, token.nonce])
    first = client.post("/api/v1/results", json=body)
    assert first.status_code == 201
    taken = first.get_json()["result"]["taken"]
    seconds = (datetime.fromisoformat(taken["finished_at"])
               - datetime.fromisoformat(taken["started_at"])).total_seconds()  # fmt: skip
    assert 29 < seconds < 60
    cautions = [c["id"] for c in first.get_json()["result"]["interpretation"]["cautions"]]
    retry = client.post("/api/v1/results", json=body)  # a retry of the same answers
    problem(retry, 409)
    assert stored_count(app) == 1
    assert "too-fast" not in cautions  # 30 s for 12 statements
    instant = submit(client, QUICK)["result"]["interpretation"]["cautions"]
    assert "too-fast" in [c["id"] for c in instant]  # answered the moment it was fetched


def test_the_instruments_show_their_statements_choices_and_licence(client: FlaskClient) -> None:
    listed = client.get("/api/v1/instruments").get_json()["items"]
    assert {i["id"] for i in listed} == {"quick", "full"}
    quick = client.get("/api/v1/instruments/quick").get_json()
    assert quick["response_scale"]["choices"][0] == {"value": 1, "label": "Strongly disagree"}
    assert len(quick["items"]) == 12 and quick["licence"]["name"] == "CC-BY-4.0"
    problem(client.get("/api/v1/instruments/nope"), 404)


@pytest.mark.parametrize("body", [{"answers": FOLLOW_UP}, {"skip": True}])
def test_follow_up_is_answered_or_skipped_as_on_the_web(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    sent = submit(client, UNCERTAIN)
    code = sent["receipt_code"]
    assert sent["follow_up_pending"] is True
    offered = sent["result"]["follow_up"]
    assert offered["status"] == "not answered yet"
    assert {s["item_id"] for s in offered["statements"]} == set(FOLLOW_UP)
    wrong = client.post("/api/v1/result/follow-up", json={"answers": {"f21": 5}},
                        headers={"Receipt-Code": code})  # fmt: skip
    problem(wrong, 422)
    done = client.post("/api/v1/result/follow-up", json=body, headers={"Receipt-Code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    status = "answered" if "answers" in body else "skipped"
    assert done.get_json()["follow_up"]["status"] == status
    web = client.get(f"/r/{code}/data.json").get_json()
    assert web == done.get_json()
    again = client.post("/api/v1/result/follow-up", json=body, headers={"Receipt-Code": code})
    problem(again, 409)


def test_delete_by_the_header_deletes_for_good(app: Flask, client: FlaskClient) -> None:
    code = submit(client, QUICK)["receipt_code"]
    problem(client.delete("/api/v1/result"), 400)  # no header
    assert client.delete("/api/v1/result", headers={"Receipt-Code": code}).status_code == 204
    assert stored_count(app) == 0
    problem(client.get("/api/v1/result", headers={"Receipt-Code": code}), 404)
    problem(client.delete("/api/v1/result", headers={"Receipt-Code": code}), 404)


def test_the_receipt_code_is_in_no_url_and_no_log_line(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = submit(client, UNCERTAIN)
    code = sent["receipt_code"]
    header = {"Receipt-Code": code}
    responses = [client.get("/api/v1/result", headers=header),
                 client.post("/api/v1/result/follow-up", json={"skip": True}, headers=header),
                 client.delete("/api/v1/result", headers=header)]  # fmt: skip
    for response in responses:
        assert code not in json.dumps(dict(response.headers))
    document = json.dumps(client.get("/api/v1/openapi.json").get_json())
    assert "{code}" not in document and "receipt" not in "".join(json.loads(document)["paths"])
    logged = "\n".join(logs.RedactingFormatter(logs.FORMAT).format(r) for r in caplog.records)
    assert code not in logged
    assert logs.redact(f"GET /api/v1/result Receipt-Code: {code}").count(code) == 0


def test_errors_are_problem_details_of_one_shape(app: Flask, client: FlaskClient) -> None:
    good = submission(client, QUICK)
    problem(client.post("/api/v1/results", data="{", content_type="application/json"), 400)
    problem(client.post("/api/v1/results", data=json.dumps(good), content_type="text/plain"),
            415)  # fmt: skip
    huge = json.dumps(good | {"pad": "x" * 70_000})
    problem(client.post("/api/v1/results", data=huge, content_type="application/json"), 413)
    invalid = problem(client.post("/api/v1/results", json=good | {"answers": {"q01": 9}}), 422)
    assert invalid["errors"]
    problem(client.post("/api/v1/results", json=good | {"start_token": "forged"}), 400)
    with app.test_request_context():
        old = forms._serializer().dumps(["quick", "0.1", time.time(), "0" * 32])
    problem(client.post("/api/v1/results", json=good | {"start_token": old}), 409)
    refused = problem(client.put("/api/v1/result"), 405)
    assert refused["title"] == "Method not allowed"
    problem(client.get("/api/v1/no-such-thing"), 404)
    assert stored_count(app) == 0
    code = submit(client, QUICK)["receipt_code"]
    with app.app_context():
        db.session.execute(update(Submission).values(instrument_version="0.1"))
        db.session.commit()
    problem(client.get("/api/v1/result", headers={"Receipt-Code": code}), 410)


def test_a_failure_of_ours_is_a_500_problem_that_tells_nothing(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quizapp.web.api import public

    def broken(*args: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(public, "portable_data", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    code = take_quiz(client, QUICK)
    body = problem(client.get("/api/v1/result", headers={"Receipt-Code": code}), 500)
    assert "internals" not in json.dumps(body)


def test_cors_is_closed_and_cookies_need_no_csrf_token(client: FlaskClient) -> None:
    origin = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    for response in (client.options("/api/v1/results", headers=origin),
                     client.get("/api/v1/instruments", headers=origin)):  # fmt: skip
        assert not [name for name, _ in response.headers if name.startswith("Access-Control-")]
    submit(client, QUICK)  # a POST without any CSRF token: the API needs none


def test_the_web_s_rate_limits_hold_with_429_problems(database_url: str, tmp_path: Path) -> None:
    limits = with_limits(submit="2/minute", lookup_miss="2/minute")
    app = api_app(database_url, tmp_path, RATE_LIMITS=limits)
    client = app.test_client()
    submit(client, QUICK)
    submit(client, QUICK)
    refused = client.post("/api/v1/results", json=submission(client, QUICK))
    problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    wrong = {"Receipt-Code": "0" * 28}
    for _ in range(2):
        problem(client.get("/api/v1/result", headers=wrong), 404)
    problem(client.get("/api/v1/result", headers=wrong), 429)
    app.extensions["database"].dispose()
