"""The PDF report beside the result: rendered at submission, sealed, served, deleted."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from quizapp.pipeline import jobs
from quizapp.pipeline.pipeline import Pipeline
from quizapp.storage import receipts
from quizapp.storage.tables import RenderedReport
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields
from .test_quiz import answers, start


@pytest.fixture
def app(database_url: str) -> Flask:  # type: ignore[override]
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=True, REPORT_WORKERS=0))
    yield app
    app.extensions["database"].dispose()


def submit(client: FlaskClient) -> str:
    response = client.post("/quiz/quick", data=start(client) | answers())
    assert response.status_code == 303
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def stored_reports(app: Flask) -> list[RenderedReport]:
    with app.app_context():
        return list(db.session.scalars(select(RenderedReport)))


def test_the_report_is_rendered_at_submission_and_stored_sealed(
    app: Flask, client: FlaskClient
) -> None:
    code = submit(client)
    [row] = stored_reports(app)
    assert (row.status, row.kind, row.page_size) == ("done", "client", "A4")
    assert row.pdf is not None and not row.pdf.startswith(b"%PDF")
    assert receipts.display(code).encode() not in row.pdf
    assert receipts.unseal(code, row.pdf).startswith(b"%PDF")
    with pytest.raises(ValueError):
        receipts.unseal(receipts.new_code(), row.pdf)


def test_download_serves_the_stored_pdf(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    response = client.get(f"/r/{code}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF")
    assert len(stored_reports(app)) == 1, "served from the stored render, not rendered again"


def test_letter_size_is_rendered_on_first_request(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    response = client.get(f"/r/{code}/report.pdf?size=letter")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert sorted(r.page_size for r in stored_reports(app)) == ["A4", "Letter"]
    assert client.get(f"/r/{code}/report.pdf?size=a3").status_code == 400


def test_unknown_code_is_404(client: FlaskClient) -> None:
    assert client.get(f"/r/{receipts.new_code()}/report.pdf").status_code == 404


def test_deleting_the_result_deletes_its_reports(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    confirm = client.get(f"/r/{code}/delete")
    client.post(f"/r/{code}/delete", data=hidden_fields(confirm.get_data(as_text=True)))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RenderedReport)) == 0
    assert client.get(f"/r/{code}/report.pdf").status_code == 404


def test_a_render_failure_is_friendly_logged_retried_and_loses_nothing(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = Pipeline.render_pdf

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("pango exploded")

    monkeypatch.setattr(Pipeline, "render_pdf", broken)
    monkeypatch.setattr(jobs.time, "sleep", lambda _s: None)
    with caplog.at_level(logging.ERROR):
        code = submit(client)  # the job fails three times; the submission stands
    assert "rendering the client report" in caplog.text
    assert client.get(f"/r/{code}").status_code == 200
    [row] = stored_reports(app)
    assert (row.status, row.attempts) == ("failed", 3)
    assert "pango exploded" in (row.error or "")
    failed = client.get(f"/r/{code}/report.pdf")
    assert failed.status_code == 503
    assert "Your result is saved and safe" in failed.get_data(as_text=True)
    monkeypatch.setattr(Pipeline, "render_pdf", real)
    retried = client.get(f"/r/{code}/report.pdf")
    assert retried.status_code == 200 and retried.data.startswith(b"%PDF")


def test_the_thread_pool_renders_off_the_request_path(database_url: str) -> None:
    from quizapp.app import create_app

    app = create_app(app_config(database_url, REPORT_PRERENDER=True, REPORT_WORKERS=1))
    client = app.test_client()
    code = submit(client)
    app.extensions["report_renderer"].shutdown()  # waits for the queued job
    [row] = stored_reports(app)
    assert row.status == "done"
    assert client.get(f"/r/{code}/report.pdf").data.startswith(b"%PDF")
    app.extensions["database"].dispose()
