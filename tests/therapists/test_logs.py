"""No secret reaches a log (security review, finding 4): a whole visitor and therapist journey,
with a failing results page and a database outage, and the captured log is searched for every
receipt code, token, e-mail address and answer issued in it."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from quizapp import logs
from quizapp.storage import receipts
from quizapp.web.extensions import db

from ..conftest import hidden_fields
from .journey import Therapist, add_client, invite, post, sign_up_with_two_factor
from .test_accounts import outbox

ANSWERS = {f"q{i:02d}": str(1 + (i * 3) % 5) for i in range(1, 13)}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The log as the service writes it (the app's handler and formatter), into a buffer."""
    buffer = io.StringIO()
    handler = logs.configure(stream=buffer)
    yield buffer
    logging.getLogger().removeHandler(handler)


def test_redact_masks_each_kind_of_secret() -> None:
    code = "7K2QABCDEFGH0123JKMNPQRSTVWX"
    line = (f"GET /r/{code} and /r/{receipts.display(code).lower()} /invite/Ab_9-xYz/answers "
            f"/account/reset/q1W2e3R4t5Y6u7I8o9P0aSdFgHjKlZxC ana.ruiz+x@clinic.example.org "
            f"submission 42 of version 3f2a9c1d0b7e4a65 took 12 ms")  # fmt: skip
    masked = logs.redact(line)
    assert masked == (
        "GET /r/[receipt code] and /r/[receipt code] /invite/[token]/answers "
        "/account/reset/[token] [e-mail] submission 42 of version 3f2a9c1d0b7e4a65 took 12 ms"
    )


def test_json_lines_are_masked_field_by_field() -> None:
    buffer = io.StringIO()
    handler = logs.configure(stream=buffer, json_lines=True)
    code, email = "7K2QABCDEFGH0123JKMNPQRSTVWX", "ana.ruiz@clinic.example.org"
    try:
        try:
            raise ValueError(f"no result {code}\nfor {email}")
        except ValueError:
            logging.getLogger("quizapp.web").exception("Exception on /r/%s [GET]", code)
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "Exception on /r/[receipt code] [GET]"
    assert entry["level"] == "ERROR" and entry["logger"] == "quizapp.web"
    assert "ValueError: no result [receipt code]" in entry["exception"]
    assert code not in line and email not in line


def test_a_whole_journey_leaves_no_secret_in_the_log(
    app: Flask, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = app.test_client()
    secrets: list[str] = []
    # A visitor: the result, a failure of ours on its page, a download, a deletion page.
    fields = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))
    location = web.post("/quiz/quick", data=fields | ANSWERS).headers["Location"]
    code = location.split("/")[2]  # /r/<code>, or /r/<code>/more: these answers are uncertain
    secrets += [code, receipts.display(code), fields["started"], fields["csrf_token"]]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page and a log line

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a defect of ours")

    monkeypatch.setattr("quizapp.web.results.read_analysis", broken)
    assert web.get(f"/r/{receipts.display(code)}").status_code == 500
    monkeypatch.undo()
    # A therapist: sign-up, an invitation, a password reset by the outbox (no SMTP).
    ana: Therapist = sign_up_with_two_factor(app.test_client(), "ana.ruiz@example.org", "Ana")
    path = invite(ana, add_client(ana, "C-001"))
    post(app.test_client(), "/account/reset", {"email": "ana.ruiz@example.org"})
    [message] = outbox(app)
    reset = re.search(r"/account/reset/([A-Za-z0-9_-]+)", message.get_content())
    assert reset is not None
    secrets += ["ana.ruiz@example.org", path.rsplit("/", 1)[1], reset.group(1), ana.totp.secret]
    # The database fails under a submission: its INSERT errors out with the values it had.
    with app.app_context():
        db.session.execute(text("ALTER TABLE submissions RENAME TO submissions_away"))
        db.session.commit()
    try:
        fields = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))
        assert web.post("/quiz/quick", data=fields | ANSWERS).status_code == 503
        secrets += [fields["started"]]
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE submissions_away RENAME TO submissions"))
            db.session.commit()
    log = captured.getvalue()
    assert "Exception on /r/[receipt code] [GET]" in log, log
    assert "could not store a submission" in log and "submissions" in log
    assert "written to" in log  # the mail line is there, masked
    for secret in secrets:
        assert secret not in log, secret
        assert secret.lower() not in log.lower(), secret
    assert json.dumps({k: int(v) for k, v in ANSWERS.items()})[:20] not in log
