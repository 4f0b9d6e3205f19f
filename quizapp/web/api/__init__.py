"""The versioned JSON API, ``/api/v1``, described by the OpenAPI 3.1 document it serves at
``/api/v1/openapi.json`` (``spec``).

A thin shell over the same services as the web pages: a visitor's answers are stored by the
quiz's own submission path (``quizapp.web.quiz.commit_submission``), with its limits, its
follow-up and its report job; a therapist's operations call ``quizapp.therapists``. Errors are
problem details (``problems``). No CSRF (no cookie is read: a therapist's operations take a
bearer token alone, ``auth``), no CORS headers, bodies of at most 64 KiB.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .. import pipeline
from ..extensions import csrf
from .problems import ApiError
from .spec import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
BODY_LIMIT = 64 * 1024


def is_api_request() -> bool:
    """Whether this request is the API's (its errors are then problem details)."""
    return request.path.startswith(bp.url_prefix or "/api/v1")


@bp.before_request
def _cap_body() -> None:
    request.max_content_length = BODY_LIMIT


def spec() -> dict[str, Any]:
    """This app's document (built once, from the loaded instruments)."""
    built: dict[str, Any] | None = current_app.extensions.get("openapi")
    if built is None:
        built = document(dict(pipeline().bank), pipeline().base_url)
        current_app.extensions["openapi"] = built
    return built


def json_body(schema_name: str) -> Any:
    """The request's JSON body, checked against the document's schema ``schema_name``: 415 for
    another media type, 413 for a body over the cap, 400 for one that is not JSON, 422 with
    every problem for one the schema does not allow."""
    if request.mimetype != "application/json":
        raise ApiError(415)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise ApiError(413) from None
    try:
        if not raw:
            raise BadRequest
        body = request.get_json(force=True, silent=False)
    except BadRequest:
        raise ApiError(400, "The request body is not valid JSON.") from None
    schemas = spec()["components"]["schemas"]
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": {"schemas": schemas}}
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        found = [{"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message[:300]}
                 for e in errors[:20]]  # fmt: skip
        raise ApiError(422, errors=found)
    return body


def query_int(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within ``low``..``high`` (else a 400)."""
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(400, f"The query parameter {name} must be a whole number from {low} "
                            f"to {high}.")  # fmt: skip
    return int(text)


def init_app(app: Flask) -> None:
    from . import public, therapist

    assert public.__name__ and therapist.__name__  # their routes are on ``bp``
    csrf.exempt(bp)
    app.register_blueprint(bp)
