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

from .journey import PASSWORD, Therapist, add_client, hidden_fields, invite, post


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
