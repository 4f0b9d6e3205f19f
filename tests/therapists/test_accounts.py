"""Therapist accounts through the real routes (CSRF on, SQLite and PostgreSQL): sign-up,
two-factor set-up and sign-in, throttling, idle sign-out, password reset by e-mail (outbox and
a real SMTP server), the session cookie, and recovery codes."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from quizapp.app import create_app
from quizapp.storage.tables import PasswordReset, RecoveryCode, SignInFailure, Therapist, utcnow
from quizapp.therapists import two_factor
from quizapp.web.auth import PENDING_SECONDS
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields
from .conftest import LIGHT_ARGON2
from .journey import PASSWORD, add_client, answer, answers_for, consent, invite, post
from .journey import Therapist as Person

NEW_PASSWORD = "another rather long passphrase"
WRONG = "The e-mail address or the password is wrong."
THROTTLED = "Too many failed attempts"


# ---- Helpers -------------------------------------------------------------------------------


def path_of(response: TestResponse) -> str:
    """Where a redirect goes (without the query string), or "" for no redirect."""
    return urlsplit(response.headers.get("Location", "")).path


def notice(web: FlaskClient, response: TestResponse) -> str:
    """The flashed message shown on the page a redirect leads to."""
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    found = re.search(r'<div class="notice" role="alert">(.*?)</div>', page, re.S)
    return found.group(1) if found else ""


def errors(response: TestResponse) -> list[str]:
    return re.findall(r'<p class="error"[^>]*>([^<]*)</p>', response.get_data(as_text=True))


def reaches_dashboard(web: FlaskClient) -> bool:
    response = web.get("/therapist/")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def sign_up(
    web: FlaskClient, email_: str, password: str = PASSWORD, confirm: str = ""
) -> TestResponse:
    data = {"display_name": "Carla Diaz", "email": email_, "password": password,
            "confirm": confirm or password}  # fmt: skip
    return post(web, "/account/sign-up", data)


def sign_in(web: FlaskClient, email_: str, password: str = PASSWORD) -> TestResponse:
    return post(web, "/account/sign-in", {"email": email_, "password": password})


def second_step(web: FlaskClient, code: str) -> TestResponse:
    # The CSRF token is the session's, so any form gives it; /account/sign-in never redirects.
    return post(web, "/account/two-factor", {"code": code}, form_at="/account/sign-in")


def full_sign_in(app: Flask, person: Person, code: str) -> tuple[FlaskClient, TestResponse]:
    web = app.test_client()
    response = sign_in(web, person.email)
    assert path_of(response) == "/account/two-factor", response.status_code
    return web, second_step(web, code)


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits valid for none of the steps the server accepts now."""
    now = time.time()
    valid = {totp.at(now + drift * 30) for drift in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def query(app: Flask, statement: Any) -> list[Any]:
    with app.app_context():
        return list(db.session.scalars(statement))


def change(app: Flask, statement: Any) -> None:
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def account(app: Flask, email_: str) -> Therapist:
    return query(app, select(Therapist).where(Therapist.email == email_))[0]


def count(app: Flask, model: Any, *where: Any) -> int:
    return int(query(app, select(func.count()).select_from(model).where(*where))[0])


def codes_left(app: Flask) -> int:
    """Unused recovery codes (of the one therapist with two-factor on in these tests)."""
    return count(app, RecoveryCode, RecoveryCode.used_at.is_(None))


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def outbox(app: Flask) -> list[EmailMessage]:
    return [parse(p.read_bytes()) for p in sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))]


def reset_link(body: str) -> str:
    found = re.search(r"https?://[^/\s]+(/account/reset/[A-Za-z0-9_-]+)\s", body)
    assert found, body
    return found.group(1)


def request_reset(web: FlaskClient, email_: str) -> TestResponse:
    response = post(web, "/account/reset", {"email": email_})
    assert path_of(response) == "/account/sign-in", response.status_code
    return response


# ---- 1. Sign-up ----------------------------------------------------------------------------


def test_sign_up_stores_argon2id_hash_and_lowercase_email(app: Flask) -> None:
    assert sign_up(app.test_client(), "Carla.Diaz@Example.ORG").status_code == 303
    row = account(app, "carla.diaz@example.org")
    assert row.password_hash.startswith("$argon2id$")
    for column in Therapist.__table__.columns:
        value = getattr(row, column.key)
        assert PASSWORD not in (value.decode("latin-1") if isinstance(value, bytes) else str(value))


@pytest.mark.parametrize(
    ("email_", "password", "confirm", "message"),
    [
        ("carla@example.org", "too short", "", "Use 12 to 256 characters"),
        ("carla@example.org", PASSWORD, PASSWORD + "!", "The two passwords differ."),
        ("carla.example.org", PASSWORD, "", "This is not an e-mail address."),
        ("ANA@Example.org", PASSWORD, "", "An account with this address exists"),
    ],
    ids=["short-password", "mismatch", "invalid-email", "duplicate-email"],
)
def test_sign_up_rejects_bad_input(
    app: Flask, email_: str, password: str, confirm: str, message: str
) -> None:
    assert sign_up(app.test_client(), "ana@example.org").status_code == 303
    response = sign_up(app.test_client(), email_, password, confirm)
    assert response.status_code == 422
    assert any(message in e for e in errors(response)), errors(response)
    assert count(app, Therapist) == 1


# ---- 2. Two-factor set-up ------------------------------------------------------------------


def test_two_factor_setup_required_and_page_is_csp_clean(app: Flask, client: FlaskClient) -> None:
    sign_up(client, "carla@example.org")
    assert path_of(client.get("/therapist/")) == "/account/two-factor/setup"
    response = client.get("/account/two-factor/setup")
    page = response.get_data(as_text=True)
    assert "<svg" in page and "<script" not in page and "style=" not in page
    secret = re.search(r'class="secret">([A-Z2-7]{32})<', page)
    assert secret is not None
    sealed = base64.urlsafe_b64decode(hidden_fields(page)["pending"])
    assert two_factor.unseal_totp(app.config["SECRET_KEY"], sealed) == secret.group(1)


def setup_page(web: FlaskClient) -> tuple[dict[str, str], pyotp.TOTP]:
    """The hidden fields of the two-factor set-up form and the TOTP of the key it shows."""
    page = web.get("/account/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page)
    assert secret is not None
    return hidden_fields(page), pyotp.TOTP(secret.group(1))


def test_two_factor_setup_wrong_code_leaves_it_off(app: Flask, client: FlaskClient) -> None:
    sign_up(client, "carla@example.org")
    fields, totp = setup_page(client)
    response = client.post("/account/two-factor/setup", data={**fields, "code": wrong_code(totp)})
    assert response.status_code == 422
    assert any("did not match" in e for e in errors(response))
    assert account(app, "carla@example.org").totp_secret is None
    assert path_of(client.get("/therapist/")) == "/account/two-factor/setup"


@pytest.mark.parametrize("damage", ["forged", "flipped", "not-base64"])
def test_two_factor_setup_damaged_pending_is_400(
    app: Flask, client: FlaskClient, damage: str
) -> None:
    sign_up(client, "carla@example.org")
    fields, totp = setup_page(client)
    pending = fields["pending"]
    forged = base64.urlsafe_b64encode(two_factor.seal_totp("another key", totp.secret))
    fields["pending"] = {
        "forged": forged.decode(),
        "flipped": pending[:20] + ("A" if pending[20] != "A" else "B") + pending[21:],
        "not-base64": "!!not base64!!",
    }[damage]
    response = client.post("/account/two-factor/setup", data={**fields, "code": totp.now()})
    assert response.status_code == 400
    assert account(app, "carla@example.org").totp_secret is None


# ---- 3. Sign-in with two factors -----------------------------------------------------------


def test_sign_in_with_totp_and_no_replay(app: Flask, therapist: Person) -> None:
    code = therapist.code()
    web, response = full_sign_in(app, therapist, code)
    assert path_of(response) == "/therapist/" and reaches_dashboard(web)
    again, response = full_sign_in(app, therapist, code)
    assert path_of(response) == "/account/sign-in"
    assert "did not work" in notice(again, response) and not reaches_dashboard(again)


def test_recovery_code_works_exactly_once(app: Flask, therapist: Person) -> None:
    code = therapist.recovery_codes[0]
    web, response = full_sign_in(app, therapist, code)
    assert path_of(response) == "/therapist/" and reaches_dashboard(web)
    assert codes_left(app) == 9
    again, response = full_sign_in(app, therapist, code)
    assert path_of(response) == "/account/sign-in" and not reaches_dashboard(again)


def test_wrong_code_means_starting_again(app: Flask, therapist: Person) -> None:
    web, response = full_sign_in(app, therapist, wrong_code(therapist.totp))
    assert path_of(response) == "/account/sign-in" and not reaches_dashboard(web)
    assert path_of(web.get("/account/two-factor")) == "/account/sign-in"  # no second guess
    assert count(app, SignInFailure) == 2  # one for the account, one for the address


def test_pending_second_step_expires(app: Flask, therapist: Person) -> None:
    web = app.test_client()
    sign_in(web, therapist.email)
    with web.session_transaction() as session:
        session["pending"] = {**session["pending"],
                              "at": session["pending"]["at"] - PENDING_SECONDS - 1}  # fmt: skip
    response = second_step(web, therapist.recovery_codes[0])
    assert path_of(response) == "/account/sign-in" and not reaches_dashboard(web)
    assert codes_left(app) == 10  # the code was not even looked at


# ---- 4. Throttling -------------------------------------------------------------------------


def client_at(app: Flask, address: str) -> FlaskClient:
    web = app.test_client()
    web.environ_base["REMOTE_ADDR"] = address
    return web


def test_wrong_password_and_unknown_email_look_the_same(app: Flask, therapist: Person) -> None:
    wrong = sign_in(app.test_client(), therapist.email, "not the password at all")
    unknown = sign_in(app.test_client(), "nobody@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 422
    assert errors(wrong) == errors(unknown) == [WRONG]


def test_five_failures_slow_the_account_only_where_they_came_from(
    app: Flask, therapist: Person, other: Person
) -> None:
    # Issue 12, finding 7: five wrong passwords from anyone used to lock the owner out too.
    attacker = client_at(app, "198.51.100.7")
    for _ in range(5):
        assert sign_in(attacker, therapist.email, "wrong wrong wrong").status_code == 422
    response = sign_in(attacker, therapist.email)  # the right password, from that address
    assert response.status_code == 429 and THROTTLED in response.get_data(as_text=True)
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    owner = sign_in(client_at(app, "203.0.113.9"), therapist.email)  # the owner, elsewhere
    assert path_of(owner) == "/account/two-factor"
    assert path_of(sign_in(attacker, other.email)) == "/account/two-factor"


def test_twenty_failures_block_the_address(app: Flask, therapist: Person) -> None:
    attacker = client_at(app, "198.51.100.7")
    for n in range(20):
        assert sign_in(attacker, f"guess{n}@example.org", "wrong wrong wrong").status_code == 422
    response = sign_in(attacker, therapist.email)
    assert response.status_code == 429 and THROTTLED in response.get_data(as_text=True)
    elsewhere = sign_in(client_at(app, "203.0.113.9"), therapist.email)
    assert path_of(elsewhere) == "/account/two-factor"


def test_throttle_lifts_after_the_window(app: Flask, therapist: Person) -> None:
    for _ in range(5):
        sign_in(app.test_client(), therapist.email, "wrong wrong wrong")
    assert sign_in(app.test_client(), therapist.email).status_code == 429
    window = app.config["SIGN_IN_THROTTLE"].window
    change(app, update(SignInFailure).values(at=utcnow() - window - timedelta(seconds=5)))
    assert path_of(sign_in(app.test_client(), therapist.email)) == "/account/two-factor"
    assert count(app, SignInFailure) == 0  # old failures are deleted


def test_wrong_second_factors_count_as_failures(app: Flask, therapist: Person) -> None:
    for _ in range(5):
        _, response = full_sign_in(app, therapist, wrong_code(therapist.totp))
        assert path_of(response) == "/account/sign-in"
    assert sign_in(app.test_client(), therapist.email).status_code == 429


# ---- 5. Idle sign-out ----------------------------------------------------------------------


def test_idle_sign_out_only_after_the_limit(app: Flask, therapist: Person) -> None:
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    with therapist.web.session_transaction() as session:
        session["seen"] = old = time.time() - idle + 60
    assert reaches_dashboard(therapist.web)  # active: the clock restarts on each request
    with therapist.web.session_transaction() as session:
        assert session["seen"] > old + 30
        session["seen"] = time.time() - idle - 5
    response = therapist.web.get("/therapist/")
    assert path_of(response) == "/account/sign-in"
    assert "without activity" in notice(therapist.web, response)
    assert not reaches_dashboard(therapist.web)


# ---- 6. Password reset ---------------------------------------------------------------------


def test_reset_request_does_not_reveal_accounts(app: Flask, therapist: Person) -> None:
    web = app.test_client()
    known = notice(web, request_reset(web, therapist.email.upper()))
    unknown = notice(web, request_reset(web, "nobody@example.org"))
    assert known == unknown and "If an account uses that address" in known
    [message] = outbox(app)
    assert message["To"] == therapist.email
    assert reset_link(message.get_content()).startswith("/account/reset/")


def test_reset_token_works_once_and_signs_out_everywhere(app: Flask, therapist: Person) -> None:
    web = app.test_client()
    request_reset(web, therapist.email)
    request_reset(web, therapist.email)
    first, second = (reset_link(m.get_content()) for m in outbox(app))
    assert web.get(first).status_code == 200
    new = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert path_of(post(web, first, new)) == "/account/sign-in"
    assert web.get(first).status_code == 404
    assert post(web, first, new, form_at="/account/sign-in").status_code == 404
    assert web.get(second).status_code == 404  # every open token of the account is used up
    assert not reaches_dashboard(therapist.web)
    assert sign_in(app.test_client(), therapist.email).status_code == 422
    assert path_of(sign_in(app.test_client(), therapist.email, NEW_PASSWORD)) == (
        "/account/two-factor"
    )


def test_expired_reset_token_is_404(app: Flask, therapist: Person) -> None:
    web = app.test_client()
    request_reset(web, therapist.email)
    [message] = outbox(app)
    link = reset_link(message.get_content())
    change(app, update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert web.get(link).status_code == 404
    assert sign_in(app.test_client(), therapist.email, NEW_PASSWORD).status_code == 422


def test_reset_token_stored_only_as_sha256(app: Flask, therapist: Person) -> None:
    request_reset(app.test_client(), therapist.email)
    [message] = outbox(app)
    token = reset_link(message.get_content()).rsplit("/", 1)[1]
    [row] = query(app, select(PasswordReset))
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    stored = " ".join(repr(getattr(row, c.key)) for c in PasswordReset.__table__.columns)
    assert token not in stored and token.encode() not in row.token_hash


# ---- 7. A real SMTP server -----------------------------------------------------------------


class Collect:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Collect, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_reset_mail_goes_through_smtp(
    database_url: str, tmp_path: Path, smtp: tuple[Collect, int]
) -> None:
    handler, port = smtp
    app = create_app(app_config(
        database_url, ARGON2=LIGHT_ARGON2, MAIL_OUTBOX=str(tmp_path / "outbox"),
        MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port, MAIL_SMTP_STARTTLS=False))  # fmt: skip
    try:
        web = app.test_client()
        sign_up(web, "carla@example.org")
        request_reset(web, "carla@example.org")
        [envelope] = handler.envelopes
        assert envelope.rcpt_tos == ["carla@example.org"]
        link = reset_link(parse(envelope.content).get_content())
        assert app.test_client().get(link).status_code == 200
        assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())
    finally:
        app.extensions["database"].dispose()


# ---- 8. The session cookie -----------------------------------------------------------------

SESSION_KEYS = {"_user_id", "_fresh", "_id", "csrf_token", "seen", "since", "pending", "_flashes"}


def assert_no_secrets(
    app: Flask, web: FlaskClient, person: Person, answers: dict[str, int]
) -> None:
    cookie = web.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    raw, data = cookie.value, app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert set(data) <= SESSION_KEYS, data
    decoded = json.dumps(data)
    for secret in (person.email, PASSWORD, person.totp.secret, *person.recovery_codes, *answers):
        assert secret not in decoded, secret
        # The signed cookie is random-looking base64: a 3-character item id ("q07") turns up
        # in it by chance about once in a hundred runs, so only long secrets are looked for.
        assert len(secret) < 8 or secret not in raw, secret


def test_session_cookie_holds_no_secrets_or_answers(app: Flask, therapist: Person) -> None:
    answers = answers_for("quick", 5, 1)
    path = invite(therapist, add_client(therapist, "C-017"))
    visitor = app.test_client()
    consent(visitor, path)
    answer(visitor, path, answers, save=True)
    assert_no_secrets(app, visitor, therapist, answers)
    assert_no_secrets(app, therapist.web, therapist, answers)
    web = app.test_client()
    sign_in(web, therapist.email)
    assert_no_secrets(app, web, therapist, answers)  # between password and code


def test_sign_out_needs_csrf_and_ends_the_session(app: Flask, therapist: Person) -> None:
    assert therapist.web.post("/account/sign-out").status_code == 400
    assert reaches_dashboard(therapist.web)
    response = post(therapist.web, "/account/sign-out", {}, form_at="/account/")
    assert path_of(response) == "/account/sign-in"
    assert not reaches_dashboard(therapist.web)
    assert path_of(therapist.web.get("/account/")) == "/account/sign-in"


def test_a_copied_session_cookie_is_useless_after_sign_out(app: Flask, therapist: Person) -> None:
    """Signing out ends the account's sessions on the server, not just this browser's cookie."""
    cookie = therapist.web.get_cookie("sb_session")
    assert cookie is not None
    copied = app.test_client()
    copied.set_cookie("sb_session", cookie.value)
    assert reaches_dashboard(copied)
    post(therapist.web, "/account/sign-out", {}, form_at="/account/")
    assert not reaches_dashboard(copied)
    assert path_of(copied.get("/account/")) == "/account/sign-in"


def test_a_session_kept_busy_still_ends_twelve_hours_after_sign_in(
    app: Flask, therapist: Person
) -> None:
    with therapist.web.session_transaction() as session:
        session["since"] = time.time() - 12 * 3600 + 60
    assert reaches_dashboard(therapist.web)
    with therapist.web.session_transaction() as session:
        session["since"] = time.time() - 12 * 3600 - 5  # busy all along: "seen" is fresh
    response = therapist.web.get("/therapist/")
    assert path_of(response) == "/account/sign-in"
    assert "session has ended" in notice(therapist.web, response)
    assert not reaches_dashboard(therapist.web)


# ---- 9. New recovery codes -----------------------------------------------------------------


def new_codes(person: Person, code: str) -> TestResponse:
    return post(person.web, "/account/recovery-codes", {"code": code}, form_at="/account/")


def test_new_recovery_codes_replace_the_old(app: Flask, therapist: Person) -> None:
    response = new_codes(therapist, therapist.code())
    assert response.status_code == 200
    fresh = re.findall(r"<code>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})</code>", response.get_data(True))
    assert len(set(fresh)) == 10 and not set(fresh) & set(therapist.recovery_codes)
    _, response = full_sign_in(app, therapist, therapist.recovery_codes[1])
    assert path_of(response) == "/account/sign-in"
    web, response = full_sign_in(app, therapist, fresh[0])
    assert path_of(response) == "/therapist/" and reaches_dashboard(web)


def test_wrong_code_keeps_recovery_codes(app: Flask, therapist: Person) -> None:
    response = new_codes(therapist, wrong_code(therapist.totp))
    assert path_of(response) == "/account/"
    assert "were not changed" in notice(therapist.web, response)
    assert codes_left(app) == 10
    web, response = full_sign_in(app, therapist, therapist.recovery_codes[0])
    assert path_of(response) == "/therapist/" and reaches_dashboard(web)
