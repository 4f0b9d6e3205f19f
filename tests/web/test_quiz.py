"""The quiz flow through the Flask test client: happy path, missing answers, tampering."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from quizapp.scoring.engine import score
from quizapp.storage.tables import Submission
from quizapp.web.extensions import db
from quizapp.web.forms import issue_token

from ..conftest import hidden_fields

QUICK_ITEMS = [f"q{i:02d}" for i in range(1, 13)]


def start(client: FlaskClient, instrument: str = "quick") -> dict[str, str]:
    page = client.get(f"/quiz/{instrument}")
    assert page.status_code == 200
    return hidden_fields(page.get_data(as_text=True))


# A real person's answers (a held-out calibration row): a settled result, nothing to check.
SETTLED = [3, 5, 2, 1, 2, 5, 1, 1, 1, 5, 2, 2]


def answers(values: list[int] | None = None) -> dict[str, str]:
    values = values or SETTLED
    return {item: str(v) for item, v in zip(QUICK_ITEMS, values, strict=True)}


def stored(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Submission)) or 0


def test_landing_page_says_what_it_is(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "2 minutes" in html or "2-minute" in html
    assert "not a diagnosis" in html
    assert "no name, no e-mail" in html.replace("\n", " ")
    assert not re.search(r'(src|href)="(https?:)?//', html), "no third-party assets"


def test_quiz_page_has_a_labelled_required_group_per_item(client: FlaskClient) -> None:
    html = client.get("/quiz/quick").get_data(as_text=True)
    assert html.count("<fieldset") == 12
    assert html.count("<legend>") == 12
    assert html.count('type="radio"') == 60
    assert "Statement 12 of 12" in html
    assert 'class="progress"' in html
    assert "csrf_token" in html
    assert "<script" not in html


def test_full_submission_shows_scores_and_stores_one_record(
    app: Flask, client: FlaskClient
) -> None:
    form = start(client) | answers(SETTLED)
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/r/[0-9A-Z]{28}", location)
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    instrument = app.extensions["pipeline"].bank["quick"]
    report = score(instrument, {k: int(v) for k, v in answers(SETTLED).items()})
    for scale in report.scales.values():
        assert f"{scale.score:.2f}" in html
        assert f"{scale.band[0]:.2f} to {scale.band[1]:.2f}" in html
        assert f"{round(scale.percentile)}%" in html
    assert report.pattern is not None
    assert report.pattern.label.lower() in html
    assert 'role="img"' in html and "<desc" in html
    assert "Delete my result" in html
    code = location.rsplit("/", 1)[1]
    assert "-".join(code[i : i + 4] for i in range(0, 28, 4)) in html
    assert stored(app) == 1
    with app.app_context():
        row = db.session.scalars(select(Submission)).one()
        assert row.answers == {k: int(v) for k, v in answers(SETTLED).items()}
        assert row.instrument_id == "quick" and row.instrument_version == "1.0.0"
        assert code.encode() not in row.receipt_hash
        assert row.started_at <= row.finished_at


def test_missing_answers_are_flagged_at_the_item_and_kept(app: Flask, client: FlaskClient) -> None:
    form = start(client) | answers()
    del form["q03"], form["q10"]
    response = client.post("/quiz/quick", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.count("Please choose an answer to this statement.") == 2
    assert 'id="err-q03"' in html and 'id="err-q10"' in html
    assert 'role="alert"' in html
    assert html.count("checked") >= 10, "the answers given are still selected"
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"q99": "3"}, 400, "does not have"),
        ({"q01": "9"}, 400, "not one of the choices"),
        ({"q01": "0"}, 400, "not one of the choices"),
        ({"q01": "three"}, 400, "not one of the choices"),
        ({"q01": "2.5"}, 400, "not one of the choices"),
        ({"started": "forged"}, 400, "damaged"),
        ({"csrf_token": ""}, 400, "its form expired, so nothing was sent yet"),
        ({"csrf_token": "x" * 40}, 400, "its form expired, so nothing was sent yet"),
    ],
)
def test_tampered_posts_are_refused_and_store_nothing(
    app: Flask, client: FlaskClient, change: dict[str, str], status: int, message: str
) -> None:
    form = start(client) | answers() | change
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert stored(app) == 0


def test_two_values_for_one_item_are_refused(app: Flask, client: FlaskClient) -> None:
    form = MultiDict([*(start(client) | answers()).items(), ("q01", "2")])
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == 400
    assert stored(app) == 0


def test_missing_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    form = start(client) | answers()
    del form["csrf_token"]
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == 400
    assert stored(app) == 0


def test_an_expired_form_comes_back_with_every_answer(app: Flask, client: FlaskClient) -> None:
    # Issue 14, finding 10: after a long pause the page said "reload", which lost the answers.
    form = start(client) | answers() | {"csrf_token": "expired-long-ago"}
    response = client.post("/quiz/quick", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and stored(app) == 0
    assert "its form expired, so nothing was sent yet" in page
    assert page.count("checked") == 12
    again = hidden_fields(page)
    assert again["csrf_token"] != "expired-long-ago" and again["started"] == form["started"]
    assert client.post("/quiz/quick", data=again | answers()).status_code == 303
    assert stored(app) == 1


def test_a_token_from_another_version_is_a_conflict(app: Flask, client: FlaskClient) -> None:
    form = start(client) | answers()
    instrument = app.extensions["pipeline"].bank["quick"]
    with app.test_request_context():
        old = type(instrument)(**{**instrument.__dict__, "version": "0.9.0"})
        form["started"] = issue_token(old)
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == 409
    assert "updated" in response.get_data(as_text=True)
    assert stored(app) == 0


def test_a_start_token_for_another_instrument_is_refused(app: Flask, client: FlaskClient) -> None:
    form = start(client, "full") | answers()
    response = client.post("/quiz/quick", data=form | {"started": form["started"]})
    assert response.status_code == 400
    assert stored(app) == 0


def test_a_replayed_post_is_stored_once(app: Flask, client: FlaskClient) -> None:
    form = start(client) | answers()
    assert client.post("/quiz/quick", data=form).status_code == 303
    replay = client.post("/quiz/quick", data=form)
    assert replay.status_code == 409
    assert "already submitted" in replay.get_data(as_text=True)
    assert stored(app) == 1


def test_an_oversized_body_is_refused(app: Flask, client: FlaskClient) -> None:
    form = start(client) | answers() | {"padding": "x" * 100_000}
    response = client.post("/quiz/quick", data=form)
    assert response.status_code == 413
    assert "larger" in response.get_data(as_text=True)
    assert stored(app) == 0


def test_the_full_form_works_too(app: Flask, client: FlaskClient) -> None:
    form = start(client, "full") | {f"f{i:02d}": "3" for i in range(1, 37)}
    response = client.post("/quiz/full", data=form)
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3.00" in html


def test_unknown_instrument_is_404(client: FlaskClient) -> None:
    assert client.get("/quiz/nope").status_code == 404


def test_a_database_failure_keeps_the_answers_on_screen(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from quizapp.storage import submissions

    def fail(*args: object, **kwargs: object) -> str:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    form = start(client) | answers()
    monkeypatch.setattr(submissions, "store_submission", fail)
    response = client.post("/quiz/quick", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "could not save your answers just now" in html
    assert html.count("checked") == 12
    monkeypatch.undo()
    retry = client.post("/quiz/quick", data=hidden_fields(html) | answers())
    assert retry.status_code == 303
    assert stored(app) == 1


def test_a_visitor_s_post_does_not_write_their_session_again(client: FlaskClient) -> None:
    """Only a signed-in therapist's session is looked up (and its idle clock moved): a visitor
    sending the quiz gets no new session cookie and no sign-in cookie to clear."""
    fields = start(client)
    response = client.post("/quiz/quick", data={**fields, **answers()})
    assert response.status_code == 303
    assert response.headers.getlist("Set-Cookie") == []
