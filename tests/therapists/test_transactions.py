"""Transactions you can see: domain operations add and flush, the request commits once, and an
audit line is saved with the change it records or not at all.

Each web test breaks the request after its change (and audit line) were made but before the
response was ready; the change must be gone with its audit line, and the page a plain 500.
The domain tests call each operation and roll back: nothing may be left, so no operation
commits behind its caller's back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quizapp.storage import submissions
from quizapp.storage.tables import (
    AuditEntry,
    Client,
    Invite,
    PasswordReset,
    RecoveryCode,
    SignInFailure,
    Submission,
    Therapist,
)
from quizapp.therapists import accounts, audit, clients, exports, invites, two_factor
from quizapp.web.extensions import db

from .journey import Therapist as Person
from .journey import add_client, administer, answers_for, post


def count(app: Flask, table: Any, *where: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def audited(app: Flask, action: str) -> int:
    return count(app, AuditEntry, AuditEntry.action == action)


class Boom(RuntimeError):
    """A failure injected after the change, before the response."""


def fail(*_args: object, **_kwargs: object) -> Any:
    raise Boom("injected")


@pytest.fixture
def breakable(app: Flask) -> Flask:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure becomes the 500 page, as in production
    return app


def audit_then_fail(module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``module``'s audit write its line (after the change) and then fail."""
    real = module.audit

    def audit_and_break(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise Boom("injected after the change and its audit line")

    monkeypatch.setattr(module, "audit", audit_and_break)


INVITE = {"instrument": "quick", "client_sees": "results", "days": "14"}


def test_a_failure_after_creating_an_invite_leaves_neither_it_nor_its_audit_line(
    breakable: Flask, therapist: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = add_client(therapist, "C-101")
    page, path = f"/therapist/clients/{client_id}", f"/therapist/clients/{client_id}/invites"
    audit_then_fail(invites, monkeypatch)
    assert post(therapist.web, path, INVITE, form_at=page).status_code == 500
    assert count(breakable, Invite) == 0
    assert audited(breakable, "create invite") == 0
    monkeypatch.undo()
    assert post(therapist.web, path, INVITE, form_at=page).status_code == 201  # it does work
    assert (count(breakable, Invite), audited(breakable, "create invite")) == (1, 1)


def test_an_invite_whose_link_page_fails_is_not_kept(
    breakable: Flask, therapist: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quizapp.web import therapist as views

    client_id = add_client(therapist, "C-102")
    real = views.render_template

    def render(template: str, **context: Any) -> str:
        if template == "therapist/invite_link.html":
            raise Boom("the page showing the link, once, failed")
        return real(template, **context)

    monkeypatch.setattr(views, "render_template", render)
    response = post(therapist.web, f"/therapist/clients/{client_id}/invites", INVITE,
                    form_at=f"/therapist/clients/{client_id}")  # fmt: skip
    assert response.status_code == 500
    assert count(breakable, Invite) == 0, "nobody saw its link: it must not exist"
    assert audited(breakable, "create invite") == 0


def test_a_failure_after_deleting_a_client_keeps_the_client_and_logs_nothing(
    breakable: Flask, therapist: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = add_client(therapist, "C-103")
    audit_then_fail(clients, monkeypatch)
    response = post(therapist.web, f"/therapist/clients/{client_id}/delete",
                    {"confirm": "C-103"}, form_at=f"/therapist/clients/{client_id}")  # fmt: skip
    assert response.status_code == 500
    assert count(breakable, Client, Client.id == client_id) == 1
    assert audited(breakable, "delete client and all their data") == 0


def test_an_export_that_fails_is_not_logged_as_sent(
    breakable: Flask, therapist: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = add_client(therapist, "C-104")
    administer(therapist, client_id, answers_for("quick", 3, 3))
    monkeypatch.setattr(exports, "scores_csv", fail)
    assert therapist.web.get(f"/therapist/clients/{client_id}/export.csv").status_code == 500
    assert therapist.web.get("/therapist/export.csv").status_code == 500
    assert audited(breakable, "export CSV") == 0
    monkeypatch.undo()
    assert therapist.web.get(f"/therapist/clients/{client_id}/export.csv").status_code == 200
    assert audited(breakable, "export CSV") == 1


def test_a_failing_audit_line_takes_the_change_with_it(
    breakable: Flask, therapist: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "audit", fail)
    response = post(therapist.web, "/therapist/clients/new", {"label": "C-105", "note": ""})
    assert response.status_code == 500
    assert count(breakable, Client) == 0


# ---- no operation commits for its caller ------------------------------------------------


def _account(session: Session) -> Therapist:
    found = session.scalars(select(Therapist)).first()
    assert found is not None
    return found


def _client(session: Session) -> Client:
    found = session.scalars(select(Client)).first()
    assert found is not None
    return found


OPERATIONS: dict[str, Callable[[Session, Any], object]] = {
    "create a therapist": lambda s, ph: accounts.create_therapist(
        s, ph, email="new@example.org", display_name="New", password="x" * 12),
    "record a failed sign-in": lambda s, ph: accounts.authenticate(
        s, ph, email="ana@example.org", password="wrong", address="10.0.0.1", secret="k"),
    "start a password reset": lambda s, ph: accounts.start_reset(s, "ana@example.org"),
    "set a password": lambda s, ph: accounts.set_password(s, ph, _account(s), "y" * 12),
    "new recovery codes": lambda s, ph: two_factor.new_recovery_codes(s, _account(s)),
    "turn two-factor off": lambda s, ph: two_factor.disable_totp(s, _account(s)),
    "create a client": lambda s, ph: clients.create_client(s, _account(s).id, "C-9", None),
    "delete a client": lambda s, ph: clients.delete_client(s, _account(s).id, _client(s).id),
    "create an invite": lambda s, ph: invites.create_invite(s, _client(s), "quick", "results", 7),
    "audit a view": lambda s, ph: audit.audit(s, _account(s).id, "view client"),
    "store a submission": lambda s, ph: submissions.store_submission(
        s, _bank(s)["quick"], answers_for_bank(s), started_at=datetime.now(UTC), nonce="n" * 32),
}  # fmt: skip

TABLES = (Therapist, RecoveryCode, SignInFailure, PasswordReset, Client, Invite, AuditEntry,
          Submission)  # fmt: skip


def _bank(_session: Session) -> Any:
    from flask import current_app

    return current_app.extensions["pipeline"].bank


def answers_for_bank(session: Session) -> dict[str, int]:
    return {item_id: 3 for item_id in _bank(session)["quick"].item_ids}


def snapshot(session: Session) -> dict[str, object]:
    """Every row of the tables the operations touch, as plain tuples."""
    found: dict[str, object] = {}
    for table in TABLES:
        rows = session.execute(select(table.__table__)).all()
        found[table.__tablename__] = sorted(repr(tuple(row)) for row in rows)
    return found


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_operation_rolled_back_leaves_nothing(
    app: Flask, therapist: Person, operation: str
) -> None:
    add_client(therapist, "C-1")
    with app.test_request_context(method="POST"):  # where operations run: in one transaction
        before = snapshot(db.session)
        ph = app.extensions["password_hasher"]
        OPERATIONS[operation](db.session, ph)
        db.session.rollback()
        db.session.expire_all()
        assert snapshot(db.session) == before
