"""Schemathesis against the running app (in-process WSGI): every operation of the document
with at least 200 generated requests, valid and invalid, a therapist's with a token of both
scopes. Checks: no 5xx, every status code documented, every body and content type and every
documented header as the document says.

One app for the module (SQLite in a temporary folder, rate limits off so that guesses are
answered, not refused), shared by every operation's examples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from quizapp.storage.database import migrate_fresh
from quizapp.web.api.spec import paths
from quizapp.web.forms import issue_token

from ..therapists.journey import (
    add_client,
    administer,
    answers_for,
    invite,
    sign_up_with_two_factor,
)
from .conftest import UNCERTAIN, api_app, bearer, make_token, submit

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]  # fmt: skip
EXAMPLES = 200  # valid requests per operation
INVALID_EXAMPLES = 100  # and invalid ones (wrong types, missing fields, out of range...)


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """An app with a therapist who has a client with a result and an invitation, and a token
    of both scopes; and a stored anonymous result."""
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'api.db'}"
    migrate_fresh(url)
    app = api_app(url, folder, RATE_LIMITS=None)
    person = sign_up_with_two_factor(app.test_client(), "ana@example.org", "Dr Ana Ruiz")
    client_id = add_client(person, "C-001")
    invite(person, client_id)
    administer(person, client_id, answers_for("quick", 4, 2))
    code = submit(app.test_client(), UNCERTAIN)["receipt_code"]
    app.config["KNOWN_RECEIPT"] = code
    yield app, make_token(person, ["results:read", "invitations:write"])
    app.extensions["database"].dispose()


@pytest.fixture(scope="module")
def api_schema(served_app: tuple[Flask, str]) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", served_app[0])


# Each operation is one test (two: valid and invalid requests), driving schemathesis's
# strategies with Hypothesis directly: schemathesis's fixture-based parametrisation
# (``schemathesis.pytest.from_fixture``) does not run under pytest 9.
DOCUMENTED = paths(["quick", "full"])


def _has_inputs(method: str, path: str) -> bool:
    item = DOCUMENTED[path]
    operation = item[method.lower()]
    return bool(item.get("parameters") or operation.get("parameters")
                or operation.get("requestBody"))  # fmt: skip


CASES = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in DOCUMENTED.items()
    for method in item
    if method in {"get", "post", "delete"}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_inputs(method, path)
]
# Operations with fewer valid requests than examples: without inputs, one; an instrument, two
FEW = {("GET", "/api/v1/instruments/{instrument_id}")}
# A request that schemathesis makes valid by the document is answered with success here
SUCCEEDS = {("POST", "/api/v1/results"): 201, ("GET", "/api/v1/clients"): 200,
            ("GET", "/api/v1/result"): 200, ("GET", "/api/v1/clients/{client_id}/results"): 200,
            ("POST", "/api/v1/clients/{client_id}/invitations"): 201,
            ("GET", "/api/v1/instruments/{instrument_id}"): 200}  # fmt: skip


def with_start_token(case: schemathesis.Case, app: Flask) -> schemathesis.Case:
    """The case with a start token the app issued for its instrument (schemathesis makes up
    tokens, which are all refused)."""
    if isinstance(case.body, dict) and case.body.get("instrument_id") in ("quick", "full"):
        with app.test_request_context():
            instrument = app.extensions["pipeline"].bank[case.body["instrument_id"]]
            case.body["start_token"] = issue_token(instrument)
    return case


def with_receipt(case: schemathesis.Case, known: bool, code: str) -> schemathesis.Case:
    if known:
        case.headers = {**(case.headers or {}), "Receipt-Code": code}
    return case


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_every_operation_answers_as_documented(
    api_schema: schemathesis.BaseSchema, served_app: tuple[Flask, str], method: str, path: str,
    mode: GenerationMode,
) -> None:  # fmt: skip
    operation = api_schema[path][method]
    headers = bearer(served_app[1]) if DOCUMENTED[path][method.lower()]["security"] else None
    examples = EXAMPLES if mode is GenerationMode.POSITIVE else INVALID_EXAMPLES
    seen: list[int] = []

    strategy = operation.as_strategy(generation_mode=mode)
    if (method, path) == ("POST", "/api/v1/results") and mode is GenerationMode.POSITIVE:
        app = served_app[0]
        strategy = strategy.map(lambda case: with_start_token(case, app))  # else all are 400
    if (method, path) == ("GET", "/api/v1/result") and mode is GenerationMode.POSITIVE:
        known = served_app[0].config["KNOWN_RECEIPT"]  # half the time, a stored result
        strategy = st.tuples(strategy, st.booleans()).map(lambda pair: with_receipt(*pair, known))

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])  # fmt: skip
    def answers_as_documented(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.append(response.status_code)

    answers_as_documented()
    if _has_inputs(method, path) and (method, path) not in FEW:  # else fewer are possible
        assert len(seen) >= examples, sorted(set(seen))
    if mode is GenerationMode.POSITIVE and (method, path) in SUCCEEDS:
        assert SUCCEEDS[method, path] in seen, sorted(set(seen))
