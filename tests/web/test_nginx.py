"""Behind a real reverse proxy (security review, finding 6): Debian's nginx, running the site
file the project ships (deploy/nginx/secure-base.conf), in front of gunicorn on 127.0.0.1,
with QUIZAPP_PROXY_HOPS=1. Checked end to end over TLS: the app tells clients apart by their
own address (not the proxy's, and not one a client wrote into X-Forwarded-For), it knows the
request came over https (HSTS, secure cookies), a forged Host header is refused, and the access
log holds no receipt code and no client address.

Clients connect from several loopback addresses (127.0.0.2, 127.0.0.3, ...): all of 127/8 is
this machine, so each is a different client address to nginx."""

from __future__ import annotations

import datetime
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from quizapp.storage import receipts
from quizapp.storage.database import migrate_fresh

from ..conftest import REPO, hidden_fields
from .test_quiz import answers

SITE = REPO / "deploy" / "nginx" / "secure-base.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HSTS_MIN = 180 * 24 * 3600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def site_for_test(folder: Path, app_port: int, http_port: int, https_port: int) -> str:
    """The shipped site file with this test's ports, name, certificate and log folder."""
    cert, key = self_signed(folder)
    text = SITE.read_text()
    changes = {
        "127.0.0.1:8000": f"127.0.0.1:{app_port}",
        "listen 80": f"listen 127.0.0.1:{http_port}",
        "listen 443": f"listen 127.0.0.1:{https_port}",
        "quiz.example.org;": "localhost;",
        "/etc/letsencrypt/live/quiz.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/quiz.example.org/privkey.pem": str(key),
        "/var/log/nginx/secure-base.access.log": str(folder / "access.log"),
    }
    for old, new in changes.items():
        assert old in text, f"the site file no longer has {old!r}: update this test"
        text = text.replace(old, new)
    return text


def nginx_conf(folder: Path, site: str) -> Path:
    (folder / "site.conf").write_text(site)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n{temp}\n    include {folder / 'site.conf'};\n}}\n"
    )
    return conf


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, f"it stopped:\n{log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing on port {port}:\n{log.read_text()}"
            time.sleep(0.2)


@dataclass
class Stack:
    folder: Path
    app_port: int
    http_port: int
    https_port: int
    context: ssl.SSLContext

    def request(self, path: str, source: str = "127.0.0.2", method: str = "GET",
                headers: dict[str, str] | None = None, body: str | None = None,
                ) -> http.client.HTTPResponse:  # fmt: skip
        """A request over TLS to nginx (SNI and Host ``localhost``) from ``source``."""
        with closing(Through(self.https_port, source, self.context)) as connection:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            response.read()
            return response

    def page(self, path: str, source: str = "127.0.0.2", **kwargs: object) -> tuple[int, str]:
        with closing(Through(self.https_port, source, self.context)) as connection:
            connection.request("GET", path, **kwargs)  # type: ignore[arg-type]
            response = connection.getresponse()
            return response.status, response.read().decode()


class Through(http.client.HTTPSConnection):
    """An https connection to nginx on 127.0.0.1 that names ``localhost`` (SNI, Host) and
    leaves from the loopback address ``source``."""

    def __init__(self, port: int, source: str, context: ssl.SSLContext) -> None:
        super().__init__("localhost", port, context=context, timeout=60,
                         source_address=(source, 0))  # fmt: skip

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout,
                                        self.source_address)  # fmt: skip
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost")  # type: ignore[attr-defined]


def browser_referer(policy: str, page_url: str) -> dict[str, str]:
    """The Referer header a browser sends with a form posted to the page's own origin."""
    origin = page_url.split("/", 3)[:3]
    sent = {"no-referrer": None, "origin": "/".join(origin) + "/", "strict-origin": "/".join(
        origin) + "/", "same-origin": page_url, "strict-origin-when-cross-origin": page_url,
        "origin-when-cross-origin": page_url, "no-referrer-when-downgrade": page_url,
        "unsafe-url": page_url}[policy]  # fmt: skip
    return {"Referer": sent} if sent else {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install nginx (.ci/run does)", pytrace=False)
    folder = tmp_path_factory.mktemp("nginx")
    os.chmod(folder, 0o755)
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    database = f"sqlite:///{folder / 'quiz.db'}"
    migrate_fresh(database)
    env = {**os.environ, "DATABASE_URL": database, "QUIZAPP_SECRET_KEY": "nginx-test",
           "QUIZAPP_INSTANCE_DIR": str(folder), "QUIZAPP_PROXY_HOPS": "1",
           "QUIZAPP_BASE_URL": f"https://localhost:{https_port}",
           "QUIZAPP_RATE_LIMITS": "lookup-miss=3/minute",
           "QUIZAPP_REPORT_PRERENDER": "0"}  # fmt: skip
    gunicorn = Path(sys.executable).parent / "gunicorn"
    web_log, nginx_log = folder / "gunicorn.log", folder / "nginx.out"
    conf = nginx_conf(folder, site_for_test(folder, app_port, http_port, https_port))
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(folder)],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
    with web_log.open("w") as web_out, nginx_log.open("w") as nginx_out:
        web = subprocess.Popen(
            [str(gunicorn), "--workers", "1", "--no-control-socket",
             "--bind", f"127.0.0.1:{app_port}", "quizapp.app:create_app()"],
            env=env, cwd=REPO, stdout=web_out, stderr=web_out,
        )  # fmt: skip
        proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(folder)],
                                 stdout=nginx_out, stderr=nginx_out)  # fmt: skip
        try:
            wait_for(app_port, web, web_log)
            wait_for(https_port, proxy, nginx_log)
            context = ssl.create_default_context(cafile=str(folder / "cert.pem"))
            yield Stack(folder, app_port, http_port, https_port, context)
        finally:
            for process in (proxy, web):
                process.terminate()
                process.wait(timeout=30)


def test_https_through_nginx_turns_on_hsts_and_secure_cookies(stack: Stack) -> None:
    response = stack.request("/quiz/quick")
    assert response.status == 200
    hsts = response.headers["Strict-Transport-Security"]
    assert int(hsts.removeprefix("max-age=")) >= HSTS_MIN
    [cookie] = [c for c in response.headers.get_all("Set-Cookie") if c.startswith("sb_session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers["Server"] == "nginx"  # no version for an attacker to look up


def test_plain_http_is_sent_to_https(stack: Stack) -> None:
    with closing(http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)) as plain:
        plain.request("GET", "/privacy", headers={"Host": "localhost"})
        response = plain.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == "https://localhost/privacy"
    assert "Strict-Transport-Security" not in response.headers  # never over plain http


def test_each_client_is_counted_by_its_own_address(stack: Stack) -> None:
    guesser, forger, neighbour = "127.0.0.2", "127.0.0.3", "127.0.0.4"
    for _ in range(3):  # the test's limit: 3 unknown receipt codes a minute
        assert stack.request(f"/r/{receipts.new_code()}", guesser).status == 404
    refused = stack.request(f"/r/{receipts.new_code()}", guesser)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    # A forged X-Forwarded-For neither frees the guesser nor blames someone else.
    disguised = {"X-Forwarded-For": "192.0.2.50"}
    assert stack.request(f"/r/{receipts.new_code()}", guesser, headers=disguised).status == 429
    blaming = {"X-Forwarded-For": guesser}
    assert stack.request(f"/r/{receipts.new_code()}", forger, headers=blaming).status == 404
    # Were the proxy's address taken for everyone's, the neighbour would be refused too.
    assert stack.request(f"/r/{receipts.new_code()}", neighbour).status == 404


def test_a_forged_host_is_refused(stack: Stack) -> None:
    # nginx's catch-all servers close the connection (444), over https and http alike
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        stack.request("/", headers={"Host": "evil.example"})
    with (closing(http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)) as plain,
          pytest.raises((http.client.RemoteDisconnected, ConnectionResetError))):  # fmt: skip
        plain.request("GET", "/", headers={"Host": "evil.example"})
        plain.getresponse()
    forwarded = {"X-Forwarded-Host": "evil.example"}  # a header the site file does not pass
    status, page = stack.page("/account/reset", headers=forwarded)
    assert status == 200 and "evil.example" not in page
    with closing(http.client.HTTPConnection("127.0.0.1", stack.app_port, timeout=30)) as direct:
        direct.request("GET", "/", headers={"Host": "evil.example"})  # past nginx: the app
        assert direct.getresponse().status == 400


def test_a_visitor_s_journey_leaves_no_code_and_no_address_in_the_access_log(
    stack: Stack,
) -> None:
    source = "127.0.0.5"
    with closing(Through(stack.https_port, source, stack.context)) as quiz:
        quiz.request("GET", "/quiz/quick")
        response = quiz.getresponse()
        fields = hidden_fields(response.read().decode())
    cookies = response.headers.get_all("Set-Cookie")
    [cookie] = [c.split(";", 1)[0] for c in cookies if c.startswith("sb_session=")]
    body = urlencode(fields | answers())
    # As a browser would send it under the page's referrer policy. With "no-referrer" (before)
    # no Referer went out, and over https the CSRF check refused every form with a 400.
    page_url = f"https://localhost:{stack.https_port}/quiz/quick"
    referer = browser_referer(response.headers["Referrer-Policy"], page_url)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    sent = stack.request("/quiz/quick", source, "POST", body=body, headers=headers | referer)
    assert sent.status == 303, sent.status
    result = sent.headers["Location"]
    code = result.rsplit("/", 1)[1]
    assert stack.request(result, source).status == 200
    assert stack.request(f"{result}/delete", source).status == 200
    for download in ("data.json", "fhir.json"):  # "Download my data"
        assert stack.request(f"{result}/{download}", source).status == 200
    time.sleep(0.5)  # nginx writes its log line after the response
    log = (stack.folder / "access.log").read_text()
    assert '"GET /r/<code>"' in log and '"POST /quiz/quick" 303' in log
    assert '"GET /r/<code>/data.json" 200' in log and '"GET /r/<code>/fhir.json" 200' in log
    assert code not in log and receipts.display(code) not in log
    assert "127.0.0." not in log
    assert code not in (stack.folder / "gunicorn.log").read_text(), "nor the app's own log"
