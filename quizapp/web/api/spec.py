"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written here by hand rather than generated: of the Flask libraries, APIFlask and flask-smorest
build the document with apispec, which writes OpenAPI 3.0-style schemas and needs marshmallow
models of every body, and spectree needs pydantic models; this service's bodies are plain
dicts (``quizapp.pipeline.portable``) whose schemas are plain JSON Schema. So the document is
data, its request schemas are the ones the views check bodies with, and tests hold the two
together: every route is in the document and every operation of the document is a route
(``tests/api/test_document.py``), and schemathesis checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from ...scoring.instrument import Instrument
from .schemas import RECEIPT_PATTERN, Schema, components, ref

VERSION = "1.0.0"
PROBLEM_JSON = {"application/problem+json": {"schema": ref("Problem")}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}  # fmt: skip
ERRORS = {
    "400": "The request could not be understood (a missing header, a query parameter out of "
           "range, a body that is not JSON).",
    "401": "No valid personal access token: unknown, expired, revoked, or its account was "
           "disabled.",
    "403": "The token lacks the scope this operation needs.",
    "404": "Not found; also another therapist's client or invitation.",
    "409": "The request conflicts with what is stored.",
    "410": "The result was made with a questionnaire version this site no longer scores.",
    "413": "The request body is larger than 64 KiB.",
    "415": "The request body is not application/json.",
    "422": "The body is JSON but not what the schema allows; `errors` lists each problem.",
    "429": "Too many requests from this network; `Retry-After` says when to try again.",
    "500": "A failure of ours; nothing was stored half-way.",
    "503": "The database cannot be reached just now; try again after `Retry-After`.",
}  # fmt: skip
RESPONSE_HEADERS = {"401": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    "429": RETRY_AFTER, "503": RETRY_AFTER}  # fmt: skip


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{code}"} for code in (*codes, "500", "503")}


def _json(schema: Schema, description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}},
            **extra}  # fmt: skip


RECEIPT_HEADER = {
    "name": "Receipt-Code", "in": "header", "required": True,
    "description": "The receipt code given when the answers were sent (with or without its "
                   "dashes). A header, never the URL, so that no log or history keeps it.",
    "schema": {"type": "string", "pattern": RECEIPT_PATTERN},
}  # fmt: skip
PAGING = [
    {"name": "page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}},
    {"name": "size", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}},
]  # fmt: skip
ROW_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
CLIENT_ID = {"name": "client_id", "in": "path", "required": True, "schema": ROW_ID}
BEARER = "personalAccessToken"


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def _therapist(scope: str, operation: dict[str, Any]) -> dict[str, Any]:
    """An operation for a token holding ``scope``."""
    responses = operation["responses"] | _errors("401", "403")
    return operation | {"security": [{BEARER: [scope]}], "responses": responses,
                        "tags": ["therapists"]}  # fmt: skip


def _public(operation: dict[str, Any]) -> dict[str, Any]:
    return operation | {"security": [], "tags": ["visitors"]}


def paths(instrument_ids: list[str]) -> dict[str, Any]:
    """Every operation; ``instrument_ids``: the instruments this site scores."""
    result = _json(ref("Result"), "The stored result (see `about` in it)")
    return {
        "/api/v1/openapi.json": {"get": _public({
            "operationId": "getOpenApiDocument", "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")}
            | _errors()})},
        "/api/v1/instruments": {"get": _public({
            "operationId": "listInstruments", "summary": "The questionnaires this site scores",
            "responses": {"200": _json({"type": "object", "additionalProperties": False,
                                        "required": ["items"],
                                        "properties": {"items": {
                                            "type": "array",
                                            "items": ref("InstrumentSummary")}}},
                                       "Every questionnaire, current versions")} | _errors()})},
        "/api/v1/instruments/{instrument_id}": {"get": _public({
            "operationId": "getInstrument",
            "summary": "A questionnaire: statements, response scale with labels, licence",
            "parameters": [{"name": "instrument_id", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": instrument_ids},
                            "description": "Any other id is a 404."}],
            "responses": {"200": _json(ref("Instrument"), "The questionnaire")}
            | _errors("404")})},
        "/api/v1/results": {"post": _public({
            "operationId": "submitAnswers",
            "summary": "Send an answer to every statement; get the analysis and a receipt code",
            "description": "Stored and analysed once, as the web quiz stores answers (its "
                           "limits, follow-up and report). 400: a start_token this site did "
                           "not issue for the questionnaire; 409: the questionnaire changed "
                           "since, or this start_token was used already.",
            "requestBody": _body("Submission"),
            "responses": {"201": _json(ref("Submitted"), "Stored and analysed, once, as the "
                                       "web quiz stores it")}
            | _errors("400", "409", "413", "415", "422", "429")})},
        "/api/v1/result": {
            "parameters": [RECEIPT_HEADER],
            "get": _public({
                "operationId": "getResult", "summary": "Read a result by its receipt code",
                "responses": {"200": result} | _errors("400", "404", "410", "429")}),
            "delete": _public({
                "operationId": "deleteResult",
                "summary": "Delete a result and its reports, for good",
                "responses": {"204": {"description": "Deleted"}}
                | _errors("400", "404", "429")}),
        },
        "/api/v1/result/follow-up": {"post": _public({
            "operationId": "answerFollowUp",
            "summary": "Answer (or skip) the follow-up statements of an uncertain result",
            "parameters": [RECEIPT_HEADER], "requestBody": _body("FollowUpAnswers"),
            "responses": {"200": result}
            | _errors("400", "404", "409", "410", "413", "415", "422", "429")})},
        "/api/v1/clients": {"get": _therapist("results:read", {
            "operationId": "listClients",
            "summary": "Your clients, most recently active first",
            "parameters": PAGING,
            "responses": {"200": _json(ref("ClientPage"), "One page of clients")}
            | _errors("400", "429")})},
        "/api/v1/clients/{client_id}/results": {"get": _therapist("results:read", {
            "operationId": "listClientResults",
            "summary": "A client's results, newest first, each with its stored analysis",
            "parameters": [CLIENT_ID, *PAGING],
            "responses": {"200": _json(ref("ClientResultPage"), "One page of results")}
            | _errors("400", "404", "429")})},
        "/api/v1/clients/{client_id}/invitations": {"post": _therapist("invitations:write", {
            "operationId": "createInvitation",
            "summary": "Invite a client to a questionnaire; the link is shown once",
            "parameters": [CLIENT_ID], "requestBody": _body("InvitationRequest"),
            "responses": {"201": _json(ref("Invitation"), "The invitation, with its link")}
            | _errors("400", "404", "413", "415", "422", "429")})},
        "/api/v1/clients/{client_id}/invitations/{invitation_id}": {
            "delete": _therapist("invitations:write", {
                "operationId": "withdrawInvitation",
                "summary": "Withdraw an open invitation: its link stops working",
                "parameters": [CLIENT_ID, {"name": "invitation_id", "in": "path",
                                           "required": True, "schema": ROW_ID}],
                "responses": {"204": {"description": "Withdrawn"}}
                | _errors("400", "404", "429")})},
    }  # fmt: skip


def document(bank: dict[str, Instrument], base_url: str) -> dict[str, Any]:
    """The whole document, for the instruments this app has loaded."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Secure Base API", "version": VERSION,
            "description": "Take the attachment questionnaire and read, or delete, your own "
            "result (no account: the receipt code is the key); and, for therapists, read "
            "clients' results and manage invitations with a personal access token. Errors "
            "are RFC 9457 problem details. Not a diagnosis.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url}],
        "tags": [{"name": "visitors", "description": "No account"},
                 {"name": "therapists", "description": "A personal access token"}],
        "paths": paths(list(bank)),
        "components": {
            "schemas": components(bank),
            "responses": {code: {"description": text, "content": PROBLEM_JSON,
                                 **({"headers": RESPONSE_HEADERS[code]}
                                    if code in RESPONSE_HEADERS else {})}
                          for code, text in ERRORS.items()},
            "securitySchemes": {BEARER: {
                "type": "http", "scheme": "bearer",
                "description": "A personal access token made on your account page "
                               "(Authorization: Bearer sbpat_...). Scopes: results:read, "
                               "invitations:write."}},
        },
    }  # fmt: skip
