"""The retention policy, enforced (issue 13, deliverable 1): ``quizapp purge`` is a dry run that
counts what is due per kind, ``--apply`` deletes exactly that in batches (a result with its
analysis and PDFs), and the renderer's hourly chore does the same. Rows are counted before and
after, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.sql import Executable

from quizapp.cli import cli
from quizapp.pipeline.purging import HourlyPurge
from quizapp.pipeline.renderer import Renderer
from quizapp.storage.retention import Policy
from quizapp.storage.tables import (
    AuditEntry,
    ContentSnapshot,
    Invite,
    PasswordReset,
    RenderedReport,
    SignInFailure,
    StoredAnalysis,
    Submission,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from quizapp.web.extensions import db

from ..conftest import hidden_fields, render_queued
from .journey import PASSWORD, Therapist, add_client, administer, answers_for, invite, post

ANSWERS = {f"q{i:02d}": str(1 + i % 5) for i in range(1, 13)}
KINDS = ["anonymous results (answers, analysis, PDFs)", "PDFs of an earlier report version",
         "invitations expired or withdrawn, never completed",
         "password-reset tokens used or expired", "failed sign-ins", "audit entries",
         "content snapshots no analysis uses",
         "webhook deliveries ended, with their log"]  # fmt: skip


def change(app: Flask, *statements: Executable) -> None:
    with app.app_context():
        for statement in statements:
            db.session.execute(statement)
        db.session.commit()


def rows(app: Flask, table: type, *where: object) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def anonymous_result(app: Flask, with_pdf: bool = False) -> int:
    web = app.test_client()
    fields = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))
    code = web.post("/quiz/quick", data=fields | ANSWERS).headers["Location"].removesuffix("/more")
    if with_pdf:
        assert web.get(f"{code}/report.pdf").status_code == 202
        render_queued(app)
    with app.app_context():
        return int(db.session.scalar(select(func.max(Submission.id))) or 0)


def ago(days: float) -> object:
    return utcnow() - timedelta(days=days)


def build(app: Flask, therapist: Therapist) -> dict[str, int]:
    """One or more records of each kind that is due, beside ones that are not; the counts
    the purge should find."""
    old, old_with_pdf, _fresh = (anonymous_result(app, n == 1) for n in range(3))
    stale = anonymous_result(app, with_pdf=True)  # its PDF is of an earlier report version
    client = add_client(therapist, "C-1")
    _, kept = administer(therapist, client, answers_for("quick", 3, 3))  # a client's: kept
    gone, recent, withdrawn = (invite(therapist, client) for _ in range(3))
    web = app.test_client()
    post(web, "/account/reset", {"email": therapist.email})
    post(web, "/account/sign-in", {"email": therapist.email, "password": "wrong " + PASSWORD})
    with app.app_context():  # the reset token's rows and the two failure rows, made old
        reset_ids = list(db.session.scalars(select(PasswordReset.id)))
    change(
        app,
        update(Submission).where(Submission.id.in_([old, old_with_pdf, kept]))
        .values(started_at=ago(400.01), finished_at=ago(400)),
        update(RenderedReport).where(RenderedReport.submission_id == stale)
        .values(template_version="an earlier one"),
        update(Invite).where(Invite.token_hash == _token_hash(gone)).values(expires_at=ago(40)),
        update(Invite).where(Invite.token_hash == _token_hash(recent)).values(expires_at=ago(10)),
        update(Invite).where(Invite.token_hash == _token_hash(withdrawn))
        .values(revoked_at=ago(31)),
        update(Invite).where(Invite.completed_at.is_not(None)).values(expires_at=ago(400)),
        update(PasswordReset).where(PasswordReset.id.in_(reset_ids)).values(expires_at=ago(2)),
        update(SignInFailure).values(at=ago(2)),
        update(AuditEntry).where(AuditEntry.action.like("view%")).values(at=ago(800)),
    )  # fmt: skip
    with app.app_context():  # a fresh failure (a sign-in would clear the old ones itself)
        db.session.add(SignInFailure(key_hash=b"\x01" * 32))
        db.session.add(ContentSnapshot(version="words of long ago", source={}))
        db.session.commit()
    webhook_deliveries(app)
    return {KINDS[0]: 2, KINDS[1]: 1, KINDS[2]: 2, KINDS[3]: 1, KINDS[4]: 2,
            KINDS[5]: rows(app, AuditEntry, AuditEntry.at < ago(700)), KINDS[6]: 1,
            KINDS[7]: 1}  # fmt: skip


def webhook_deliveries(app: Flask) -> None:
    """Deliveries that ended 31 days ago (due, with its log line) and 29 days ago, and one
    still pending after 40 days (kept: it is still being tried)."""
    with app.app_context():
        therapist_id = db.session.scalar(select(func.min(AuditEntry.therapist_id)))
        endpoint = WebhookEndpoint(therapist_id=therapist_id, url="https://x.example/", secret=b"-")
        db.session.add(endpoint)
        db.session.flush()
        for n, (status, days) in enumerate((("done", 31), ("failed", 29), ("pending", 40))):
            row = WebhookDelivery(endpoint_id=endpoint.id, message_id=f"msg_{n}", event="ping",
                                  status=status, attempts=1, max_attempts=1,
                                  body=b"{}" if status == "pending" else None)  # fmt: skip
            db.session.add(row)
            db.session.flush()
            db.session.add(WebhookAttempt(delivery_id=row.id, attempt=1, status_code=200))
            db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row.id)
                               .values(updated_at=ago(days)))  # fmt: skip
        db.session.commit()


def _token_hash(path: str) -> bytes:
    from quizapp.storage import receipts

    return receipts.token_digest(path.rsplit("/", 1)[1])


def snapshot(app: Flask) -> dict[str, int]:
    tables = (Submission, StoredAnalysis, RenderedReport, Invite, PasswordReset, SignInFailure,
              AuditEntry, ContentSnapshot, WebhookDelivery, WebhookAttempt)  # fmt: skip
    return {table.__name__: rows(app, table) for table in tables}


@pytest.fixture
def purge_command(app: Flask) -> Callable[..., str]:
    runner = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"]})

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["purge", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def counts_in(output: str) -> dict[str, int]:
    found = {}
    for line in output.splitlines():
        number, _, name = line.strip().partition("  ")
        if number.isdigit():
            found[name.strip()] = int(number)
    return found


def test_a_dry_run_counts_and_apply_deletes_exactly_that(
    app: Flask, therapist: Therapist, purge_command: Callable[..., str]
) -> None:
    expected = build(app, therapist)
    assert expected[KINDS[5]] > 0
    before = snapshot(app)
    dry = purge_command()
    assert "Would delete" in dry and "anonymous results 365 days" in dry
    assert counts_in(dry) == expected
    assert snapshot(app) == before  # a dry run deletes nothing
    applied = purge_command("--apply", "--batch", "1")  # one row per transaction
    assert counts_in(applied) == expected
    after = snapshot(app)
    assert after["Submission"] == before["Submission"] - 2
    assert after["StoredAnalysis"] == before["StoredAnalysis"] - 2  # with their results
    # The old result's own PDF went with it, and the stale one by itself.
    assert after["RenderedReport"] == before["RenderedReport"] - 2
    assert after["Invite"] == before["Invite"] - 2 and after["PasswordReset"] == 0
    assert after["SignInFailure"] == before["SignInFailure"] - 2
    assert after["AuditEntry"] == before["AuditEntry"] - expected[KINDS[5]]
    assert after["ContentSnapshot"] == before["ContentSnapshot"] - 1
    assert rows(app, Submission, Submission.client_id.is_not(None)) == 1  # the client's stays
    assert set(counts_in(purge_command()).values()) == {0}  # nothing left to do
    database = app.config["DATABASE_URL"]
    if database.startswith("sqlite"):  # no deleted row lingers in the write-ahead log
        wal = Path(database.removeprefix("sqlite:///") + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0


def test_the_renderer_purges_every_hour(app: Flask, therapist: Therapist) -> None:
    expected = build(app, therapist)
    database = app.extensions["database"]
    chore = HourlyPurge(app.extensions["pipeline"], database.sessions, Policy())
    renderer = Renderer(app.extensions["pipeline"], database.sessions, app.config["SECRET_KEY"],
                        chores=[chore])  # fmt: skip
    renderer.do_chores()
    assert rows(app, Submission) == 3 and rows(app, ContentSnapshot) == 1
    assert rows(app, AuditEntry, AuditEntry.at < ago(700)) == 0 < expected[KINDS[5]]
    anonymous_result(app)
    change(app, update(Submission).where(Submission.client_id.is_(None))
           .values(started_at=ago(400.01), finished_at=ago(400)))  # fmt: skip
    renderer.do_chores()  # within the hour: not again
    assert rows(app, Submission) == 4
    chore._next = 0.0  # an hour later
    renderer.do_chores()
    assert rows(app, Submission) == 1


def test_retention_periods_come_from_the_settings(tmp_path: Path) -> None:
    from quizapp.config import from_environment

    settings = from_environment({"QUIZAPP_INSTANCE_DIR": str(tmp_path),
                                 "QUIZAPP_RETENTION_DAYS": "90",
                                 "QUIZAPP_AUDIT_RETENTION_DAYS": "2190"})  # fmt: skip
    assert Policy.from_settings(settings) == Policy(results_days=90, audit_days=2190)
    assert Policy.from_settings(from_environment({})) == Policy(365, 730)


def test_the_privacy_page_states_the_periods_in_force(database_url: str) -> None:
    from quizapp.app import create_app

    from ..conftest import app_config

    app = create_app(app_config(database_url, RETENTION_DAYS=90, AUDIT_RETENTION_DAYS=2190))
    page = " ".join(app.test_client().get("/privacy").get_data(as_text=True).split())
    assert "is deleted 90 days after you finished" in page
    assert "audit log after 2190 days" in page
    app.extensions["database"].dispose()


def test_celery_beat_runs_the_purge_when_the_broker_is_set(app: Flask, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    anonymous_result(app)
    change(app, update(Submission).values(started_at=ago(400.01), finished_at=ago(400)))
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "QUIZAPP_SECRET_KEY": "k",
           "QUIZAPP_CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
           "QUIZAPP_INSTANCE_DIR": str(tmp_path)}  # fmt: skip
    code = ("import quizapp.worker as w; print(w.celery.conf.beat_schedule['retention purge']"
            "['task']); print(w.retention_purge())")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "quizapp.retention_purge"
    assert "'anonymous results (answers, analysis, PDFs)': 1" in done.stdout
    assert rows(app, Submission) == 0
