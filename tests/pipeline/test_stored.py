"""Analyse once: a submission's analysis is computed when it is stored, and the results page,
the PDF, the exports and the command line read it back; old results keep their words and
versions until an operator recomputes them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, event, func, select

from quizapp.app import create_app
from quizapp.cli import cli
from quizapp.pipeline.pipeline import Pipeline
from quizapp.storage.tables import ContentSnapshot, RenderedReport, StoredAnalysis, Submission
from quizapp.web.extensions import db

from ..conftest import REPO, app_config, hidden_fields, render_queued
from ..web.test_quiz import answers, start


def submit(client: FlaskClient) -> str:
    response = client.post("/quiz/quick", data=start(client) | answers())
    assert response.status_code == 303
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def stored(app: Flask) -> list[StoredAnalysis]:
    with app.app_context():
        rows = list(db.session.scalars(select(StoredAnalysis)))
        db.session.expunge_all()
        return rows


def never(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("the analysis was computed again")


def test_the_analysis_is_stored_with_the_submission(app: Flask, client: FlaskClient) -> None:
    submit(client)
    [row] = stored(app)
    pipeline: Pipeline = app.extensions["pipeline"]
    assert row.rules_version == pipeline.interpreter.rules.version
    assert row.content_version == pipeline.interpreter.content.version
    assert row.model_version == pipeline.models["quick"].version  # type: ignore[union-attr]
    assert {s["scale"] for s in row.record["scales"]} == {"anxiety", "avoidance"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ContentSnapshot)) == 1


def test_pages_reports_and_exports_read_it_instead_of_computing(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code = submit(client)
    before = client.get(f"/r/{code}").get_data(as_text=True)
    monkeypatch.setattr(Pipeline, "analyse", never)
    page = client.get(f"/r/{code}")
    assert page.status_code == 200 and page.get_data(as_text=True) == before
    assert client.get(f"/r/{code}/report.pdf").status_code == 202
    assert render_queued(app) == 1
    pdf = client.get(f"/r/{code}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    result = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"]}).invoke(
        cli, ["report", "--receipt", code, "--out", str(tmp_path / "r.pdf")]
    )
    assert result.exit_code == 0, result.output


def test_a_failing_analysis_does_not_cost_the_answers(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "analyse", never)
    response = client.post("/quiz/quick", data=start(client) | answers())
    assert response.status_code == 303, "stored all the same"
    assert stored(app) == []
    monkeypatch.undo()
    code = str(response.headers["Location"]).rsplit("/", 1)[1]
    assert client.get(f"/r/{code}").status_code == 200, "computed when read"
    result = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"]}).invoke(
        cli, ["results", "analyse"]
    )
    assert result.exit_code == 0 and "analysed 1 results" in result.output
    assert len(stored(app)) == 1


def reworded(tmp_path: Path) -> Path:
    """A copy of the content folder with a new steps version and a new title for step 1."""
    folder = tmp_path / "content"
    shutil.copytree(REPO / "content", folder)
    steps = folder / "steps.toml"
    text = steps.read_text(encoding="utf-8")
    first = text.index('title = "') + len('title = "')
    old_title = text[first : text.index('"', first)]
    text = text.replace(f'title = "{old_title}"', 'title = "A brand new first title"', 1)
    steps.write_text(text.replace('version = "', 'version = "9.', 1), encoding="utf-8")
    return folder


def test_old_results_keep_their_words_until_an_operator_recomputes_them(
    database_url: str, tmp_path: Path
) -> None:
    first = create_app(app_config(database_url, REPORT_PRERENDER=True))
    code = submit(first.test_client())
    old_page = first.test_client().get(f"/r/{code}").get_data(as_text=True)
    old_version = first.extensions["pipeline"].interpreter.content.version
    with first.app_context():
        render_queued(first)  # its PDF, as it was then
        assert db.session.scalar(select(func.count()).select_from(RenderedReport)) == 1
    first.extensions["database"].dispose()

    later = create_app(app_config(database_url, CONTENT_DIR=str(reworded(tmp_path))))
    new_version = later.extensions["pipeline"].interpreter.content.version
    assert new_version != old_version
    web = later.test_client()
    page = web.get(f"/r/{code}").get_data(as_text=True)
    assert page == old_page, "the same words, the same versions"
    assert old_version in page and "A brand new first title" not in page
    assert "A brand new first title" in web.get("/steps/").get_data(as_text=True)

    env = {"DATABASE_URL": database_url, "QUIZAPP_CONTENT_DIR": str(tmp_path / "content")}
    status = CliRunner(env=env).invoke(cli, ["results", "status"])
    assert (
        "1 results, 0 without a stored analysis" in status.output and old_version in status.output
    )
    assert "PDF reports: " in status.output and "waiting to be rendered" in status.output
    result = CliRunner(env=env).invoke(cli, ["results", "analyse", "--which", "outdated"])
    assert result.exit_code == 0 and "analysed 1 results" in result.output, result.output
    page = web.get(f"/r/{code}").get_data(as_text=True)
    assert new_version in page and old_version not in page
    with later.app_context():  # its stored PDFs said what it said before: gone, made again
        assert db.session.scalar(select(func.count()).select_from(RenderedReport)) == 0
    again = CliRunner(env=env).invoke(cli, ["results", "analyse", "--which", "outdated"])
    assert "analysed 0 results" in again.output
    later.extensions["database"].dispose()


def test_deleting_a_result_deletes_its_analysis(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    form = hidden_fields(client.get(f"/r/{code}/delete").get_data(as_text=True))
    assert client.post(f"/r/{code}/delete", data=form).status_code == 303
    assert stored(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_the_privacy_page_says_what_is_kept_and_for_how_long(client: FlaskClient) -> None:
    page = " ".join(client.get("/privacy").get_data(as_text=True).split())
    assert "What we worked out from your answers" in page
    assert "It is deleted with your answers." in page
    assert "it is erased as soon as the report is stored" in page


def test_an_old_result_reads_back_when_a_content_id_was_retired(
    database_url: str, tmp_path: Path
) -> None:
    first = create_app(app_config(database_url))
    code = submit(first.test_client())
    first.extensions["database"].dispose()
    folder = tmp_path / "content"
    shutil.copytree(REPO / "content", folder)
    steps = folder / "steps.toml"
    text = steps.read_text(encoding="utf-8").replace('"say-what-you-need"', '"say-it-v2"')
    steps.write_text(text.replace('version = "', 'version = "9.', 1), encoding="utf-8")
    later = create_app(app_config(database_url, CONTENT_DIR=str(folder)))
    web = later.test_client()
    page = web.get(f"/r/{code}")
    assert page.status_code == 200, "read with the content it was computed with"
    assert web.get(f"/r/{code}/report.pdf").status_code == 202
    assert render_queued(later) == 1
    pdf = web.get(f"/r/{code}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    later.extensions["database"].dispose()


def statements_of_a_submission(app: Flask, client: FlaskClient) -> list[str]:
    form = start(client) | answers()
    sent: list[str] = []
    engine = app.extensions["database"].engine

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.post("/quiz/quick", data=form).status_code == 303
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return sent


def test_a_submission_reads_nothing_back_once_its_content_is_kept(
    app: Flask, client: FlaskClient
) -> None:
    submit(client)  # the first keeps the content snapshot
    submit(client)
    # the submission and its analysis (these tests queue no report): no read-back of the
    # submission, no look-up of the content snapshot; on PostgreSQL both in one statement
    postgresql = app.extensions["database"].engine.dialect.name == "postgresql"
    expected = ["WITH"] if postgresql else ["INSERT", "INSERT"]
    assert statements_of_a_submission(app, client) == expected


def test_a_snapshot_deleted_by_hand_is_kept_again(app: Flask, client: FlaskClient) -> None:
    """An operator deletes every result and then the snapshot; the next submission may be
    refused (503, its answers shown again), and the one after that is stored with its
    snapshot: nothing is lost, and nothing stays broken."""
    submit(client)
    submit(client)
    with app.app_context():
        db.session.execute(delete(Submission))
        db.session.execute(delete(ContentSnapshot))
        db.session.commit()
    sent = answers()
    response = client.post("/quiz/quick", data=start(client) | sent)
    assert response.status_code in (303, 503), response.status_code
    if response.status_code == 503:
        page = response.get_data(as_text=True)
        assert page.count("checked") == len(sent), "every answer is shown again"
        submit(client)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ContentSnapshot)) == 1
        assert db.session.scalar(select(func.count()).select_from(StoredAnalysis)) == 1
