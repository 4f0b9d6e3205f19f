"""Rate limits on what a visitor can flood (security review, finding 7): quiz submissions and
receipt lookups are limited per network address, with a clear 429 page and Retry-After; keys
are keyed hashes of the address, kept only for their window; memory by default, Redis when
configured. Before, nothing limited either."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from quizapp.app import create_app
from quizapp.config import DEFAULT_RATE_LIMITS, SettingError, from_environment
from quizapp.storage import receipts
from quizapp.web.ratelimits import network_of

from ..conftest import app_config, client_at, empty_redis, hidden_fields, with_limits
from .test_quiz import answers, start, stored

REDIS_URL = os.environ.get("QUIZAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
ATTACKER, NEIGHBOUR = "198.51.100.7", "203.0.113.9"
TOO_MANY = "too many requests from your network"


def limited_app(database_url: str, **limits: str) -> Flask:
    return create_app(app_config(database_url, RATE_LIMITS=with_limits(**limits)))


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = limited_app(database_url)
    yield app
    app.extensions["database"].dispose()


at = client_at


def submit(web: FlaskClient) -> int:
    return web.post("/quiz/quick", data=start(web) | answers()).status_code


def assert_refused(response: object, longest: int) -> None:
    """A 429 page that says why and how long, with a Retry-After of 1..``longest`` s."""
    status = getattr(response, "status_code", None)
    assert status == 429, status
    retry = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    assert 1 <= retry <= longest
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "<h1>Please wait a moment</h1>" in page
    assert TOO_MANY in page and "nothing was stored" in page and "wait" in page


# ---- Quiz submissions ------------------------------------------------------------------------


def test_the_shipped_submit_limit_stops_a_flood_and_stores_nothing_more(app: Flask) -> None:
    attacker = at(app, ATTACKER)
    assert [submit(attacker) for _ in range(20)] == [303] * 20
    fields = start(attacker)  # the quiz page itself stays open
    refused = attacker.post("/quiz/quick", data=fields | answers())
    assert_refused(refused, longest=60)
    assert stored(app) == 20
    assert submit(at(app, NEIGHBOUR)) == 303  # another address is not affected
    assert stored(app) == 21


def test_the_limit_counts_the_network_of_an_ipv6_address(database_url: str) -> None:
    app = limited_app(database_url, submit="2/minute")
    assert [submit(at(app, f"2001:db8:1:2::{n}")) for n in (1, 2)] == [303, 303]
    assert submit(at(app, "2001:db8:1:2:ffff::9")) == 429  # the same /64: the same household
    assert submit(at(app, "2001:db8:1:3::1")) == 303
    assert network_of("::ffff:192.0.2.1") == "192.0.2.1"
    app.extensions["database"].dispose()


# ---- Receipt lookups -------------------------------------------------------------------------


def test_wrong_receipt_codes_are_limited_then_even_a_right_one_waits(app: Flask) -> None:
    visitor = at(app, NEIGHBOUR)
    code = visitor.post("/quiz/quick", data=start(visitor) | answers()).headers["Location"]
    attacker = at(app, ATTACKER)
    for _ in range(20):  # the shipped lookup-miss limit: 20 a minute
        assert attacker.get(f"/r/{receipts.new_code()}").status_code == 404
    assert_refused(attacker.get(f"/r/{receipts.new_code()}"), longest=60)
    assert_refused(attacker.get(code), longest=60)  # a right guess is not told apart
    assert attacker.get(f"{code}/report.pdf").status_code == 429
    assert visitor.get(code).status_code == 200  # the owner, elsewhere, is not affected


def test_the_open_form_and_direct_links_count_alike(database_url: str) -> None:
    app = limited_app(database_url, lookup_miss="3/minute")
    attacker = at(app, ATTACKER)
    fields = hidden_fields(attacker.get("/open").get_data(as_text=True))
    for _ in range(2):  # the form says no such result (and counts the guess)...
        assert (
            attacker.post("/open", data=fields | {"code": receipts.new_code()}).status_code == 404
        )
    assert attacker.get(f"/r/{receipts.new_code()}").status_code == 404  # ...as a link does
    assert attacker.post("/open", data=fields | {"code": receipts.new_code()}).status_code == 429
    assert attacker.get(f"/r/{receipts.new_code()}").status_code == 429
    for path in ("/r/{}/delete", "/r/{}/report.pdf"):  # every page named by a code
        assert attacker.get(path.format(receipts.new_code())).status_code == 429
    app.extensions["database"].dispose()


def test_reading_your_own_result_often_is_not_a_guess(database_url: str) -> None:
    app = limited_app(database_url, lookup_miss="2/minute")
    visitor = at(app, NEIGHBOUR)
    code = visitor.post("/quiz/quick", data=start(visitor) | answers()).headers["Location"]
    for _ in range(30):  # found, so only the wide lookup limit counts these
        assert visitor.get(code).status_code == 200
    app.extensions["database"].dispose()


def test_the_lookup_limit_bounds_any_flood_of_result_pages(database_url: str) -> None:
    app = limited_app(database_url, lookup="5/minute")
    visitor = at(app, NEIGHBOUR)
    code = visitor.post("/quiz/quick", data=start(visitor) | answers()).headers["Location"]
    assert [visitor.get(code).status_code for _ in range(6)] == [200] * 5 + [429]
    app.extensions["database"].dispose()


# ---- Keys, storage, switches -----------------------------------------------------------------


def test_memory_keys_are_keyed_hashes_not_addresses(database_url: str) -> None:
    app = limited_app(database_url, submit="1/minute")
    assert submit(at(app, ATTACKER)) == 303
    keys = list(app.extensions["rate_limits"].storage.storage)
    assert keys and not any(ATTACKER in key or "198.51" in key for key in keys)
    other = create_app(app_config(database_url, SECRET_KEY="another secret"))
    hashed = app.extensions["rate_limits"].key("address", ATTACKER)
    assert other.extensions["rate_limits"].key("address", ATTACKER) != hashed  # keyed
    app.extensions["database"].dispose()
    other.extensions["database"].dispose()


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    yield from empty_redis(REDIS_URL)


def test_redis_shares_counts_between_workers_and_forgets_them(
    database_url: str, shared_redis: redis.Redis
) -> None:
    limits = DEFAULT_RATE_LIMITS | {"submit": "3/minute;10/hour"}
    settings = app_config(database_url, RATELIMIT_STORAGE=REDIS_URL, RATE_LIMITS=limits)
    first, second = create_app(settings), create_app(settings)  # two workers, one Redis
    assert [submit(at(first, ATTACKER)), submit(at(second, ATTACKER))] == [303, 303]
    assert submit(at(first, ATTACKER)) == 303
    assert submit(at(second, ATTACKER)) == 429
    keys = [key.decode() for key in shared_redis.keys("*")]
    assert keys and not any("198.51" in key for key in keys)
    for key in keys:  # each count expires with its window (sliding: at most two windows)
        assert 0 < shared_redis.ttl(key) <= 2 * 3600
    first.extensions["database"].dispose()
    second.extensions["database"].dispose()


def test_unreachable_storage_lets_requests_through_and_says_so(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    limits = DEFAULT_RATE_LIMITS | {"submit": "1/minute"}
    closed_port = "redis://127.0.0.1:9/0"
    app = create_app(app_config(database_url, RATELIMIT_STORAGE=closed_port, RATE_LIMITS=limits))
    with caplog.at_level(logging.WARNING, logger="quizapp"):
        assert [submit(at(app, ATTACKER)) for _ in range(3)] == [303] * 3
    warnings = [r for r in caplog.records if "rate-limit storage unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a request
    app.extensions["database"].dispose()


def test_limits_can_be_set_or_switched_off_from_the_environment(tmp_path: Path) -> None:
    base = {"QUIZAPP_INSTANCE_DIR": str(tmp_path)}
    assert from_environment(base)["RATE_LIMITS"] == DEFAULT_RATE_LIMITS
    assert from_environment(base | {"QUIZAPP_RATE_LIMITS": "off"})["RATE_LIMITS"] is None
    custom = from_environment(base | {"QUIZAPP_RATE_LIMITS": "submit=5/minute;50/day"})
    assert custom["RATE_LIMITS"] == DEFAULT_RATE_LIMITS | {"submit": "5/minute;50/day"}
    for wrong in ("submits=5/minute", "submit=5 per minute", "submit=0/minute", "submit=5/week"):
        with pytest.raises(SettingError, match="QUIZAPP_RATE_LIMITS"):
            from_environment(base | {"QUIZAPP_RATE_LIMITS": wrong})


def test_switched_off_nothing_is_limited(database_url: str) -> None:
    app = create_app(app_config(database_url, RATE_LIMITS=None))
    attacker = at(app, ATTACKER)
    assert all(attacker.get(f"/r/{receipts.new_code()}").status_code == 404 for _ in range(25))
    app.extensions["database"].dispose()
