"""Fixtures for the therapist workflow: an app with light argon2 parameters (the real ones
cost ~50 ms a hash; the algorithm, argon2id, is the same) and its outbox in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from quizapp.app import create_app

from ..conftest import app_config
from .journey import Therapist, sign_up_with_two_factor

LIGHT_ARGON2 = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2,
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def therapist(app: Flask) -> Therapist:
    """A signed-in therapist with two-factor on."""
    return sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")


@pytest.fixture
def other(app: Flask) -> Therapist:
    """A second therapist, for access-control tests."""
    return sign_up_with_two_factor(app.test_client(), "ben@example.org", "Ben Okafor")
