"""Limits on how often one network address (or one account) may do something costly or
guessable: send answers (each costs a PDF render), look up receipt codes and links, sign up,
sign in, ask for password resets (also per account, so nobody can flood a therapist's inbox).

The ``limits`` library counts, with its sliding-window-counter strategy, in this process's
memory by default, or in Redis when ``QUIZAPP_RATELIMIT_STORAGE`` names one (then every worker
shares the counts). No address is stored: a counter's key is a keyed hash (HMAC-SHA256 under a
key derived from the secret key) of the address (of its /64 network for IPv6, which one
household holds whole), and the storage forgets it when its window ends.

If the storage cannot be reached, requests are let through and a warning is logged (at most
once a minute): a Redis outage must not take the service down with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.exceptions import NotFound, TooManyRequests

F = TypeVar("F", bound=Callable[..., Any])

MESSAGE = (
    "There were too many requests from your network in a short time, so this one was not "
    "carried out and nothing was stored. Please wait {wait} and try again."
)


def network_of(address: str) -> str:
    """The address a limit counts: an IPv4 address, or the /64 network of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_network() -> str:
    """The network address this request came from (after ``QUIZAPP_PROXY_HOPS``)."""
    return network_of(request.remote_addr or "unknown")


class RateLimits:
    """One app's limits, counters and key."""

    def __init__(self, limits: Mapping[str, str], storage_uri: str, secret: str) -> None:
        self.limits: dict[str, list[RateLimitItem]] = {
            name: parse_many(text) for name, text in limits.items()
        }
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._key = hmac.new(secret.encode(), b"rate-limit keys", hashlib.sha256).digest()
        self._warned = 0.0

    def key(self, kind: str, value: str) -> str:
        """The counter key for ``value`` (an address, an e-mail address): a keyed hash."""
        message = f"{kind}\0{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def spend(self, name: str, key: str, message: str = MESSAGE) -> None:
        """Count one use; a 429 if any of ``name``'s limits is used up."""
        over = lambda item: not self.strategy.hit(item, name, key)  # noqa: E731
        self._refuse_if(over, name, key, message)

    def check(self, name: str, key: str) -> None:
        """A 429 if any of ``name``'s limits is used up, without counting this request."""
        over = lambda item: not self.strategy.test(item, name, key)  # noqa: E731
        self._refuse_if(over, name, key, MESSAGE)

    def _refuse_if(
        self, over: Callable[[RateLimitItem], bool], name: str, key: str, message: str
    ) -> None:
        try:
            for item in self.limits[name]:
                if over(item):
                    reset_at = self.strategy.get_window_stats(item, name, key).reset_time
                    raise too_many(max(1, math.ceil(reset_at - time.time())), message)
        except StorageError as exc:
            self._storage_down(exc)

    def _storage_down(self, exc: StorageError) -> None:
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            current_app.logger.warning(
                "rate-limit storage unreachable (%s); requests are not limited",
                type(exc.storage_error).__name__,
            )


def too_many(seconds: int, message: str = MESSAGE) -> TooManyRequests:
    """A 429 whose page and ``Retry-After`` header say how long to wait."""
    minutes = math.ceil(seconds / 60)
    wait = f"about {minutes} minute{'s' if minutes > 1 else ''}" if seconds > 60 else "a minute"
    return TooManyRequests(message.format(wait=wait), retry_after=seconds)


def current() -> RateLimits | None:
    """This app's limits, or None when they are switched off."""
    found: RateLimits | None = current_app.extensions.get("rate_limits")
    return found


def spend_for(name: str, kind: str, value: str, message: str = MESSAGE) -> None:
    """Count one use of ``name`` by ``value`` (an account, say, of ``kind``); a 429 with
    ``message`` (``{wait}`` in it says how long) when over the limit."""
    limits = current()
    if limits is not None:
        limits.spend(name, limits.key(kind, value), message)


POSTS = ("POST",)
LOOKUPS = ("GET", "HEAD", "POST")


def limited(name: str, *, misses: str | None = None, methods: tuple[str, ...] = POSTS) -> (
    Callable[[F], F]
):  # fmt: skip
    """A view whose ``methods`` requests count against ``name`` for the caller's address;
    with ``misses``, its 404 answers also count against that (a 429 once it is used up, even
    for a right code, so that guessing stays slow)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            limits = current()
            if limits is None or request.method not in methods:
                return view(*args, **kwargs)
            key = limits.key("address", client_network())
            limits.spend(name, key)
            if misses is None:
                return view(*args, **kwargs)
            limits.check(misses, key)
            try:
                response = view(*args, **kwargs)
            except NotFound:
                _count_miss(limits, misses, key)
                raise
            return response

        return cast(F, wrapped)

    return decorate


def _count_miss(limits: RateLimits, name: str, key: str) -> None:
    """Count a 404 against ``name`` (the 404 still goes out, even when that used it up)."""
    with contextlib.suppress(TooManyRequests):
        limits.spend(name, key)


def note_miss(name: str = "lookup-miss") -> None:
    """Count a lookup that named nothing without a 404 (a wrong code typed into a form)."""
    limits = current()
    if limits is not None:
        _count_miss(limits, name, limits.key("address", client_network()))


def init_app(app: Flask) -> None:
    """Limits from ``RATE_LIMITS`` (None: off), counted in ``RATELIMIT_STORAGE``."""
    limits = app.config.get("RATE_LIMITS")
    if limits is None:
        app.extensions.pop("rate_limits", None)
        return
    app.extensions["rate_limits"] = RateLimits(
        limits, app.config["RATELIMIT_STORAGE"], app.config["SECRET_KEY"]
    )
