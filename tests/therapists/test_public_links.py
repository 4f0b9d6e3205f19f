"""Links that leave a request are built from QUIZAPP_BASE_URL, never from the Host header, and
requests for other host names are refused (security review, finding 1: a reset requested
with ``Host: evil.example`` e-mailed the real therapist a link to evil.example)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from quizapp.app import create_app

from ..conftest import app_config
from .conftest import LIGHT_ARGON2
from .journey import post, sign_up_with_two_factor
from .test_accounts import outbox

BASE = "https://quiz.example.org/sb"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2, BASE_URL=BASE,
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    yield app
    app.extensions["database"].dispose()


class HostClient(FlaskClient):
    """A test client whose requests carry ``host`` in their Host header."""

    host = "localhost"

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


def web_for(app: Flask, host: str) -> HostClient:
    web = HostClient(app, app.response_class, use_cookies=True)
    web.host = host
    return web


def test_a_forged_host_gets_400_and_no_e_mail(app: Flask) -> None:
    ours = web_for(app, "quiz.example.org")
    sign_up_with_two_factor(ours, "ana@example.org", "Dr Ana Ruiz")
    forged = web_for(app, "evil.example")
    for method, path in (("GET", "/account/reset"), ("POST", "/account/reset"), ("GET", "/")):
        response = forged.open(path, method=method, data={"email": "ana@example.org"})
        assert response.status_code == 400, (method, path)
        page = response.get_data(as_text=True)
        assert "We could not accept that" in page and "evil.example" not in page
        assert response.headers["X-Frame-Options"] == "DENY"
    assert outbox(app) == []


def test_the_reset_e_mail_and_the_invite_link_start_with_the_base_url(app: Flask) -> None:
    ours = web_for(app, "quiz.example.org:443")  # the port is not part of the check
    ana = sign_up_with_two_factor(ours, "ana@example.org", "Dr Ana Ruiz")
    response = post(ana.web, "/therapist/clients/new", {"label": "A-1", "note": ""})
    client_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = post(ana.web, f"/therapist/clients/{client_id}/invites",
                {"instrument": "quick", "client_sees": "results", "days": "14"},
                form_at=f"/therapist/clients/{client_id}").get_data(as_text=True)  # fmt: skip
    assert re.search(rf'value="{re.escape(BASE)}/invite/[A-Za-z0-9_-]+"', page), page
    other = web_for(app, "quiz.example.org")
    post(other, "/account/reset", {"email": "ana@example.org"})
    [message] = outbox(app)
    assert re.search(rf"{re.escape(BASE)}/account/reset/[A-Za-z0-9_-]+\n", message.get_content())


def test_the_link_ignores_the_host_even_where_hosts_are_not_checked(
    database_url: str, tmp_path: Path
) -> None:
    """A test app without a base URL answers any host; its links still come from the base
    URL setting (here the default), not from the request."""
    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2,
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    web = web_for(app, "evil.example")
    sign_up_with_two_factor(web, "ana@example.org", "Dr Ana Ruiz")
    post(web, "/account/reset", {"email": "ana@example.org"})
    [message] = outbox(app)
    assert "evil.example" not in message.get_content()
    assert f"{app.config['BASE_URL']}/account/reset/" in message.get_content()
    app.extensions["database"].dispose()


def test_the_service_refuses_to_start_without_a_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIZAPP_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("QUIZAPP_SECRET_KEY", "s3cret")
    monkeypatch.delenv("QUIZAPP_BASE_URL", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="QUIZAPP_BASE_URL"):
        create_app()
    monkeypatch.setenv("QUIZAPP_BASE_URL", "https://quiz.example.org")
    monkeypatch.setenv("QUIZAPP_TRUSTED_HOSTS", "10.0.0.5, health.internal")
    app = create_app()
    assert app.config["TRUSTED_HOSTS"] == ["quiz.example.org", "10.0.0.5", "health.internal"]
    app.extensions["database"].dispose()
