"""Shared fixtures: an app per test on a fresh, migrated database (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set), a test client, and a CLI runner."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from quizapp.app import create_app
from quizapp.config import DEFAULT_RATE_LIMITS, from_environment
from quizapp.storage.database import migrate_fresh

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = os.environ["TEST_DATABASE_URL"]
    migrate_fresh(url)
    return url


def app_config(database_url: str, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "ITEMS_DIR": str(REPO / "items"),
        "DEFAULT_INSTRUMENT": "quick",
        "SESSION_COOKIE_SECURE": False,
        "REPORT_PRERENDER": False,  # tests/web/test_report_download.py turns it on
        **overrides,
    }


def with_limits(**limits: str) -> dict[str, str]:
    """The shipped rate limits, with ``limits`` (``lookup_miss="3/minute"``) in place of some."""
    return DEFAULT_RATE_LIMITS | {name.replace("_", "-"): value for name, value in limits.items()}


def client_at(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from the network address ``address``."""
    web = app.test_client()
    web.environ_base["REMOTE_ADDR"] = address
    return web


def empty_redis(url: str) -> Iterator[redis.Redis]:
    """The Redis database at ``url``, emptied before and after (a fixture's body)."""
    server = redis.Redis.from_url(url)
    try:
        server.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"No Redis at {url} ({exc}): start redis-server, or set "
                    "QUIZAPP_TEST_REDIS_URL", pytrace=False)  # fmt: skip
    server.flushdb()
    yield server
    server.flushdb()
    server.close()


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(app_config(database_url))
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def calibration_path() -> Path:
    """The ECR calibration CSV: the QUIZAPP_CALIBRATION_CSV setting (default: ../shared/data/ecr
    beside the repo), as the commands read it."""
    return Path(from_environment()["CALIBRATION_CSV"])


def calibration_missing(path: Path, what: str) -> str:
    """The failure message when the calibration data is absent (those tests fail, not skip)."""
    return (
        f"ECR calibration data not found at {path}: set QUIZAPP_CALIBRATION_CSV to the "
        f"calibration.csv of ../shared/data/ecr (the {what} tests cannot run without it)"
    )


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, start token) by name."""
    fields = {}
    for tag in re.findall(r"<input[^>]*type=\"hidden\"[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields[name.group(1)] = value.group(1)
    return fields


def render_queued(app: Flask) -> int:
    """Render every queued report with the real renderer, as ``quizapp renderer`` does in its
    own process; how many it rendered."""
    from quizapp.pipeline.renderer import Renderer

    renderer = Renderer(app.extensions["pipeline"], app.extensions["database"].sessions,
                        app.config["SECRET_KEY"])  # fmt: skip
    return renderer.drain()
