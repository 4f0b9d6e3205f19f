"""Webhooks: a therapist's endpoint gets a signed Standard Webhooks event when a client
completes an invitation through the real routes; retries with back-off; SSRF refusals at
registration and at delivery; the test event; the log; access control; the secret shown
once; the renderer process and the Celery path deliver.

The receiver is a plain HTTP server on 127.0.0.1 in a thread, so these tests run the app with
``WEBHOOK_ALLOW_PRIVATE`` on, except where they check that such addresses are refused.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from quizapp.app import create_app
from quizapp.storage.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from quizapp.therapists import deliveries, outbound, webhooks
from quizapp.web.extensions import db

from ..conftest import REPO, app_config
from .conftest import LIGHT_ARGON2
from .journey import Therapist, add_client, administer, answers_for, csrf, post

PUBLIC = "93.184.215.14"  # a public address (documentation examples resolve near it)


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records each POST and answers with ``statuses``
    in turn (the last one from then on), after ``delay`` seconds."""

    def __init__(self, statuses: tuple[int, ...] = (204,), delay: float = 0.0) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses, self.delay = list(statuses), delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append((self.path, headers, body))
                time.sleep(outer.delay)
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/secure-base"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2, WEBHOOK_ALLOW_PRIVATE=True,
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    yield app
    app.extensions["database"].dispose()


def sender(app: Flask, **options: Any) -> deliveries.Deliverer:
    """What the renderer process runs to send webhook events."""
    options = {"allow_private": app.config["WEBHOOK_ALLOW_PRIVATE"], **options}
    return deliveries.Deliverer(app.extensions["database"].sessions, app.config["SECRET_KEY"],
                                **options)  # fmt: skip


def add_endpoint(t: Therapist, url: str) -> tuple[int, str]:
    """Register ``url`` on the webhooks page; the endpoint's id and its secret as shown."""
    response = post(t.web, "/therapist/webhooks", {"url": url})
    page = response.get_data(as_text=True)
    assert response.status_code == 201, page
    secret = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<', page)
    number = re.search(r"Signing secret for endpoint (\d+)", page)
    assert secret is not None and number is not None
    return int(number.group(1)), secret.group(1)


def deliveries_of(app: Flask) -> list[WebhookDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        db.session.expunge_all()
        return rows


def attempts_of(app: Flask) -> list[WebhookAttempt]:
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
        db.session.expunge_all()
        return rows


def endpoint_row(app: Flask, endpoint_id: int) -> WebhookEndpoint:
    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert row is not None
        db.session.expunge(row)
        return row


def make_due(app: Flask) -> datetime:
    """Move every pending delivery's next attempt to now (time passing); when it was due."""
    with app.app_context():
        due = db.session.scalar(select(WebhookDelivery.not_before))
        db.session.execute(update(WebhookDelivery).values(not_before=None))
        db.session.commit()
    assert due is not None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def test_a_completed_invitation_sends_a_signed_event_without_answers(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    endpoint_id, secret = add_endpoint(therapist, receiver.url)
    client_id = add_client(therapist, "C-042", note="private: sleeps badly since the divorce")
    answers = answers_for("quick", 4, 2)
    _response, result_id = administer(therapist, client_id, answers)
    [queued] = deliveries_of(app)
    assert queued.status == "pending" and receiver.requests == [], "nothing sent in the request"
    assert sender(app).drain() == 1
    [(path, headers, body)] = receiver.requests
    assert path == "/hooks/secure-base"
    event = Webhook(secret).verify(body, headers)
    assert headers["webhook-id"] == queued.message_id and headers["webhook-id"].startswith("msg_")
    assert event["type"] == "invitation.completed"
    data = event["data"]
    assert data["client"] == {"id": client_id, "label": "C-042"}
    assert data["result_id"] == result_id and isinstance(data["invitation_id"], int)
    assert data["instrument"]["id"] == "quick"
    anxiety = data["scales"]["anxiety"]
    assert (
        anxiety["score"] == pytest.approx(4.0) and anxiety["band_90"][0] < 4 < anxiety["band_90"][1]
    )
    assert data["scales"]["avoidance"]["score"] == pytest.approx(2.0)
    assert data["closest_pattern"]["pattern"] == "anxious-preoccupied"
    assert 0 < data["closest_pattern"]["probability"] <= 1
    text = body.decode()
    assert "answers" not in keys_in(event) and "note" not in keys_in(event)
    assert not set(answers) & keys_in(event), "no statement ids, so no answers"
    assert "divorce" not in text
    with pytest.raises(WebhookVerificationError):  # a body changed on the way fails the check
        Webhook(secret).verify(body.replace(b"C-042", b"C-043"), headers)
    [done] = deliveries_of(app)
    assert (done.status, done.attempts, done.body) == ("done", 1, None), "no body kept"
    page = therapist.web.get("/therapist/webhooks").get_data(as_text=True)
    assert "invitation.completed" in page and "HTTP 204" in page and done.message_id in page
    assert endpoint_id == done.endpoint_id


def test_sharing_an_earlier_result_sends_the_event_too(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    from quizapp.storage import receipts

    from ..web.test_report_download import submit
    from .journey import invite

    _endpoint_id, secret = add_endpoint(therapist, receiver.url)
    client_id = add_client(therapist, "C-7")
    code = submit(app.test_client())
    path = invite(therapist, client_id)
    web = app.test_client()
    response = web.post(f"{path}/share", data={**csrf(web, path), "agree": "y",
                                                "receipt": receipts.display(code)})  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    sender(app).drain()
    [(_path, headers, body)] = receiver.requests
    event = Webhook(secret).verify(body, headers)
    assert event["data"]["shared_earlier_result"] is True
    assert event["data"]["scales"]["anxiety"]["score"] is not None


def test_the_signature_is_the_standard_webhooks_test_vector() -> None:
    """The specification's published example: secret, id, timestamp, body and signature."""
    secret = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    at = datetime.fromtimestamp(1614265330, UTC)
    headers = deliveries.signed_headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                        b'{"test": 2432232314}', at)  # fmt: skip
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def readme_receiver() -> dict[str, Any]:
    """The receiver's check from README's Webhooks section, run as written."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_check_accepts_a_delivered_event_and_refuses_a_changed_one(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    _endpoint_id, secret = add_endpoint(therapist, receiver.url)
    administer(therapist, add_client(therapist, "C-9"), answers_for("quick", 2, 4))
    sender(app).drain()
    [(_path, headers, body)] = receiver.requests
    verify = readme_receiver()["verify"]
    event = verify(body, headers, secret)
    assert event["type"] == "invitation.completed" and event["data"]["client"]["label"] == "C-9"
    with pytest.raises(ValueError):
        verify(body + b" ", headers, secret)
    with pytest.raises(ValueError):
        verify(body, headers, "whsec_" + base64.b64encode(b"another secret!!").decode())
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(ValueError):
        verify(body, stale, secret)


def test_a_500_is_retried_with_back_off_then_given_up_and_the_endpoint_turned_off(
    app: Flask, therapist: Therapist
) -> None:
    failing = Receiver(statuses=(500,))
    try:
        endpoint_id, secret = add_endpoint(therapist, failing.url)
        administer(therapist, add_client(therapist, "C-1"), answers_for("quick", 3, 3))
        hooks = sender(app)
        waits = []
        for attempt in range(1, deliveries.ATTEMPTS + 1):
            before = datetime.now(UTC)
            assert hooks.drain() == 1
            assert hooks.drain() == 0, "not tried again before its time"
            if attempt < deliveries.ATTEMPTS:
                waits.append(make_due(app) - before)
    finally:
        failing.close()
    assert [round(w.total_seconds() / 60) for w in waits] == [1, 5, 30, 120, 480]
    assert len(failing.requests) == deliveries.ATTEMPTS
    ids = {headers["webhook-id"] for _p, headers, _b in failing.requests}
    assert len(ids) == 1, "every attempt carries the same webhook-id"
    for _path, headers, body in failing.requests:  # each attempt signed afresh
        Webhook(secret).verify(body, headers)
    [row] = deliveries_of(app)
    assert (row.status, row.attempts, row.body) == ("failed", 6, None)
    assert [(a.attempt, a.status_code) for a in attempts_of(app)] == [(n, 500) for n in range(1, 7)]
    endpoint = endpoint_row(app, endpoint_id)
    assert endpoint.disabled_at is not None and "failed 6 times (last: HTTP 500)" in (
        endpoint.disabled_note or ""
    )
    page = therapist.web.get("/therapist/webhooks").get_data(as_text=True)
    assert "failed 6 times" in page and "Turn on again" in page and "(given up)" in page
    administer(therapist, add_client(therapist, "C-2"), answers_for("quick", 3, 3))
    assert len(deliveries_of(app)) == 1, "no events for an endpoint that is off"
    response = post(therapist.web, f"/therapist/webhooks/{endpoint_id}/enable", {},
                    form_at="/therapist/webhooks")  # fmt: skip
    assert response.status_code == 303 and endpoint_row(app, endpoint_id).disabled_at is None


def test_a_delivery_that_failed_once_succeeds_on_the_next_attempt(
    app: Flask, therapist: Therapist
) -> None:
    flaky = Receiver(statuses=(503, 200))
    try:
        add_endpoint(therapist, flaky.url)
        administer(therapist, add_client(therapist, "C-3"), answers_for("quick", 3, 3))
        hooks = sender(app)
        hooks.drain()
        make_due(app)
        hooks.drain()
    finally:
        flaky.close()
    assert [a.status_code for a in attempts_of(app)] == [503, 200]
    [row] = deliveries_of(app)
    assert (row.status, row.attempts, row.body) == ("done", 2, None)
    assert flaky.requests[0][2] == flaky.requests[1][2], "the same body both times"


def test_an_endpoint_that_does_not_answer_in_time_is_retried(
    app: Flask, therapist: Therapist, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "TIMEOUT", 0.5)
    slow = Receiver(statuses=(204,), delay=3.0)
    try:
        add_endpoint(therapist, slow.url)
        administer(therapist, add_client(therapist, "C-4"), answers_for("quick", 3, 3))
        started = time.monotonic()
        before = datetime.now(UTC)
        assert sender(app).drain() == 1
        assert time.monotonic() - started < 2.5, "the attempt was cut off at the timeout"
    finally:
        slow.close()
    [attempt] = attempts_of(app)
    assert attempt.status_code is None and attempt.error == "no answer within 0.5 s"
    [row] = deliveries_of(app)
    assert row.status == "pending" and row.body is not None
    assert round((make_due(app) - before).total_seconds() / 60) == 1


REFUSED = [
    "http://hooks.example.org/x",  # not https
    "https://127.0.0.1/x",
    "https://10.1.2.3/x",
    "https://192.168.0.10/x",
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",  # loopback inside IPv6
    "https://[fe80::1]/x",
    "https://[fd00::1]/x",
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",
    "https://100.64.0.1/x",  # shared (carrier-grade NAT)
    "https://user:pass@hooks.example.org/x",
    "https://internal.example/x",  # resolves to a private address
    "https://mixed.example/x",  # one public address and one private one
    "https://nowhere.example/x",  # does not resolve
]


def fake_dns(table: dict[str, list[str]]) -> outbound.Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise outbound.Refused(f"the name {host} cannot be resolved")
        return table[host]

    return resolve


DNS = {"hooks.example.org": [PUBLIC], "internal.example": ["192.168.1.5"],
       "mixed.example": [PUBLIC, "10.0.0.7"]}  # fmt: skip


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_local_endpoints_are_refused_at_registration(
    app: Flask, therapist: Therapist, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    monkeypatch.setattr(outbound, "system_resolver", fake_dns(DNS))
    response = post(therapist.web, "/therapist/webhooks", {"url": url})
    assert response.status_code == 422
    assert "Not added" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).first() is None


def test_a_public_https_endpoint_is_accepted(
    app: Flask, therapist: Therapist, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    monkeypatch.setattr(outbound, "system_resolver", fake_dns(DNS))
    endpoint_id, secret = add_endpoint(therapist, "https://hooks.example.org/x")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert endpoint_row(app, endpoint_id).url == "https://hooks.example.org/x"


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False),
     ("169.254.169.254", False), ("::ffff:169.254.169.254", False), ("2002:a00:1::1", False),
     ("fe80::1", False), ("ff02::1", False), ("::", False), ("240.0.0.1", False),
     ("192.0.2.1", False), ("2001:db8::1", False)],
)  # fmt: skip
def test_which_addresses_count_as_public(address: str, public: bool) -> None:
    assert outbound.is_public(ipaddress.ip_address(address)) is public


def test_a_name_that_turns_private_after_registration_is_refused_at_delivery(
    app: Flask, therapist: Therapist, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    """DNS rebinding: the name was public when it was registered; before the delivery it
    resolves to 127.0.0.1, where something listens. Nothing is sent there."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    dns = dict(DNS)
    monkeypatch.setattr(outbound, "system_resolver", fake_dns(dns))
    add_endpoint(therapist, f"https://hooks.example.org:{receiver.port}/x")
    administer(therapist, add_client(therapist, "C-5"), answers_for("quick", 3, 3))
    dns["hooks.example.org"] = ["127.0.0.1"]
    assert sender(app, allow_private=False).drain() == 1
    assert receiver.requests == []
    [attempt] = attempts_of(app)
    assert attempt.error is not None and attempt.error.startswith("refused: hooks.example.org")
    assert "127.0.0.1" in attempt.error and deliveries_of(app)[0].status == "pending"


def test_the_delivery_connects_to_the_checked_address_and_names_the_host(
    app: Flask, therapist: Therapist, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    """The name is resolved once per attempt, and the request goes to that address (the
    name resolves nowhere else: no second lookup), with the name in the Host header."""
    calls = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(outbound, "system_resolver", resolve)
    add_endpoint(therapist, f"http://hooks.invalid:{receiver.port}/in")
    calls.clear()
    administer(therapist, add_client(therapist, "C-6"), answers_for("quick", 3, 3))
    sender(app).drain()
    [(path, headers, _body)] = receiver.requests
    assert calls == ["hooks.invalid"]
    assert path == "/in" and headers["host"] == f"hooks.invalid:{receiver.port}"


def test_https_keeps_the_name_for_sni_and_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    made: dict[str, Any] = {}

    class Pool:
        def __init__(self, host: str, port: int, **options: Any) -> None:
            made.update(host=host, port=port, **options)

        def urlopen(self, *args: Any, **options: Any) -> Any:
            made["request"] = (args, options)
            raise outbound.urllib3.exceptions.NewConnectionError(None, "no")  # type: ignore[arg-type]

        def close(self) -> None:
            pass

    monkeypatch.setattr(outbound.urllib3, "HTTPSConnectionPool", Pool)
    target = outbound.check("https://hooks.example.org/x?a=1", resolver=lambda h, p: [PUBLIC])
    with pytest.raises(outbound.urllib3.exceptions.NewConnectionError):
        outbound.post(target, b"{}", {})
    assert (made["host"], made["port"]) == (PUBLIC, 443)
    assert made["server_hostname"] == made["assert_hostname"] == "hooks.example.org"
    assert made["cert_reqs"] == "CERT_REQUIRED"
    args, options = made["request"]
    assert args == ("POST", "/x?a=1") and options["redirect"] is False
    assert options["headers"]["Host"] == "hooks.example.org"


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` (its own authority) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def test_over_tls_the_pinned_address_is_reached_by_name(tmp_path: Path) -> None:
    """A real TLS server on 127.0.0.1 with a certificate for hooks.test: the request goes to
    the checked address, names hooks.test in SNI and Host, and the certificate is checked
    against that name (the same address under another name is refused)."""
    import ssl

    cert_file, key_file = self_signed(tmp_path, "hooks.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = Receiver()
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    try:
        target = outbound.check(f"https://hooks.test:{server.port}/in",
                                resolver=lambda host, port: [PUBLIC])  # fmt: skip
        pinned = outbound.Target(**{**target.__dict__, "address": "127.0.0.1"})
        assert outbound.post(pinned, b"{}", {}, ca_certs=str(cert_file)) == 204
        wrong = outbound.Target(**{**pinned.__dict__, "host": "other.test"})
        with pytest.raises(outbound.urllib3.exceptions.SSLError):
            outbound.post(wrong, b"{}", {}, ca_certs=str(cert_file))
    finally:
        server.close()
    [(path, headers, _body)] = server.requests
    assert path == "/in" and headers["host"] == f"hooks.test:{server.port}"
    assert names[0] == "hooks.test"


def test_a_redirect_is_not_followed(app: Flask, therapist: Therapist) -> None:
    moved = Receiver(statuses=(302,))
    try:
        add_endpoint(therapist, moved.url)
        administer(therapist, add_client(therapist, "C-8"), answers_for("quick", 3, 3))
        sender(app).drain()
    finally:
        moved.close()
    assert len(moved.requests) == 1
    assert [a.status_code for a in attempts_of(app)] == [302]
    assert deliveries_of(app)[0].status == "pending", "a redirect is a failed attempt"


def test_the_test_event_button_sends_a_ping_once(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    endpoint_id, secret = add_endpoint(therapist, receiver.url)
    response = post(therapist.web, f"/therapist/webhooks/{endpoint_id}/test", {},
                    form_at="/therapist/webhooks")  # fmt: skip
    assert response.status_code == 303
    sender(app).drain()
    [(_path, headers, body)] = receiver.requests
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "ping" and event["data"]["endpoint_id"] == endpoint_id
    page = therapist.web.get("/therapist/webhooks").get_data(as_text=True)
    assert "ping" in page and "HTTP 204" in page


def test_a_failed_test_event_is_not_retried_and_leaves_the_endpoint_on(
    app: Flask, therapist: Therapist
) -> None:
    failing = Receiver(statuses=(500,))
    try:
        endpoint_id, _secret = add_endpoint(therapist, failing.url)
        post(therapist.web, f"/therapist/webhooks/{endpoint_id}/test", {},
             form_at="/therapist/webhooks")  # fmt: skip
        sender(app).drain()
        assert deliveries_of(app)[0].not_before is None, "no next attempt"
        assert sender(app).drain() == 0
    finally:
        failing.close()
    assert len(failing.requests) == 1 and deliveries_of(app)[0].status == "failed"
    assert endpoint_row(app, endpoint_id).disabled_at is None


def test_another_therapist_cannot_see_or_change_an_endpoint(
    app: Flask, therapist: Therapist, other: Therapist, receiver: Receiver
) -> None:
    endpoint_id, _secret = add_endpoint(therapist, receiver.url)
    page = other.web.get("/therapist/webhooks").get_data(as_text=True)
    assert receiver.url not in page and f"Endpoint {endpoint_id}" not in page
    token = csrf(other.web, "/therapist/webhooks")
    for action in ("test", "enable", "delete"):
        response = other.web.post(f"/therapist/webhooks/{endpoint_id}/{action}", data=token)
        assert response.status_code == 404, action
    assert deliveries_of(app) == [] and endpoint_row(app, endpoint_id).url == receiver.url
    response = post(therapist.web, f"/therapist/webhooks/{endpoint_id}/delete", {},
                    form_at="/therapist/webhooks")  # fmt: skip
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id) is None


def test_the_secret_is_shown_once_sealed_at_rest_and_in_no_log(
    app: Flask, therapist: Therapist, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint_id, secret = add_endpoint(therapist, receiver.url)
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    administer(therapist, add_client(therapist, "C-10"), answers_for("quick", 3, 3))
    post(therapist.web, f"/therapist/webhooks/{endpoint_id}/test", {},
         form_at="/therapist/webhooks")  # fmt: skip
    assert sender(app).drain() == 2
    page = therapist.web.get("/therapist/webhooks").get_data(as_text=True)
    assert secret not in page and secret[6:] not in page, "shown once, when it was made"
    sealed = endpoint_row(app, endpoint_id).secret
    assert raw not in sealed and secret.encode() not in sealed
    assert webhooks.open_secret(app.config["SECRET_KEY"], sealed) == raw
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook" in text, "the deliveries were logged"
    assert secret not in text and secret[6:] not in text


def test_deleting_the_client_deletes_the_events_not_yet_sent(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    add_endpoint(therapist, receiver.url)
    client_id = add_client(therapist, "C-11")
    administer(therapist, client_id, answers_for("quick", 3, 3))
    assert len(deliveries_of(app)) == 1
    response = post(therapist.web, f"/therapist/clients/{client_id}/delete",
                    {"confirm": "C-11"}, form_at=f"/therapist/clients/{client_id}")  # fmt: skip
    assert response.status_code == 303
    assert deliveries_of(app) == [] and sender(app).drain() == 0 and receiver.requests == []


def test_the_renderer_process_delivers(
    app: Flask, therapist: Therapist, receiver: Receiver, tmp_path: Path
) -> None:
    _endpoint_id, secret = add_endpoint(therapist, receiver.url)
    administer(therapist, add_client(therapist, "C-12"), answers_for("quick", 4, 4))
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
           "QUIZAPP_SECRET_KEY": app.config["SECRET_KEY"], "QUIZAPP_INSTANCE_DIR": str(tmp_path),
           "QUIZAPP_WEBHOOK_ALLOW_PRIVATE": "1"}  # fmt: skip
    log = tmp_path / "renderer.log"
    with log.open("w") as output, subprocess.Popen(
        [sys.executable, "-c", "from quizapp.cli import cli; cli()", "renderer", "--nice", "0"],
        env=env, stdout=output, stderr=subprocess.STDOUT, cwd=REPO,
    ) as renderer:  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not receiver.requests:
                assert renderer.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            renderer.send_signal(signal.SIGTERM)
            assert renderer.wait(timeout=30) == 0, log.read_text()
        finally:
            if renderer.poll() is None:
                renderer.kill()
    [(_path, headers, body)] = receiver.requests
    assert Webhook(secret).verify(body, headers)["data"]["client"]["label"] == "C-12"
    assert deliveries_of(app)[0].status == "done"
    text = log.read_text()
    assert "attempt 1: HTTP 204" in text and secret[6:] not in text


REDIS_URL = os.environ.get("QUIZAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_with_a_broker_the_event_is_a_celery_task_that_a_worker_delivers(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    from celery.contrib.testing.worker import start_worker

    from quizapp.pipeline.queue import QUEUE, ReportQueue

    from ..conftest import empty_redis
    from .journey import sign_up_with_two_factor

    broker = empty_redis(REDIS_URL)
    redis = next(broker)
    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2, WEBHOOK_ALLOW_PRIVATE=True,
                                CELERY_BROKER_URL=REDIS_URL,
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    try:
        ana = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")
        _endpoint_id, secret = add_endpoint(ana, receiver.url)
        administer(ana, add_client(ana, "C-13"), answers_for("quick", 2, 2))
        [row] = deliveries_of(app)
        [message] = redis.lrange(QUEUE, 0, -1)
        headers = json.loads(message)["headers"]
        assert headers["task"] == deliveries.TASK and json.loads(headers["argsrepr"]) == [row.id]
        assert b"C-13" not in message, "the broker carries the delivery's id, nothing else"
        worker_side = ReportQueue(REDIS_URL)
        deliveries.serve(worker_side.celery, sender(app))
        with start_worker(worker_side.celery, pool="solo", perform_ping_check=False,
                          shutdown_timeout=30, loglevel="WARNING"):  # fmt: skip
            deadline = time.monotonic() + 60
            while deliveries_of(app)[0].status != "done":
                assert time.monotonic() < deadline, "not delivered in 60 s"
                time.sleep(0.2)
        [(_path, sent, body)] = receiver.requests
        assert Webhook(secret).verify(body, sent)["data"]["client"]["label"] == "C-13"
    finally:
        app.extensions["database"].dispose()
        next(broker, None)


def test_events_are_queued_only_for_the_completing_clients_therapist(
    app: Flask, therapist: Therapist, other: Therapist, receiver: Receiver
) -> None:
    add_endpoint(therapist, receiver.url)
    administer(other, add_client(other, "B-1"), answers_for("quick", 3, 3))
    assert deliveries_of(app) == []


def test_a_delivery_whose_sender_died_is_taken_up_when_its_lease_ends(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    add_endpoint(therapist, receiver.url)
    administer(therapist, add_client(therapist, "C-14"), answers_for("quick", 3, 3))
    with app.app_context():
        claimed = deliveries.claim(db.session)  # a sender claims it, then dies
        assert claimed is not None
        assert deliveries.claim(db.session) is None, "claimed by one sender at a time"
        past = datetime.now(UTC) - timedelta(seconds=1)
        db.session.execute(update(WebhookDelivery).values(claimed_until=past))
        db.session.commit()
    assert sender(app).drain() == 1 and len(receiver.requests) == 1
    [row] = deliveries_of(app)
    assert (row.status, row.attempts) == ("done", 2)


def test_after_a_key_rotation_the_secret_opens_and_is_sealed_again(
    app: Flask, therapist: Therapist, receiver: Receiver
) -> None:
    endpoint_id, secret = add_endpoint(therapist, receiver.url)
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    old_key, new_key = app.config["SECRET_KEY"], "a new secret key"
    with app.app_context():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert webhooks.open_secret(new_key, endpoint.secret, [old_key]) == raw
        assert webhooks.reseal_endpoint(new_key, [old_key], endpoint) is True
        assert webhooks.reseal_endpoint(new_key, [old_key], endpoint) is False
        assert webhooks.open_secret(new_key, endpoint.secret) == raw
        db.session.commit()
    administer(therapist, add_client(therapist, "C-15"), answers_for("quick", 3, 3))
    rotated = deliveries.Deliverer(app.extensions["database"].sessions, new_key,
                                   allow_private=True)  # fmt: skip
    assert rotated.drain() == 1
    [(_path, headers, body)] = receiver.requests
    assert Webhook(secret).verify(body, headers)["type"] == "invitation.completed"


def test_the_worker_entry_point_serves_deliveries_and_sweeps_them_on_beat(
    app: Flask, therapist: Therapist, receiver: Receiver, tmp_path: Path
) -> None:
    """``quizapp.worker`` (what ``celery -A quizapp.worker:celery`` loads) registers the
    delivery task and a beat sweep that sends what is due, e.g. when a message was lost."""
    add_endpoint(therapist, receiver.url)
    administer(therapist, add_client(therapist, "C-16"), answers_for("quick", 3, 3))
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
           "QUIZAPP_SECRET_KEY": app.config["SECRET_KEY"], "QUIZAPP_INSTANCE_DIR": str(tmp_path),
           "QUIZAPP_CELERY_BROKER_URL": REDIS_URL,
           "QUIZAPP_WEBHOOK_ALLOW_PRIVATE": "1"}  # fmt: skip
    code = ("import quizapp.worker as w; s = w.celery.conf.beat_schedule['webhook sweep'];"
            "print(s['task'], s['schedule'], 'quizapp.deliver_webhook' in w.celery.tasks);"
            "print(w.webhook_sweep())")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["quizapp.webhook_sweep 60.0 True", "1"]
    assert len(receiver.requests) == 1 and deliveries_of(app)[0].status == "done"


def test_test_events_are_rate_limited_per_therapist(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    from ..conftest import with_limits
    from .journey import sign_up_with_two_factor

    app = create_app(app_config(database_url, ARGON2=LIGHT_ARGON2, WEBHOOK_ALLOW_PRIVATE=True,
                                RATE_LIMITS=with_limits(webhook_test="2/hour"),
                                MAIL_OUTBOX=str(tmp_path / "outbox")))  # fmt: skip
    try:
        ana = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")
        endpoint_id, _secret = add_endpoint(ana, receiver.url)
        statuses = [post(ana.web, f"/therapist/webhooks/{endpoint_id}/test", {},
                         form_at="/therapist/webhooks").status_code for _ in range(3)]  # fmt: skip
        assert statuses == [303, 303, 429]
        assert len(deliveries_of(app)) == 2
    finally:
        app.extensions["database"].dispose()
