"""The PDF report beside the result: queued at submission, rendered by the renderer, sealed,
served; a click before it is ready waits for it; the web process never renders."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from cryptography.exceptions import InvalidTag
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from quizapp.pipeline import jobs
from quizapp.storage import receipts
from quizapp.storage.tables import RenderedReport
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields, render_queued
from .test_quiz import answers, start


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:  # type: ignore[override]
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=True))
    yield app
    app.extensions["database"].dispose()


def submit(client: FlaskClient) -> str:
    response = client.post("/quiz/quick", data=start(client) | answers())
    assert response.status_code == 303
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def stored_reports(app: Flask) -> list[RenderedReport]:
    with app.app_context():
        rows = list(db.session.scalars(select(RenderedReport).order_by(RenderedReport.id)))
        db.session.expunge_all()
        return rows


def test_the_submission_queues_its_report_with_the_code_sealed(
    app: Flask, client: FlaskClient
) -> None:
    code = submit(client)
    [job] = stored_reports(app)
    assert (job.status, job.kind, job.page_size, job.pdf) == ("pending", "client", "A4", None)
    assert job.job_key is not None and code.encode() not in job.job_key
    assert jobs.open_receipt(app.config["SECRET_KEY"], job.job_key) == code
    with pytest.raises(InvalidTag):
        jobs.open_receipt("another secret", job.job_key)


def test_the_renderer_stores_it_sealed_and_wipes_the_code(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    assert render_queued(app) == 1
    [row] = stored_reports(app)
    assert (row.status, row.attempts, row.job_key, row.claimed_until) == ("done", 1, None, None)
    assert row.pdf is not None and not row.pdf.startswith(b"%PDF")
    assert receipts.display(code).encode() not in row.pdf
    assert receipts.unseal(code, row.pdf).startswith(b"%PDF")
    with pytest.raises(ValueError):
        receipts.unseal(receipts.new_code(), row.pdf)
    assert render_queued(app) == 0, "a finished job is never rendered again"


def test_download_serves_the_stored_pdf(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    render_queued(app)
    response = client.get(f"/r/{code}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF")
    assert len(stored_reports(app)) == 1, "served from the stored render, not rendered again"


def test_an_early_click_waits_and_never_renders_in_the_request(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import quizapp.reports.render as render

    def never(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("the web process rendered a PDF")

    code = submit(client)
    monkeypatch.setattr(render, "render_pdf", never)
    waiting = client.get(f"/r/{code}/report.pdf")
    page = waiting.get_data(as_text=True)
    assert waiting.status_code == 202 and waiting.headers["Retry-After"] == "2"
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Your report is being prepared" in page and "usually ready in a second" in page
    [job] = stored_reports(app)
    assert (job.status, job.priority) == ("pending", jobs.WAITING), "brought forward"
    assert client.get(f"/r/{code}/report.pdf").status_code == 202, "waits again, one job"
    assert len(stored_reports(app)) == 1
    monkeypatch.undo()
    render_queued(app)
    assert client.get(f"/r/{code}/report.pdf").data.startswith(b"%PDF")


def test_the_waiting_page_says_how_many_are_ahead(app: Flask, client: FlaskClient) -> None:
    codes = [submit(app.test_client()) for _ in range(3)]
    page = client.get(f"/r/{codes[0]}/report.pdf").get_data(as_text=True)
    assert "usually ready" in page, "the one someone waits for goes first"
    page = app.test_client().get(f"/r/{codes[2]}/report.pdf").get_data(as_text=True)
    assert "1 report is being prepared before yours" in page, page
    page = app.test_client().get(f"/r/{codes[1]}/report.pdf").get_data(as_text=True)
    assert "1 report is being prepared before yours" in page, "waiting too, and older"
    page = app.test_client().get(f"/r/{codes[2]}/report.pdf").get_data(as_text=True)
    assert "2 reports are being prepared before yours" in page


def test_letter_size_is_queued_on_first_request(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    render_queued(app)
    assert client.get(f"/r/{code}/report.pdf?size=letter").status_code == 202
    render_queued(app)
    response = client.get(f"/r/{code}/report.pdf?size=LETTER")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert [r.page_size for r in stored_reports(app)] == ["A4", "Letter"]
    assert client.get(f"/r/{code}/report.pdf?size=a3").status_code == 400


def test_without_prerender_the_first_download_queues_it(database_url: str) -> None:
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=False))
    client = app.test_client()
    code = submit(client)
    assert stored_reports(app) == []
    assert client.get(f"/r/{code}/report.pdf").status_code == 202
    render_queued(app)
    assert client.get(f"/r/{code}/report.pdf").data.startswith(b"%PDF")
    app.extensions["database"].dispose()


def test_unknown_code_is_404(client: FlaskClient) -> None:
    assert client.get(f"/r/{receipts.new_code()}/report.pdf").status_code == 404


def test_deleting_the_result_deletes_its_reports(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    confirm = client.get(f"/r/{code}/delete")
    client.post(f"/r/{code}/delete", data=hidden_fields(confirm.get_data(as_text=True)))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RenderedReport)) == 0
    assert client.get(f"/r/{code}/report.pdf").status_code == 404
    assert render_queued(app) == 0, "the job went with the result"


def test_a_render_failure_is_friendly_logged_retried_and_loses_nothing(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from quizapp.pipeline import renderer

    real = renderer.render_pdf

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("pango exploded")

    monkeypatch.setattr(renderer, "render_pdf", broken)
    monkeypatch.setattr(jobs, "RETRY_PAUSE", jobs.RETRY_PAUSE * 0)  # no pause between attempts
    code = submit(client)
    with caplog.at_level(logging.ERROR):
        assert render_queued(app) == jobs.ATTEMPTS  # three attempts; the submission stands
    assert "rendering the client report" in caplog.text
    assert code not in caplog.text and receipts.display(code) not in caplog.text
    assert client.get(f"/r/{code}").status_code == 200
    [row] = stored_reports(app)
    assert (row.status, row.attempts, row.job_key) == ("failed", 3, None)
    assert "pango exploded" in (row.error or "")
    again = client.get(f"/r/{code}/report.pdf")  # asked for: one more round of attempts
    assert again.status_code == 202
    render_queued(app)
    failed = client.get(f"/r/{code}/report.pdf")
    assert failed.status_code == 503
    assert "Your result is saved and safe" in failed.get_data(as_text=True)
    monkeypatch.setattr(renderer, "render_pdf", real)
    assert stored_reports(app)[0].attempts == 6 and render_queued(app) == 0, "given up"


def test_a_head_request_queues_nothing(database_url: str) -> None:
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=False))
    client = app.test_client()
    code = submit(client)
    assert client.head(f"/r/{code}/report.pdf").status_code == 202
    assert stored_reports(app) == []
    app.extensions["database"].dispose()
