"""Steps of the therapist journey through the real routes (test client, CSRF on), shared by
the therapist tests: sign up, turn on two-factor, add a client, invite, consent, answer."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ..conftest import hidden_fields

PASSWORD = "a long enough passphrase"


@dataclass
class Therapist:
    web: FlaskClient
    email: str
    name: str
    totp: pyotp.TOTP
    recovery_codes: list[str] = field(default_factory=list)

    def code(self) -> str:
        """A TOTP code for a time step not used yet (codes work once)."""
        now = time.time()
        step = int(now // 30)
        last = getattr(self, "_last_step", None)
        if last is not None and step <= last:
            step = last + 1
        self._last_step = step
        return self.totp.at(step * 30)


def csrf(web: FlaskClient, path: str) -> dict[str, str]:
    """The hidden fields (CSRF token, start token...) of the form at ``path``."""
    response = web.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return hidden_fields(response.get_data(as_text=True))


def post(
    web: FlaskClient, path: str, data: dict[str, str], form_at: str | None = None
) -> TestResponse:
    return web.post(path, data={**csrf(web, form_at or path), **data})


def sign_up_with_two_factor(web: FlaskClient, email: str, name: str) -> Therapist:
    response = post(
        web,
        "/account/sign-up",
        {"display_name": name, "email": email, "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = web.get("/account/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page)
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1))
    fields = hidden_fields(page)
    person = Therapist(web, email, name, totp)
    response = web.post("/account/two-factor/setup", data={**fields, "code": person.code()})
    assert response.status_code == 200
    person.recovery_codes = re.findall(
        r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>",
        response.get_data(as_text=True),
    )
    assert len(person.recovery_codes) == 10
    return person


def add_client(t: Therapist, label: str, note: str = "") -> int:
    response = post(t.web, "/therapist/clients/new", {"label": label, "note": note})
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def invite(
    t: Therapist,
    client_id: int,
    instrument: str = "quick",
    client_sees: str = "results",
    days: int = 14,
) -> str:
    """Create an invite; returns the invitation path (/invite/<token>)."""
    response = post(
        t.web,
        f"/therapist/clients/{client_id}/invites",
        {"instrument": instrument, "client_sees": client_sees, "days": str(days)},
        form_at=f"/therapist/clients/{client_id}",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    link = re.search(r'value="(https?://[^"]+)"', response.get_data(as_text=True))
    assert link is not None
    return "/invite/" + link.group(1).rsplit("/invite/", 1)[1]


def consent(web: FlaskClient, path: str) -> TestResponse:
    return post(web, path, {"agree": "y"})


def answer(
    web: FlaskClient, path: str, answers: dict[str, int], save: bool = False
) -> TestResponse:
    data = {key: str(value) for key, value in answers.items()}
    if save:
        data["save"] = "1"
    return post(web, f"{path}/answers", data)


def answers_for(instrument_id: str, anxiety: int, avoidance: int) -> dict[str, int]:
    """Answers to a bank instrument whose keyed values are ``anxiety`` and ``avoidance``
    on every statement (so the scale scores equal them)."""
    from quizapp.pipeline.sample import raw_answers
    from quizapp.scoring.instrument import load_bank

    from ..conftest import REPO

    instrument = load_bank(REPO / "items")[instrument_id]
    raw = raw_answers(instrument, [anxiety], [avoidance])
    return {key: int(value) for key, value in raw.items() if value is not None}


def administer(
    t: Therapist, client_id: int, answers: dict[str, int], client_sees: str = "results"
) -> tuple[TestResponse, int]:
    """Invite, consent and answer as the client (a fresh browser); the response to the answers
    and the id of the result stored."""
    from sqlalchemy import func, select

    from quizapp.storage.tables import Submission
    from quizapp.web.extensions import db

    app = t.web.application
    path = invite(t, client_id, client_sees=client_sees)
    web = app.test_client()
    assert consent(web, path).status_code == 303
    response = answer(web, path, answers)
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    with app.app_context():
        latest = select(func.max(Submission.id)).where(Submission.client_id == client_id)
        submission_id = db.session.scalar(latest)
    assert submission_id is not None
    return response, submission_id
