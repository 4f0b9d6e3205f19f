"""The OpenAPI 3.1 document at /api/v1/openapi.json: valid by openapi-spec-validator, and in
step with the app's routes (every operation a route, every API route an operation)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

METHODS = {"get", "post", "put", "patch", "delete"}


def served(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def test_the_document_is_valid_openapi_3_1(app: Flask, client: FlaskClient) -> None:
    document = served(client)
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["servers"] == [{"url": app.extensions["pipeline"].base_url}]


def test_every_route_is_an_operation_and_every_operation_a_route(
    app: Flask, client: FlaskClient
) -> None:
    documented = {
        (method.upper(), path)
        for path, item in served(client)["paths"].items()
        for method in item
        if method in METHODS
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed |= {(m, path) for m in rule.methods or () if m.lower() in METHODS}
    assert documented == routed


def test_every_operation_documents_its_errors_as_problem_details(client: FlaskClient) -> None:
    document = served(client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            codes = set(operation["responses"])
            assert {"500", "503"} <= codes, (method, path)
            if operation["security"]:
                assert {"401", "403", "429"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (method, path)
    for code, response in document["components"]["responses"].items():
        schema = response["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, code
