"""A database that cannot be reached is a clear 503 on every page that needs it, never a 500
(security review, finding 5, in part: the submit views already answered 503; the result, PDF,
delete, invitation and sign-in pages answered 500)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from quizapp.app import create_app

from ..conftest import app_config, hidden_fields

CODE = "7K2Q-ABCD-EFGH-0123-JKMN-PQRS-TVWX"


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":  # a folder that does not exist: the file cannot be opened
        return f"sqlite:///{tmp_path / 'gone' / 'quiz.db'}"
    return "postgresql+psycopg://postgres@127.0.0.1:9/test"  # nothing listens on port 9


def test_every_page_that_needs_the_database_says_it_is_unavailable(unreachable: str) -> None:
    app: Flask = create_app(app_config(unreachable))
    web = app.test_client()
    token = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))["csrf_token"]
    requests = [
        ("GET", f"/r/{CODE}"), ("GET", f"/r/{CODE}/report.pdf"), ("GET", f"/r/{CODE}/delete"),
        ("POST", f"/r/{CODE}/delete"), ("GET", "/invite/some-invitation-token"),
        ("POST", "/account/sign-in"), ("POST", "/account/reset"),
    ]  # fmt: skip
    for method, path in requests:
        data = {"csrf_token": token, "email": "ana@example.org", "password": "x" * 12,
                "receipt": CODE}  # fmt: skip
        response = web.open(path, method=method, data=data)
        assert response.status_code == 503, (method, path, response.status_code)
        assert response.headers["Retry-After"] == "5"
        assert "cannot reach its database" in response.get_data(as_text=True)
        assert "<h1>Not available just now</h1>" in response.get_data(as_text=True)
    assert web.get("/privacy").status_code == 200  # pages without data still work
    app.extensions["database"].dispose()
