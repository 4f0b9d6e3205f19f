"""Requests the service makes to addresses a therapist gave (webhook endpoints), kept from
reaching anything inside the operator's network (SSRF).

An endpoint must be an https URL without user name or password. Its host name is resolved,
and every address it resolves to must be public: private, loopback, link-local (the cloud
metadata service at 169.254.169.254), multicast, reserved, unspecified and shared addresses
are refused, IPv4 and IPv6 alike, including IPv4 addresses carried inside IPv6 (mapped, 6to4,
Teredo). This is checked when the endpoint is registered and again before every delivery,
and the delivery connects to the address that was checked (no second lookup that DNS could
answer differently), with TLS still verified for the host name (SNI, certificate, Host
header). Redirects are not followed. ``allow_private`` (``QUIZAPP_WEBHOOK_ALLOW_PRIVATE``)
lifts the address rules and allows http, for tests and development only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

TIMEOUT = 5.0  # seconds for one attempt: connecting, sending and reading the answer's head
MAX_URL = 2000
Resolver = Callable[[str, int], list[str]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """An address the service will not send to; the message says why, for the therapist."""


@dataclass(frozen=True)
class Target:
    """A checked endpoint: where to connect (``address``) and what to name (``host``)."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolves ``host`` to (IPv4 and IPv6)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the name {host} cannot be resolved") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def is_public(address: IP) -> bool:
    """Whether ``address`` is a public unicast address (the IPv4 inside an IPv6 address
    counts: ``::ffff:127.0.0.1`` is loopback)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is not None and not is_public(inner):
            return False
    refused = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not refused


def parse_url(url: str, *, allow_private: bool = False) -> tuple[str, str, int, str]:
    """Scheme, host, port and path (with the query) of an endpoint URL, or ``Refused``."""
    if len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused("give one web address, without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("that is not a valid web address") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise Refused("the address must start with https://")
    if parts.username is not None or parts.password is not None:
        raise Refused("the address must not hold a user name or password")
    if parts.fragment:
        raise Refused("the address must not have a #fragment")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname.rstrip(".").lower(), port, path


def check(url: str, *, allow_private: bool = False, resolver: Resolver | None = None) -> Target:
    """The endpoint at ``url`` with the address to connect to, or ``Refused`` (a URL that is
    not https, or a host with any address that is not public)."""
    scheme, host, port, path = parse_url(url, allow_private=allow_private)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        found = (resolver or system_resolver)(host, port)
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses:
        raise Refused(f"the name {host} cannot be resolved")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(
                    f"{host} is a private, local or reserved address "
                    f"({address}): webhooks go to public addresses only"
                )
    return Target(scheme, host, port, path, str(addresses[0]))


def post(
    target: Target,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float = TIMEOUT,
    ca_certs: str | None = None,
) -> int:
    """POST ``body`` to the checked address of ``target``; the HTTP status. Raises
    ``urllib3.exceptions.HTTPError`` (or ``OSError``) when no answer came in ``timeout``.
    The certificate must be valid for the host name, from the system's authorities (or
    ``ca_certs``, a file of them: tests)."""
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address,
            target.port,
            maxsize=1,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
        )
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": "Secure-Base-Webhooks/1",
            },
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            response.read(1024, decode_content=False)  # enough to end the exchange politely
        finally:
            response.release_conn()
        return int(response.status)
    finally:
        pool.close()
