"""Deletion that really deletes (security review, finding 2): after a visitor deletes their
result, no byte of it is left in the SQLite database file or its write-ahead log. Before, the
``-wal`` file still held the answers, the receipt hash and the sealed PDF, even after a
checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from quizapp.app import create_app
from quizapp.web.extensions import db

from ..conftest import app_config, hidden_fields, render_queued
from .test_quiz import answers

ANSWERS = answers()  # a settled result: the quiz shows it at once


def raw_bytes(database: Path) -> bytes:
    """The database file, its write-ahead log and its shared-memory index, as on the disk."""
    parts = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_a_deleted_result_leaves_no_byte_in_the_database_files(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the files of a PostgreSQL server are not ours to read (docs say what stays)")
    database = Path(database_url.removeprefix("sqlite:///"))
    app: Flask = create_app(app_config(database_url, REPORT_PRERENDER=True))
    web = app.test_client()
    fields = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))
    code = web.post("/quiz/quick", data=fields | ANSWERS).headers["Location"].rsplit("/", 1)[1]
    assert render_queued(app) == 1
    with app.app_context():
        conn = db.session.connection()
        receipt_hash, nonce, answers = conn.execute(
            text("SELECT receipt_hash, form_nonce, answers FROM submissions")).one()  # fmt: skip
        record = conn.execute(text("SELECT record FROM analyses")).scalar_one()
        pdf = conn.execute(text("SELECT pdf FROM rendered_reports")).scalar_one()
    needles = {
        "receipt hash": bytes(receipt_hash), "form nonce": nonce.encode(),
        "answers": str(answers).encode(), "analysis": str(record)[:200].encode(),
        "sealed PDF, start": bytes(pdf)[:64], "sealed PDF, middle": bytes(pdf)[5000:5064],
    }  # fmt: skip
    before = raw_bytes(database)
    assert all(needle in before for needle in needles.values()), "the search finds them"
    page = web.get(f"/r/{code}/delete").get_data(as_text=True)
    response = web.post(f"/r/{code}/delete", data=hidden_fields(page))
    assert response.status_code == 303
    after = raw_bytes(database)
    left = [name for name, needle in needles.items() if needle in after]
    assert left == [], f"still in the database files after deletion: {left}"
    app.extensions["database"].dispose()
