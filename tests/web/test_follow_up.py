"""A follow-up only when it matters: an uncertain quick result asks up to four statements of
the full form, which sharpen the closest pattern; a settled one asks nothing; skipping, coming
back later and bad posts all behave."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from quizapp.storage.tables import RenderedReport, StoredAnalysis, Submission
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields, render_queued
from .test_quiz import answers, start

# answers whose quick result leaves a dimension (or both) near the full form's cut-off
UNCERTAIN_AVOIDANCE = [4, 1, 4, 2, 2, 1, 2, 3, 2, 2, 3, 2]
UNCERTAIN_BOTH = [1, 3, 2, 5, 5, 3, 1, 4, 4, 3, 1, 5]
# A settled result whose twelve answers the random-answer detector flags, but only just (a
# held-out person's): consistency statements are asked, and this person's own answers to
# them (their full form's) fit the rest
BORDERLINE_CAREFUL = [2, 2, 5, 5, 3, 2, 1, 3, 4, 4, 3, 5]
THEIR_OWN = {"f07": "1", "f13": "2", "f23": "2", "f02": "5"}
# uniformly random answers the detector lets pass alone; random answers to the check do not
BORDERLINE_RANDOM = [4, 3, 2, 1, 4, 4, 1, 1, 3, 2, 5, 3]
AT_RANDOM = {"f07": "3", "f13": "3", "f23": "4", "f02": "3"}
CAUTION = "Your answers look unusually scattered"


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:  # type: ignore[override]
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=True))  # as shipped
    yield app
    app.extensions["database"].dispose()


def submit(client: FlaskClient, values: list[int] | None = None) -> tuple[str, str]:
    response = client.post("/quiz/quick", data=start(client) | answers(values))
    assert response.status_code == 303
    location = str(response.headers["Location"])
    return location, location.split("/")[2]


def stored_state(app: Flask, code_path: str) -> tuple[Submission, StoredAnalysis, int]:
    with app.app_context():
        submission = db.session.scalars(select(Submission)).one()
        analysis = db.session.get(StoredAnalysis, submission.id)
        jobs = db.session.scalar(select(func.count()).select_from(RenderedReport)) or 0
        assert analysis is not None
        db.session.expunge_all()
        return submission, analysis, jobs


def test_a_settled_result_asks_nothing_more(app: Flask, client: FlaskClient) -> None:
    location, code = submit(client)
    assert location == f"/r/{code}"
    submission, _analysis, jobs = stored_state(app, location)
    assert submission.follow_up is None and jobs == 1
    page = client.get(f"/r/{code}/more")
    assert page.status_code == 303 and page.headers["Location"] == f"/r/{code}"
    assert "more statements" not in client.get(f"/r/{code}").get_data(as_text=True)


def test_an_uncertain_result_asks_four_statements_that_sharpen_it(
    app: Flask, client: FlaskClient
) -> None:
    location, code = submit(client, UNCERTAIN_AVOIDANCE)
    assert location == f"/r/{code}/more", "the answers are stored, then the follow-up asked"
    before, first, jobs = stored_state(app, location)
    assert before.follow_up == {"asked": ["f21", "f35", "f13", "f15"], "answers": None}
    assert jobs == 1, "every stored result has its report queued, follow-up or not"
    assert render_queued(app) == 1, "the report of the twelve answers, rendered meanwhile"
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "4 more statements to sharpen your result" in html
    assert "avoidance score is close to the middle" in html
    assert html.count('type="radio"') == 4 * 5
    # the result is there meanwhile, and offers the statements (save and resume)
    result = client.get(f"/r/{code}").get_data(as_text=True)
    assert "4 more statements would sharpen this result" in result
    assert f'href="/r/{code}/more"' in result
    # avoidant answers to the avoidance statements settle it on the avoidant side
    form = hidden_fields(html) | {"f21": "5", "f35": "1", "f13": "5", "f15": "1"}
    done = client.post(location, data=form)
    assert done.status_code == 303 and done.headers["Location"] == f"/r/{code}"
    after, second, jobs = stored_state(app, location)
    assert after.follow_up == {"asked": ["f21", "f35", "f13", "f15"],
                               "answers": {"f21": 5, "f35": 1, "f13": 5, "f15": 1}}  # fmt: skip
    old, new = first.record["pattern"], second.record["pattern"]
    assert new["probability"] > old["probability"]
    assert "avoidance" not in new["near_boundary"] and "avoidance" in old["near_boundary"]
    assert new["probabilities"]["dismissive-avoidant"] + new["probabilities"][
        "fearful-avoidant"] > 0.9  # fmt: skip
    assert jobs == 1 and render_queued(app) == 1, "its report again, of the sharper result"
    with app.app_context():
        [row] = db.session.scalars(select(RenderedReport)).all()
        assert row.status == "done" and row.submission_id == after.id
    assert "more statements would sharpen" not in client.get(f"/r/{code}").get_data(as_text=True)
    again = client.get(location)
    assert again.status_code == 303, "answered once: the page sends you to the result"


def test_skipping_keeps_the_result_and_queues_its_report(app: Flask, client: FlaskClient) -> None:
    location, code = submit(client, UNCERTAIN_BOTH)
    html = client.get(location).get_data(as_text=True)
    assert "Both your scores are close to the middle" in html
    _before, first, _jobs = stored_state(app, location)
    response = client.post(location, data=hidden_fields(html) | {"skip": "1", "f28": "2"})
    assert response.status_code == 303 and response.headers["Location"] == f"/r/{code}"
    after, second, jobs = stored_state(app, location)
    assert after.follow_up is not None and after.follow_up["answers"] == {}
    assert second.record == first.record and jobs == 1


def test_a_missing_answer_shows_the_statements_again_with_the_others_kept(
    app: Flask, client: FlaskClient
) -> None:
    location, _code = submit(client, UNCERTAIN_AVOIDANCE)
    html = client.get(location).get_data(as_text=True)
    response = client.post(location, data=hidden_fields(html) | {"f21": "4", "f35": "2"})
    page = " ".join(response.get_data(as_text=True).split())
    assert response.status_code == 422
    assert "2 statements still need an answer" in page
    assert 'id="f21-4" checked' in page and 'id="f35-2" checked' in page
    assert page.count("checked") == 2
    submission, _analysis, _jobs = stored_state(app, location)
    assert submission.follow_up is not None and submission.follow_up["answers"] is None


def test_forged_posts_are_refused_and_change_nothing(app: Flask, client: FlaskClient) -> None:
    location, code = submit(client, UNCERTAIN_AVOIDANCE)
    fields = hidden_fields(client.get(location).get_data(as_text=True))
    full = {"f21": "5", "f35": "1", "f13": "5", "f15": "1"}
    for forged in ({**full, "f01": "3"}, {**full, "f21": "9"}, {**full, "q01": "2"}):
        assert client.post(location, data=fields | forged).status_code == 400
    assert client.post(location, data=full).status_code == 400, "no CSRF token"
    submission, _analysis, _jobs = stored_state(app, location)
    assert submission.follow_up is not None and submission.follow_up["answers"] is None
    near = code[:-1] + ("Y" if code.endswith("X") else "X")  # one character off, never itself
    assert client.get(f"/r/{near}/more").status_code == 404


def test_the_privacy_page_says_what_a_follow_up_stores(client: FlaskClient) -> None:
    text = " ".join(client.get("/privacy").get_data(as_text=True).split())
    assert "we store which ones we offered and, if you answered them, your answers" in text


def test_borderline_answers_are_checked_and_a_careful_person_can_show_it(
    client: FlaskClient,
) -> None:
    """Issue 15: the caution stays a caution, with a way to say so. Twelve answers that look
    borderline careless get four consistency statements with a kind reason; the person's own
    answers to them clear the caution the twelve raised."""
    location, code = submit(client, BORDERLINE_CAREFUL)
    assert location == f"/r/{code}/more"
    assert CAUTION in client.get(f"/r/{code}").get_data(as_text=True), "shown meanwhile"
    html = client.get(location).get_data(as_text=True)
    assert "Some of your answers point in different directions" in html
    assert all(f'name="{s}"' in html for s in THEIR_OWN)
    done = client.post(location, data=hidden_fields(html) | THEIR_OWN)
    assert done.status_code == 303 and done.headers["Location"] == f"/r/{code}"
    assert CAUTION not in client.get(f"/r/{code}").get_data(as_text=True)


def test_random_answers_to_the_check_keep_or_raise_the_caution(client: FlaskClient) -> None:
    location, code = submit(client, BORDERLINE_RANDOM)
    assert location == f"/r/{code}/more"
    assert CAUTION not in client.get(f"/r/{code}").get_data(as_text=True)
    html = client.get(location).get_data(as_text=True)
    client.post(location, data=hidden_fields(html) | AT_RANDOM)
    assert CAUTION in client.get(f"/r/{code}").get_data(as_text=True)
