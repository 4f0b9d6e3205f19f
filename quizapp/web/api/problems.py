"""Errors of the JSON API as RFC 9457 problem details (``application/problem+json``): one
shape for every status, from a bad request to a failure of ours."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"

# The status's meaning in a line; ``detail`` says what went wrong with this request.
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request body",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
DETAILS = {
    400: "The request could not be understood.",
    401: "Send a valid personal access token: Authorization: Bearer <token>.",
    403: "The token does not have the scope this operation needs.",
    404: "There is nothing here, or it is not yours.",
    405: "This operation does not accept that method.",
    409: "The request conflicts with the current state.",
    410: "This is no longer available.",
    413: "The request body is larger than this API accepts.",
    415: "Send the request body as application/json.",
    422: "The request body does not match the schema of this operation.",
    429: "Too many requests from your network in a short time; wait and try again.",
    500: "Something went wrong on our side; nothing was stored half-way.",
    503: "The service cannot answer just now; try again in a moment.",
}
KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate")


class ApiError(HTTPException):
    """An HTTP error with a detail and, for an invalid body, the list of what was wrong."""

    def __init__(self, status: int, detail: str | None = None,
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(detail or DETAILS.get(status))
        self.code = status
        self.errors = errors
        self.extra_headers = headers or {}

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), *self.extra_headers.items()]


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    """A problem details response."""
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"),
                            "status": status, "detail": detail}  # fmt: skip
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_http(exc: HTTPException) -> Response:
    """The problem details of an HTTP error raised anywhere under ``/api/``."""
    status = exc.code or 500
    if status not in TITLES:  # a status the API does not document: reported as its class
        status = 500 if status >= 500 else 400
    own = exc.description if exc.description != type(exc).description else None
    if status == 500:
        own = None  # never a message from inside the failure
    headers = {name: value for name, value in exc.get_headers() if name in KEPT_HEADERS}
    return problem(status, own or DETAILS[status], getattr(exc, "errors", None), headers)
