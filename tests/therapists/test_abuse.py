"""Abuse of the account and invitation routes (security review, finding 7): sign-up, sign-in,
reset requests (per address and per account: no mail bombing) and invitation answers are
limited with a clear 429 page and Retry-After. Before, 30 reset requests sent 30 e-mails and
nothing limited sign-ups or answers. (That failed passwords slow down an account only where
they came from is in test_accounts.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from quizapp.app import create_app
from quizapp.storage import receipts
from quizapp.storage.tables import Submission, Therapist
from quizapp.web.extensions import db

from ..conftest import app_config, client_at, with_limits
from .conftest import LIGHT_ARGON2
from .journey import (
    PASSWORD,
    add_client,
    answers_for,
    consent,
    csrf,
    invite,
    post,
    sign_up_with_two_factor,
)
from .journey import Therapist as Person

ATTACKER = "198.51.100.7"


def limited_app(database_url: str, outbox: Path | None = None, **limits: str) -> Flask:
    extra = {"MAIL_OUTBOX": str(outbox)} if outbox else {}
    settings = app_config(database_url, ARGON2=LIGHT_ARGON2, **extra,
                          RATE_LIMITS=with_limits(**limits))  # fmt: skip
    return create_app(settings)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = limited_app(database_url, tmp_path / "outbox")
    yield app
    app.extensions["database"].dispose()


at = client_at


def count(app: Flask, table: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(table)) or 0


def mails(app: Flask) -> int:
    return len(list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml")))


def assert_429(response: object, text: str) -> None:
    assert getattr(response, "status_code", None) == 429
    assert int(response.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]
    assert text in response.get_data(as_text=True)  # type: ignore[attr-defined]


def ask_reset(web: FlaskClient, email: str) -> object:
    return post(web, "/account/reset", {"email": email})


def test_a_flood_of_resets_for_one_account_sends_three_mails(app: Flask) -> None:
    sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")
    for n in range(3):  # three addresses, three e-mails
        assert ask_reset(at(app, f"198.51.100.{n + 1}"), "ana@example.org").status_code == 303
    flooded = ask_reset(at(app, "203.0.113.50"), "ANA@example.org ")  # however it is typed
    assert_429(flooded, "Reset links for that address were asked for several times")
    assert mails(app) == 3
    for n in range(3):  # an address without an account is answered the same way
        ask_reset(at(app, f"198.51.100.{n + 1}"), "nobody@example.org")
    assert_429(ask_reset(at(app, "203.0.113.50"), "nobody@example.org"), "Reset links")


def test_one_address_cannot_ask_for_resets_for_everyone(app: Flask) -> None:
    attacker = at(app, ATTACKER)
    for n in range(5):
        assert ask_reset(attacker, f"person{n}@example.org").status_code == 303
    assert_429(ask_reset(attacker, "person9@example.org"), "too many requests from your network")


def test_sign_ups_from_one_address_are_limited(app: Flask) -> None:
    attacker = at(app, ATTACKER)
    for n in range(5):
        data = {"display_name": f"T{n}", "email": f"t{n}@example.org", "password": PASSWORD,
                "confirm": PASSWORD}  # fmt: skip
        assert post(attacker, "/account/sign-up", data).status_code == 303
        attacker = at(app, ATTACKER)  # a new browser each time, signed out
    data = {"display_name": "T9", "email": "t9@example.org", "password": PASSWORD,
            "confirm": PASSWORD}  # fmt: skip
    assert_429(post(attacker, "/account/sign-up", data), "nothing was stored")
    assert count(app, Therapist) == 5


def test_sign_in_attempts_are_limited_before_any_password_is_hashed(database_url: str) -> None:
    app = limited_app(database_url, sign_in="3/minute")
    attacker = at(app, ATTACKER)
    for n in range(3):
        data = {"email": f"guess{n}@example.org", "password": "wrong wrong wrong"}
        assert post(attacker, "/account/sign-in", data).status_code == 422
    data = {"email": "guess9@example.org", "password": "wrong wrong wrong"}
    assert_429(post(attacker, "/account/sign-in", data), "too many requests from your network")
    app.extensions["database"].dispose()


def test_invitation_answers_count_as_submissions(database_url: str) -> None:
    app = limited_app(database_url, submit="1/minute")
    therapist: Person = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana")
    paths = [invite(therapist, add_client(therapist, f"C-{n}")) for n in range(2)]
    client = at(app, ATTACKER)
    data = {key: str(value) for key, value in answers_for("quick", 3, 3).items()}
    for n, path in enumerate(paths):
        assert consent(client, path).status_code == 303
        response = post(client, f"{path}/answers", data)
        assert response.status_code == (303 if n == 0 else 429)
    assert count(app, Submission) == 1
    app.extensions["database"].dispose()


def test_wrong_receipt_codes_typed_into_sharing_count_as_guesses(database_url: str) -> None:
    app = limited_app(database_url, lookup_miss="2/minute")
    therapist = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana")
    path = invite(therapist, add_client(therapist, "C-1"))
    client = at(app, ATTACKER)
    fields = csrf(client, path)
    for _ in range(2):
        data = fields | {"agree": "y", "receipt": receipts.new_code()}
        assert client.post(f"{path}/share", data=data).status_code == 303
    data = fields | {"agree": "y", "receipt": receipts.new_code()}
    assert client.post(f"{path}/share", data=data).status_code == 429
    assert client.get(path).status_code == 429  # the invitation page waits too
    app.extensions["database"].dispose()
