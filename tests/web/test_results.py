"""Results pages: unguessable URLs, reopening by receipt code, deleting for good."""

from __future__ import annotations

import base64
import json
import zlib

from flask import Flask
from flask.testing import FlaskClient

from quizapp.storage import receipts

from ..conftest import hidden_fields
from .test_quiz import answers, start, stored


def submit(client: FlaskClient) -> str:
    response = client.post("/quiz/quick", data=start(client) | answers())
    assert response.status_code == 303
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def test_unknown_and_malformed_result_urls_are_the_same_404(client: FlaskClient) -> None:
    well_formed = client.get(f"/r/{receipts.new_code()}")
    malformed = client.get("/r/not-a-code")
    assert well_formed.status_code == malformed.status_code == 404
    assert well_formed.get_data() == malformed.get_data()


def test_a_receipt_code_reopens_the_result_however_it_is_typed(client: FlaskClient) -> None:
    code = submit(client)
    typed = receipts.display(code).lower().replace("0", "o").replace("1", "l")
    page = client.get("/open")
    response = client.post(
        "/open", data=hidden_fields(page.get_data(as_text=True)) | {"code": typed}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/r/{code}"
    assert client.get(f"/r/{receipts.display(code)}").status_code == 200


def test_a_mistyped_receipt_code_gets_a_clear_message(client: FlaskClient) -> None:
    page = client.get("/open")
    response = client.post(
        "/open", data=hidden_fields(page.get_data(as_text=True)) | {"code": "ABC"}
    )
    assert response.status_code == 400
    assert "28 letters and digits" in response.get_data(as_text=True)


def test_delete_removes_the_record_and_the_link_stops_working(
    app: Flask, client: FlaskClient
) -> None:
    code = submit(client)
    confirm = client.get(f"/r/{code}/delete")
    assert confirm.status_code == 200
    response = client.post(f"/r/{code}/delete", data=hidden_fields(confirm.get_data(as_text=True)))
    assert response.status_code == 303
    assert "deleted" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert stored(app) == 0
    assert client.get(f"/r/{code}").status_code == 404
    assert client.get(f"/r/{code}/delete").status_code == 404


def test_delete_needs_the_csrf_token(app: Flask, client: FlaskClient) -> None:
    code = submit(client)
    assert client.post(f"/r/{code}/delete").status_code == 400
    assert stored(app) == 1


def test_deleting_one_result_leaves_the_others(app: Flask, client: FlaskClient) -> None:
    first, second = submit(client), submit(client)
    confirm = client.get(f"/r/{first}/delete")
    client.post(f"/r/{first}/delete", data=hidden_fields(confirm.get_data(as_text=True)))
    assert stored(app) == 1
    assert client.get(f"/r/{second}").status_code == 200


def test_the_session_cookie_holds_no_answers(client: FlaskClient) -> None:
    submit(client)
    cookie = client.get_cookie("sb_session")
    assert cookie is not None
    payload = cookie.value.split(".")[0 if not cookie.value.startswith(".") else 1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.value.startswith("."):
        raw = zlib.decompress(raw)
    assert set(json.loads(raw)) == {"csrf_token"}


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "same-origin"  # receipt codes stay here
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/quiz/quick").headers["Cache-Control"] == "no-store"


def test_a_wrong_code_in_the_open_form_says_so_and_keeps_what_was_typed(
    client: FlaskClient,
) -> None:
    # Issue 14, finding 10: a wrong code landed on a generic "Not found", the code typed lost.
    fields = hidden_fields(client.get("/open").get_data(as_text=True))
    typed = "7k2q abcd efgh 0123 jkmn pqrs tvwx"
    response = client.post("/open", data=fields | {"code": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "No result has that code" in page and f'value="{typed}"' in page
    assert 'aria-invalid="true"' in page and "autofocus" in page
    malformed = client.post("/open", data=fields | {"code": "not a code"})
    assert malformed.status_code == 400 and 'value="not a code"' in malformed.get_data(as_text=True)


def test_the_browser_s_favicon_request_finds_one(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")  # issue 14, finding 10: it was a 404
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    response.close()
    assert 'rel="icon" href="/static/icon.svg"' in client.get("/").get_data(as_text=True)
