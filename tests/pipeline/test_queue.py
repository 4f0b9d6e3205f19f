"""Rendering through Celery with the Redis server on 127.0.0.1 (CI has one).

The job is the row in the database; the broker carries only its id. A real worker (in a
thread of this process, solo pool; and once as its own process, as an operator starts it)
renders and stores the PDF, and the download serves the stored PDF.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from flask import Flask
from sqlalchemy import select

from quizapp.app import create_app
from quizapp.pipeline.queue import QUEUE, ReportQueue
from quizapp.pipeline.renderer import Renderer
from quizapp.storage import receipts
from quizapp.storage.tables import RenderedReport
from quizapp.web.extensions import db

from ..conftest import app_config, empty_redis
from ..web.test_report_download import submit

REDIS_URL = os.environ.get("QUIZAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    yield from empty_redis(REDIS_URL)


@pytest.fixture
def app(database_url: str, broker: redis.Redis) -> Iterator[Flask]:  # type: ignore[override]
    app = create_app(app_config(database_url, REPORT_PRERENDER=True, CELERY_BROKER_URL=REDIS_URL))
    yield app
    app.extensions["database"].dispose()


def stored(app: Flask) -> list[RenderedReport]:
    with app.app_context():
        rows = list(db.session.scalars(select(RenderedReport)))
        db.session.expunge_all()
        return rows


def wait_until_done(app: Flask, seconds: float) -> list[RenderedReport]:
    deadline = time.monotonic() + seconds
    while not (rows := stored(app)) or rows[0].status != "done":
        assert time.monotonic() < deadline, f"not rendered in {seconds} s: {rows}"
        time.sleep(0.2)
    return rows


def test_a_celery_worker_renders_the_report_and_the_download_serves_it(
    app: Flask, broker: redis.Redis
) -> None:
    web = app.test_client()
    code = submit(web)
    waiting = broker.lrange(QUEUE, 0, -1)
    assert len(waiting) == 1, "the submission sent one message"
    [job] = stored(app)
    assert code.encode() not in waiting[0] and receipts.display(code).encode() not in waiting[0]
    assert str(job.id).encode() in waiting[0], "the message names the job, nothing else"
    assert job.status == "pending", "nothing renders in the web process"
    worker_side = ReportQueue(REDIS_URL)
    worker_side.serve(Renderer(app.extensions["pipeline"], app.extensions["database"].sessions,
                               app.config["SECRET_KEY"]))  # fmt: skip
    with start_worker(worker_side.celery, pool="solo", perform_ping_check=False,
                      shutdown_timeout=30, loglevel="WARNING"):  # fmt: skip
        [row] = wait_until_done(app, 60)
    assert (row.kind, row.page_size, row.attempts) == ("client", "A4", 1)
    assert broker.llen(QUEUE) == 0
    response = web.get(f"/r/{code}/report.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert [r.attempts for r in stored(app)] == [1], "served the stored PDF, not a new render"


def test_the_worker_process_renders_with_the_settings_alone(
    app: Flask, broker: redis.Redis, tmp_path: Path
) -> None:
    """``celery -A quizapp.worker:celery worker``, as an operator starts it: a process
    of its own that reads the same settings as the web app and builds no Flask app."""
    web = app.test_client()
    code = submit(web)
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
           "QUIZAPP_SECRET_KEY": app.config["SECRET_KEY"], "QUIZAPP_CELERY_BROKER_URL": REDIS_URL,
           "QUIZAPP_INSTANCE_DIR": str(tmp_path)}  # fmt: skip
    celery = Path(sys.executable).parent / "celery"
    log = tmp_path / "worker.log"
    with log.open("w") as output, subprocess.Popen(
        [str(celery), "-A", "quizapp.worker:celery", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=output, stderr=subprocess.STDOUT,
    ) as worker:  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (rows := stored(app)) or rows[0].status != "done":
                assert worker.poll() is None, f"the worker stopped: {log.read_text()}"
                assert time.monotonic() < deadline, f"not rendered in 120 s: {log.read_text()}"
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    assert web.get(f"/r/{code}/report.pdf").data.startswith(b"%PDF")
    assert [r.attempts for r in stored(app)] == [1]


def test_the_worker_refuses_to_start_without_a_broker_or_a_secret(tmp_path: Path) -> None:
    base = {**os.environ, "QUIZAPP_INSTANCE_DIR": str(tmp_path)}
    for missing, env in (
        ("QUIZAPP_CELERY_BROKER_URL", {**base, "QUIZAPP_SECRET_KEY": "k"}),
        ("QUIZAPP_SECRET_KEY", {**base, "QUIZAPP_CELERY_BROKER_URL": REDIS_URL}),
    ):
        env.pop(missing, None)
        result = subprocess.run([sys.executable, "-c", "import quizapp.worker"],
                                env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode != 0 and missing in result.stderr


def test_a_broker_outage_loses_nothing(database_url: str) -> None:
    app = create_app(app_config(database_url, REPORT_PRERENDER=True,
                                CELERY_BROKER_URL="redis://127.0.0.1:1/0"))  # fmt: skip
    celery = app.extensions["report_queue"].celery
    celery.conf.broker_connection_max_retries = 0
    celery.conf.broker_transport_options = {"max_retries": 0}
    web = app.test_client()
    code = submit(web)
    assert web.get(f"/r/{code}").status_code == 200
    [job] = stored(app)
    assert job.status == "pending", "the job is in the database, whatever the broker does"
    assert web.get(f"/r/{code}/report.pdf").status_code == 202
    renderer = Renderer(app.extensions["pipeline"], app.extensions["database"].sessions,
                        app.config["SECRET_KEY"])  # fmt: skip
    assert renderer.drain() == 1, "any renderer drains it (quizapp renderer beside Celery)"
    assert web.get(f"/r/{code}/report.pdf").data.startswith(b"%PDF")
    app.extensions["database"].dispose()
