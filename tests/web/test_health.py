"""/healthz and /readyz for a load balancer (issue 13, deliverable 3): ready means the database
answers at this code's migration head, the instruments and models are loaded and the broker
answers when one is set; a part that is not ready is named, with a 503, and the answer holds
nothing personal and no host name."""

from __future__ import annotations

import logging
import os

import pytest
from alembic import command

from quizapp.app import create_app
from quizapp.storage.database import alembic_config

from ..conftest import app_config

REDIS_URL = os.environ.get("QUIZAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_ready_when_every_part_is(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(app_config(database_url))
    web = app.test_client()
    with caplog.at_level(logging.INFO):
        for _ in range(30):  # a probe every few seconds: never rate limited, never logged
            response = web.get("/readyz")
            assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {
        "database": "ok", "models": "ok",
        "broker": "not used (the renderer reads the queue in the database)"}}  # fmt: skip
    assert web.get("/healthz").json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert not [r for r in caplog.records if r.name.startswith("quizapp")]
    app.extensions["database"].dispose()


def test_an_unreachable_database_is_named_without_its_address(tmp_path: object) -> None:
    app = create_app(app_config("postgresql+psycopg://postgres@127.0.0.1:9/test"))
    web = app.test_client()
    response = web.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "not ready: OperationalError"
    assert response.json["checks"]["models"] == "ok"
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert web.get("/healthz").status_code == 200  # the process itself answers
    app.extensions["database"].dispose()


def test_a_schema_behind_the_code_is_not_ready(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "-1")
    app = create_app(app_config(database_url))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "this code needs" in response.json["checks"]["database"]
    assert "quizapp db upgrade" in response.json["checks"]["database"]
    app.extensions["database"].dispose()
    command.upgrade(alembic_config(database_url), "head")


def test_the_broker_is_checked_when_one_is_set(database_url: str) -> None:
    down = create_app(app_config(database_url, CELERY_BROKER_URL="redis://127.0.0.1:9/0"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["broker"].startswith("not ready")
    up = create_app(app_config(database_url, CELERY_BROKER_URL=REDIS_URL))
    assert up.test_client().get("/readyz").json["checks"]["broker"] == "ok"
    for app in (down, up):
        app.extensions["database"].dispose()
