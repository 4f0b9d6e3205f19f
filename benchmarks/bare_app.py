"""The baselines of ``traffic.py``: a bare Flask app with a plain page and a bare submit.

``/plain`` returns a small HTML page; ``POST /submit`` checks 12 answers (whole numbers 1..5),
takes two means, inserts a row and commits, and redirects: the least a questionnaire service
can do. It uses the project's own engine set-up (SQLite with WAL, PostgreSQL through psycopg),
so the comparison is of the application, not of the database settings.

    .venv/bin/gunicorn "bare_app:create('sqlite:////tmp/bare.db')"   (from benchmarks/)
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, abort, redirect, request
from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, Table, insert
from werkzeug.wrappers import Response

from quizapp.storage.database import make_engine

metadata = MetaData()
results = Table(
    "bare_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("anxiety", Float, nullable=False),
    Column("avoidance", Float, nullable=False),
    Column("answers", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
ITEMS = [f"q{i:02d}" for i in range(1, 13)]


def create(database_url: str) -> Flask:
    engine = make_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()  # gunicorn --preload forks after this: no connection is shared
    app = Flask("bare")

    @app.get("/plain")
    def plain() -> str:
        return "<!doctype html><title>Plain</title><h1>A plain page</h1><p>Nothing else.</p>"

    @app.post("/submit")
    def submit() -> Response:
        answers = {}
        for item in ITEMS:
            value = request.form.get(item, "")
            if not value.isdigit() or not 1 <= int(value) <= 5:
                abort(422)
            answers[item] = int(value)
        values = list(answers.values())
        with engine.begin() as conn:
            conn.execute(insert(results).values(
                anxiety=sum(values[:6]) / 6, avoidance=sum(values[6:]) / 6, answers=answers,
                created_at=datetime.now(UTC),
            ))  # fmt: skip
        return redirect("/plain", code=303)

    return app
