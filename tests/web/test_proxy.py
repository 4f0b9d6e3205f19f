"""Behind a reverse proxy (security review, finding 6, in part): with QUIZAPP_PROXY_HOPS=N the
client address is the one the last trusted proxy appended, never an entry a client wrote into
X-Forwarded-For itself, and https seen by the proxy turns on HSTS. Without it, forwarded
headers are ignored. (The end-to-end test with nginx is test_nginx.py.)"""

from __future__ import annotations

from flask import Flask, request

from quizapp.app import create_app

from ..conftest import app_config


def app_with(database_url: str, hops: int) -> Flask:
    app = create_app(app_config(database_url, PROXY_HOPS=hops))

    @app.get("/_address")
    def address() -> str:  # what the sign-in throttle keys on
        return request.remote_addr or ""

    return app


def test_one_trusted_hop_takes_the_address_the_proxy_appended(database_url: str) -> None:
    app = app_with(database_url, hops=1)
    web = app.test_client()
    forged = {"X-Forwarded-For": "203.0.113.7, 198.51.100.20"}  # the client wrote the first
    assert web.get("/_address", headers=forged).get_data(as_text=True) == "198.51.100.20"
    assert web.get("/_address").get_data(as_text=True) == "127.0.0.1"
    app.extensions["database"].dispose()


def test_without_trusted_hops_forwarded_headers_are_ignored(database_url: str) -> None:
    app = app_with(database_url, hops=0)
    web = app.test_client()
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    response = web.get("/_address", headers=headers)
    assert response.get_data(as_text=True) == "127.0.0.1"
    assert "Strict-Transport-Security" not in response.headers
    app.extensions["database"].dispose()


def test_https_through_the_proxy_gets_hsts_for_at_least_180_days(database_url: str) -> None:
    app = app_with(database_url, hops=1)
    web = app.test_client()
    secure = web.get("/privacy", headers={"X-Forwarded-Proto": "https"})
    max_age = int(secure.headers["Strict-Transport-Security"].split("max-age=")[1].split(";")[0])
    assert max_age >= 180 * 24 * 3600
    assert "Strict-Transport-Security" not in web.get("/privacy").headers  # plain http
    app.extensions["database"].dispose()
