"""Bad input on the therapist and account routes is a clear 4xx, never a 500.

Every route is taken from ``app.url_map``: ids out of the range a row id can have are a 404
(finding 8 of the security review: a 20-digit id was an ``OverflowError`` on SQLite), and a
hypothesis fuzz sends each therapist and account route at least 200 requests with ids of any
size, odd tokens and form fields filled with anything, from a signed-in therapist with a
valid CSRF token, so the view code itself is reached.
"""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .journey import Therapist, add_client, invite
from .test_access import csrf_token, methods

FUZZED = ("therapist.", "auth.")
EXAMPLES = 200
_ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")


def fuzzed_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every therapist and account route."""
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(FUZZED)
        for method in methods(rule)
    )


def fill(rule: str, values: dict[str, Any]) -> str:
    return _ARGUMENT.sub(lambda m: str(values[m.group(2)]), rule)


def field_names(t: Therapist, app: Flask) -> list[str]:
    """The names of the inputs on every therapist and account page a therapist can open."""
    names: set[str] = set()
    for _endpoint, method, rule in fuzzed_routes(app):
        if method == "GET" and "<" not in rule:
            page = t.web.get(rule).get_data(as_text=True)
            names |= set(re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', page))
    return sorted(names - {"csrf_token"})


def test_ids_out_of_range_are_404_on_every_route_with_an_id(
    app: Flask, therapist: Therapist
) -> None:
    client_id = add_client(therapist, "A-001", "")
    invite(therapist, client_id)
    token = csrf_token(therapist, client_id)
    with_ids = [(e, m, r) for e, m, r in fuzzed_routes(app) if "_id>" in r]
    assert len(with_ids) >= 8, with_ids
    for endpoint, method, rule in with_ids:
        for bad in (0, 2**31, 10**19, 10**30, -1):
            ids = {name: bad for _, name in _ARGUMENT.findall(rule)}
            if "client_id" in ids and bad != 0:
                ids["client_id"] = (
                    client_id if "submission_id" in ids or "invite_id" in ids else bad
                )
            path = fill(rule, ids)
            response = therapist.web.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 404, (endpoint, method, path, response.status_code)


@pytest.fixture
def signed_in(app: Flask, therapist: Therapist) -> tuple[Therapist, int, str, list[str]]:
    client_id = add_client(therapist, "A-001", "a note")
    invite(therapist, client_id)
    return therapist, client_id, csrf_token(therapist, client_id), field_names(therapist, app)


# Every therapist and account route (a test checks this against the URL map).
ROUTES = [
    ("auth.account", "GET"), ("auth.new_recovery_codes", "POST"), ("auth.request_reset", "GET"),
    ("auth.request_reset", "POST"), ("auth.reset", "GET"), ("auth.reset", "POST"),
    ("auth.second_factor", "GET"), ("auth.second_factor", "POST"),
    ("auth.setup_two_factor", "GET"), ("auth.setup_two_factor", "POST"),
    ("auth.sign_in", "GET"), ("auth.sign_in", "POST"), ("auth.sign_out", "POST"),
    ("auth.sign_up", "GET"), ("auth.sign_up", "POST"), ("therapist.all_csv", "GET"),
    ("therapist.all_fhir", "GET"), ("therapist.audit_log", "GET"), ("therapist.client", "GET"),
    ("therapist.client_csv", "GET"), ("therapist.client_fhir", "GET"),
    ("therapist.create_invite", "POST"), ("therapist.dashboard", "GET"),
    ("therapist.delete_client", "POST"), ("therapist.email_invite", "POST"),
    ("therapist.new_client", "GET"),
    ("therapist.new_client", "POST"), ("therapist.report", "GET"), ("therapist.result", "GET"),
    ("therapist.revoke_invite", "POST"), ("therapist.webhooks_page", "GET"),
    ("therapist.add_webhook", "POST"), ("therapist.test_webhook", "POST"),
    ("therapist.enable_webhook", "POST"), ("therapist.remove_webhook", "POST"),
]  # fmt: skip


def test_every_therapist_and_account_route_is_fuzzed(app: Flask) -> None:
    """A route added later is missing here, and this fails until it is fuzzed too."""
    assert sorted((e, m) for e, m, _ in fuzzed_routes(app)) == sorted(ROUTES)


ANY_ID = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([1, 2, 3]))
TOKEN = st.text(string.ascii_letters + string.digits + "-_.~%", min_size=0, max_size=80)
TEXT = st.text(max_size=300)


@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_fuzzed_requests_never_get_a_500(
    app: Flask, signed_in: tuple[Therapist, int, str, list[str]], endpoint: str, method: str
) -> None:
    rule = next(r for e, m, r in fuzzed_routes(app) if (e, m) == (endpoint, method))
    therapist, client_id, token, names = signed_in

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(
        ids=st.fixed_dictionaries({name: ANY_ID for _, name in _ARGUMENT.findall(rule)}),
        tokens=TOKEN,
        form=st.dictionaries(st.sampled_from([*names, "x", "id"]), TEXT, max_size=6),
    )
    def one(ids: dict[str, int], tokens: str, form: dict[str, str]) -> None:
        values = {name: tokens if name == "token" else ids.get(name, client_id)
                  for _, name in _ARGUMENT.findall(rule)}  # fmt: skip
        path = fill(rule, values)
        if not path.startswith("/"):
            return
        response = therapist.web.open(path, method=method, data={**form, "csrf_token": token})
        assert response.status_code < 500, (endpoint, method, path, form, response.status_code)

    one()


def test_a_nul_character_is_a_400_not_a_database_error(app: Flask) -> None:
    """Found by the fuzz on PostgreSQL, which cannot store NUL in a text column: a reset
    request for the address "\\x00" was a 500."""
    web = app.test_client()
    page = web.get("/account/reset").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    response = web.post("/account/reset", data={"csrf_token": token.group(1), "email": "a\x00b"})
    assert response.status_code == 400
    assert "no form of this site sends" in response.get_data(as_text=True)
    assert web.get("/therapist/?q=%00").status_code == 400
