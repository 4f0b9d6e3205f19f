"""An operator's commands for therapist accounts (issue 13, deliverable 2): list, reset a lost
second factor, disable, enable and delete, each confirmed (or --yes) and audited, each ending
the account's sessions where it should; deleting an account deletes its clients' data."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from quizapp.cli import cli
from quizapp.storage.tables import AuditEntry, Client, Invite, RecoveryCode, Submission, Therapist
from quizapp.web.extensions import db

from .journey import PASSWORD, add_client, administer, answers_for, post
from .journey import Therapist as Person

Invoke = Callable[..., Result]


@pytest.fixture
def run(app: Flask) -> Iterator[Invoke]:
    runner = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"],
                            "QUIZAPP_SECRET_KEY": "not used"})  # fmt: skip

    def invoke(*args: str, answer: str | None = None) -> Result:
        return runner.invoke(cli, ["therapist", *args], input=answer)

    yield invoke
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == "quizapp"]:  # the command's own
        root.removeHandler(handler)


def count(app: Flask, table: type, *where: object) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def account(app: Flask, email: str) -> Therapist:
    with app.app_context():
        found = db.session.scalars(select(Therapist).where(Therapist.email == email)).one()
        db.session.expunge(found)
        return found


def actions(app: Flask, therapist_id: int) -> list[str]:
    with app.app_context():
        chosen = select(AuditEntry.action).where(AuditEntry.therapist_id == therapist_id)
        return list(db.session.scalars(chosen.order_by(AuditEntry.id)))


def sign_in(app: Flask, email: str) -> TestResponse:
    return post(app.test_client(), "/account/sign-in", {"email": email, "password": PASSWORD})


def test_list_shows_each_account_and_no_secret(app: Flask, therapist: Person, run: Invoke) -> None:
    add_client(therapist, "C-1")
    result = run("list")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if therapist.email in line]
    assert "Dr Ana Ruiz" in line and " on " in line and "active" in line and " 1 " in line
    assert "argon2" not in result.output


def test_reset_2fa_asks_then_ends_every_session(app: Flask, therapist: Person, run: Invoke) -> None:
    assert run("reset-2fa", therapist.email, answer="n\n").exit_code == 1
    assert account(app, therapist.email).totp_secret is not None  # nothing changed
    result = run("reset-2fa", therapist.email, answer="y\n")
    assert result.exit_code == 0, result.output
    found = account(app, therapist.email)
    assert found.totp_secret is None and count(app, RecoveryCode) == 0
    assert therapist.web.get("/therapist/").status_code == 302  # the old session is over
    assert actions(app, found.id)[-1] == "operator reset two-factor sign-in"
    response = sign_in(app, therapist.email)  # the password alone, then set it up again
    assert response.headers["Location"].endswith("/therapist/")


def test_disable_stops_sign_in_and_resets_until_enabled(
    app: Flask, therapist: Person, run: Invoke
) -> None:
    assert run("disable", therapist.email, "--yes").exit_code == 0
    assert therapist.web.get("/therapist/").status_code == 302
    refused = sign_in(app, therapist.email)
    assert refused.status_code == 403
    assert "has been disabled" in refused.get_data(as_text=True)
    post(app.test_client(), "/account/reset", {"email": therapist.email})
    assert not list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))  # no reset e-mail
    assert "disabled already" in run("disable", therapist.email, "--yes").output
    assert run("enable", therapist.email, "--yes").exit_code == 0
    assert sign_in(app, therapist.email).status_code == 303
    found = account(app, therapist.email)
    assert actions(app, found.id)[-2:] == ["operator disabled the account",
                                           "operator enabled the account"]  # fmt: skip


def test_delete_takes_every_client_s_data_and_leaves_others(
    app: Flask, therapist: Person, other: Person, run: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    answers = answers_for("quick", 3, 2)
    administer(therapist, add_client(therapist, "C-gone"), answers)
    administer(other, add_client(other, "C-kept"), answers)
    gone = account(app, therapist.email).id
    with caplog.at_level(logging.WARNING, logger="quizapp.admin"):
        result = run("delete", therapist.email, answer="y\n")
    assert result.exit_code == 0, result.output
    assert "data of 1 client." in result.output
    assert count(app, Therapist) == 1 and count(app, Client) == 1
    assert count(app, Submission) == 1 and count(app, Invite) == 1
    assert count(app, AuditEntry, AuditEntry.therapist_id == gone) == 0
    assert [r.getMessage() for r in caplog.records] == [
        f"operator deleted therapist account {gone} with 1 clients"]  # fmt: skip
    assert therapist.web.get("/therapist/").status_code == 302


def test_an_unknown_address_is_a_clear_error(app: Flask, run: Invoke) -> None:
    result = run("disable", "nobody@example.org", "--yes")
    assert result.exit_code == 1 and "no therapist account uses" in result.output
