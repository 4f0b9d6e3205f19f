"""A therapist's everyday tools (issue 14, finding 9): a public page that explains the workflow
and the privacy promises before sign-in, recovery codes to download and print, and the
invitation link with a copy button. Before, "For therapists" went straight to a sign-in form,
the codes could only be copied by hand, and the link sat in a cut-off field."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from .journey import PASSWORD, Therapist, add_client, csrf, hidden_fields, invite, post


def test_for_therapists_explains_before_sign_in(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    assert '<a href="/therapists">For therapists</a>' in home
    page = client.get("/therapists").get_data(as_text=True)
    for said in ("How it works", "Privacy and security", "two-factor sign-in", "audit log",
                 "Reliable Change Index", "not a diagnosis"):  # fmt: skip
        assert said in page, said
    assert 'href="/account/sign-in"' in page and 'href="/account/sign-up"' in page


def test_recovery_codes_come_as_a_file_to_download_and_print(client: FlaskClient) -> None:
    data = {"display_name": "Dr Ana", "email": "ana@example.org", "password": PASSWORD,
            "confirm": PASSWORD}  # fmt: skip
    assert post(client, "/account/sign-up", data).status_code == 303
    setup = client.get("/account/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', setup)
    assert secret is not None
    sent = hidden_fields(setup) | {"code": pyotp.TOTP(secret.group(1)).now()}
    page = client.post("/account/two-factor/setup", data=sent).get_data(as_text=True)
    codes = re.findall(r"<code>([0-9A-Z-]{19})</code>", page)
    assert len(codes) == 10
    link = re.search(r'download="secure-base-recovery-codes.txt"\s+href="data:text/plain;'
                     r'charset=utf-8,([^"]+)"', page)  # fmt: skip
    assert link is not None
    text = unquote(link.group(1))
    assert text.startswith("Secure Base recovery codes for ana@example.org")
    assert text.splitlines()[-10:] == codes
    assert "data-print hidden>Print them</button>" in page and "print.js" in page


def test_the_invitation_link_can_be_copied(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-7")
    response = post(therapist.web, f"/therapist/clients/{client_id}/invites",
                    {"instrument": "quick", "client_sees": "results", "days": "14"},
                    form_at=f"/therapist/clients/{client_id}")  # fmt: skip
    page = response.get_data(as_text=True)
    assert 'data-copy="link" hidden>Copy the link</button>' in page and "copy.js" in page
    assert invite(therapist, client_id).startswith("/invite/")


def _link_page(therapist: Therapist, client_id: int) -> str:
    response = post(therapist.web, f"/therapist/clients/{client_id}/invites",
                    {"instrument": "quick", "client_sees": "results", "days": "14"},
                    form_at=f"/therapist/clients/{client_id}")  # fmt: skip
    assert response.status_code == 201
    return response.get_data(as_text=True)


def test_the_invitation_e_mail_is_shown_first_then_sent_once_and_the_address_not_kept(
    app: Flask, therapist: Therapist, other: Therapist
) -> None:
    from sqlalchemy import select

    from quizapp.storage.tables import AuditEntry, Invite
    from quizapp.web.extensions import db

    from .test_accounts import outbox

    client_id = add_client(therapist, "C-8")
    page = _link_page(therapist, client_id)
    fields = hidden_fields(page)
    link = re.search(r'id="link" type="text" readonly value="([^"]+)"', page)
    assert link is not None and fields["link"] == link.group(1)
    [action] = re.findall(r'action="(/therapist/clients/\d+/invites/\d+/email)"', page)
    address = "client.eight@example.net"
    preview = therapist.web.post(action, data=fields | {"email": address})
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Nothing has been sent yet" in shown
    assert link.group(1) in shown and "Dr Ana Ruiz invites you" in shown and address in shown
    assert outbox(app) == []
    sent = therapist.web.post(action, data=hidden_fields(shown) | {"email": address})
    assert sent.status_code == 303
    [message] = outbox(app)
    assert message["To"] == address and link.group(1) in message.get_content()
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and (entry.action, entry.detail) == ("e-mail invitation", "")
        assert all(address not in repr(vars(i)) for i in db.session.scalars(select(Invite)))
    # Only the invitation's own link goes out, and only from its own therapist.
    forged = fields | {"email": address, "link": "https://evil.example/phish", "send": "yes"}
    assert therapist.web.post(action, data=forged).status_code == 303
    theirs = csrf(other.web, "/therapist/clients/new") | {"link": fields["link"], "email": address}
    assert other.web.post(action, data=theirs).status_code == 404  # another therapist's
    assert len(outbox(app)) == 1


def test_invitation_e_mails_are_limited_per_therapist(database_url: str, tmp_path: object) -> None:
    from quizapp.app import create_app

    from ..conftest import app_config, with_limits
    from .conftest import LIGHT_ARGON2
    from .journey import sign_up_with_two_factor

    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2,
                                MAIL_OUTBOX=str(tmp_path) + "/outbox",
                                RATE_LIMITS=with_limits(invite_mail="1/hour")))  # fmt: skip
    ana = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")
    client_id = add_client(ana, "C-9")
    statuses = []
    for _ in range(2):
        page = _link_page(ana, client_id)
        [action] = re.findall(r'action="(/therapist/clients/\d+/invites/\d+/email)"', page)
        data = hidden_fields(page) | {"email": "c9@example.net", "send": "yes"}
        statuses.append(ana.web.post(action, data=data).status_code)
    assert statuses == [303, 429]
    app.extensions["database"].dispose()
