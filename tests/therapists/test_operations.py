"""An operator's chores (issue 13, deliverable 5): rotating the secret key without locking
anyone out (``QUIZAPP_SECRET_KEY_FALLBACKS`` and ``quizapp keys reseal``), and ``quizapp db
backup`` while the service runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from quizapp.app import create_app
from quizapp.cli import cli
from quizapp.pipeline.jobs import open_pdf, open_receipt
from quizapp.storage.tables import RenderedReport, Therapist
from quizapp.therapists.two_factor import unseal_totp
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields, render_queued
from .conftest import LIGHT_ARGON2
from .journey import PASSWORD, add_client, administer, answers_for, post, sign_up_with_two_factor
from .journey import Therapist as Person

OLD, NEW = "test-secret", "a new secret key, long and random"


def app_with(app: Flask, **settings: object) -> Flask:
    """A second app on the same database: the service restarted with other settings."""
    return create_app(app_config(app.config["DATABASE_URL"], ARGON2=LIGHT_ARGON2,
                                 MAIL_OUTBOX=app.config["MAIL_OUTBOX"], **settings))  # fmt: skip


def sealed_rows(app: Flask) -> list[RenderedReport]:
    with app.app_context():
        rows = list(db.session.scalars(select(RenderedReport).order_by(RenderedReport.id)))
        db.session.expunge_all()
        return rows


def totp_blobs(app: Flask) -> dict[str, bytes]:
    with app.app_context():
        return {t.email: t.totp_secret for t in db.session.scalars(select(Therapist))}


def keys_command(app: Flask, **env: str) -> Callable[..., Result]:
    runner = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"], **env})
    return lambda *args: runner.invoke(cli, ["keys", *args])


def test_a_new_secret_key_locks_nobody_out_and_reseal_finishes_the_move(
    app: Flask, therapist: Person, other: Person
) -> None:
    client = add_client(therapist, "C-1")
    _, result_id = administer(therapist, client, answers_for("quick", 3, 2))
    path = f"/therapist/clients/{client}/results/{result_id}/report.pdf"
    assert therapist.web.get(path).status_code == 202
    render_queued(app)  # a therapist report, sealed with the old key
    visitor = app.test_client()
    fields = hidden_fields(visitor.get("/quiz/quick").get_data(as_text=True))
    code = visitor.post("/quiz/quick", data=fields | {f"q{i:02d}": "3" for i in range(1, 13)})
    result = code.headers["Location"].removesuffix("/more")  # the check is offered, and waits
    assert visitor.get(f"{result}/report.pdf").status_code == 202  # queued
    # Restarted with a new key and the old one as a fallback: the same session goes on...
    rotated = app_with(app, SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD])
    web = rotated.test_client()
    web.set_cookie("sb_session", therapist.web.get_cookie("sb_session").value)  # type: ignore[union-attr]
    assert web.get("/therapist/").status_code == 200
    without = app_with(app, SECRET_KEY=NEW).test_client()  # (without the fallback it would not)
    without.set_cookie("sb_session", therapist.web.get_cookie("sb_session").value)  # type: ignore[union-attr]
    assert without.get("/therapist/").status_code == 302
    # ...and a sign-in with the authenticator still works, sealing that secret anew.
    signing_in = rotated.test_client()
    post(signing_in, "/account/sign-in", {"email": therapist.email, "password": PASSWORD})
    done = post(signing_in, "/account/two-factor", {"code": therapist.code()},
                form_at="/account/sign-in")  # fmt: skip
    assert done.headers["Location"].endswith("/therapist/")
    blobs = totp_blobs(app)
    assert unseal_totp(NEW, blobs[therapist.email]) == therapist.totp.secret
    # The command seals the rest: the other therapist's secret, the job, the therapist PDF.
    result = keys_command(app, QUIZAPP_SECRET_KEY=NEW, QUIZAPP_SECRET_KEY_FALLBACKS=OLD)("reseal")
    assert result.exit_code == 0, result.output
    assert "two-factor secrets: 1 sealed again" in result.output
    assert "render jobs and therapist reports: 2 sealed again" in result.output
    assert unseal_totp(NEW, totp_blobs(app)[other.email]) == other.totp.secret
    [therapist_pdf] = [r for r in sealed_rows(app) if r.kind == "therapist"]
    assert open_pdf(NEW, None, therapist_pdf.pdf or b"").startswith(b"%PDF")
    [job] = [r for r in sealed_rows(app) if r.job_key is not None]
    assert len(open_receipt(NEW, job.job_key or b"")) == 28
    again = keys_command(app, QUIZAPP_SECRET_KEY=NEW, QUIZAPP_SECRET_KEY_FALLBACKS=OLD)("reseal")
    assert "two-factor secrets: 0 sealed again" in again.output  # nothing left to move
    for extension in (rotated, app_with(app, SECRET_KEY=NEW)):
        extension.extensions["database"].dispose()


def test_reseal_says_when_a_key_is_missing(app: Flask, therapist: Person) -> None:
    run = keys_command(app, QUIZAPP_SECRET_KEY=NEW)
    assert "QUIZAPP_SECRET_KEY_FALLBACKS" in run("reseal").output
    wrong = keys_command(app, QUIZAPP_SECRET_KEY=NEW, QUIZAPP_SECRET_KEY_FALLBACKS="not it")
    result = wrong("reseal")
    assert result.exit_code == 1 and "1 opened with none" in result.output


# ---- Backups ----------------------------------------------------------------------------------


def backup(app: Flask, path: Path, *args: str) -> Result:
    runner = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"]})
    return runner.invoke(cli, ["db", "backup", str(path), *args])


def test_a_backup_is_a_consistent_private_copy(app: Flask, tmp_path: Path) -> None:
    sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana")
    target = tmp_path / "backup.db"
    result = backup(app, target)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert backup(app, target).exit_code == 1  # never over an earlier backup by mistake
    assert backup(app, target, "--force").exit_code == 0
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            emails = copy.execute("SELECT email FROM therapists").fetchall()
        assert emails == [("ana@example.org",)]
    else:
        listing = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
        assert "TABLE DATA public therapists" in listing
        assert "TABLE DATA public submissions" in listing


def test_a_backup_of_nothing_is_a_clear_error(tmp_path: Path) -> None:
    runner = CliRunner(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"})
    result = runner.invoke(cli, ["db", "backup", str(tmp_path / "copy.db")])
    assert result.exit_code == 1 and "no database at" in result.output
    assert not (tmp_path / "copy.db").exists()


@pytest.fixture(autouse=True)
def _no_pgpassword_leak() -> None:
    assert "PGPASSWORD" not in os.environ
