"""Fixtures for the JSON API: an app with light argon2 parameters (as the therapist tests),
therapists signed in on the web with two-factor, and personal access tokens made on their
account page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from quizapp.app import create_app

from ..conftest import app_config
from ..therapists.conftest import LIGHT_ARGON2
from ..therapists.journey import Therapist, csrf, sign_up_with_two_factor

QUICK = [3, 5, 2, 1, 2, 5, 1, 1, 1, 5, 2, 2]  # settled and nothing to check: no follow-up
UNCERTAIN = [4, 1, 4, 2, 2, 1, 2, 3, 2, 2, 3, 2]  # asks four follow-up statements


def api_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    return create_app(app_config(database_url, ARGON2=LIGHT_ARGON2,
                                 MAIL_OUTBOX=str(tmp_path / "outbox"), **overrides))  # fmt: skip


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = api_app(database_url, tmp_path)
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def therapist(app: Flask) -> Therapist:
    return sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")


@pytest.fixture
def other(app: Flask) -> Therapist:
    return sign_up_with_two_factor(app.test_client(), "ben@example.org", "Ben Okafor")


def make_token(t: Therapist, scopes: list[str], name: str = "script", days: int = 30) -> str:
    """A token made on the account page as the therapist does; the token text shown once."""
    fields = csrf(t.web, "/account/tokens/")
    data: dict[str, Any] = {"csrf_token": fields["csrf_token"], "name": name, "scopes": scopes,
                            "days": str(days)}  # fmt: skip
    response = t.web.post("/account/tokens/", data=data)
    assert response.status_code == 201, response.get_data(as_text=True)
    found = re.search(r'value="(sbpat_[A-Za-z0-9_-]+)"', response.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def quick_answers(values: list[int]) -> dict[str, int]:
    return {f"q{n:02d}": v for n, v in enumerate(values, start=1)}


def submission(client: FlaskClient, values: list[int]) -> dict[str, Any]:
    """A submission body for the quick form, with a start token fetched as a client does."""
    token = client.get("/api/v1/instruments/quick").get_json()["start_token"]
    return {"instrument_id": "quick", "start_token": token, "answers": quick_answers(values)}


def submit(client: FlaskClient, values: list[int], **headers: str) -> dict[str, Any]:
    """Send answers to the quick form through the API; the 201 body."""
    body = submission(client, values)
    response = client.post("/api/v1/results", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer
