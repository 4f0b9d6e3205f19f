"""Error pages (a clear message, never a stack trace) and security headers on every response."""

from __future__ import annotations

from flask import Flask, abort, current_app, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .api import is_api_request, problems
from .extensions import db

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

HSTS_SECONDS = 180 * 24 * 3600

MESSAGES = {
    400: "The request could not be understood.",
    404: "There is nothing here. If you followed a result link, the result may have been "
    "deleted, or the link was copied incompletely.",
    405: "That action is not available here.",
    409: "This request conflicts with the current state.",
    410: "This is no longer available.",
    413: "The form sent was far larger than any answers to this questionnaire.",
    422: "Some answers were missing or invalid.",
    429: "There were too many requests from your network in a short time. Please wait a "
    "minute and try again.",
    500: "Something went wrong on our side. Nothing you entered was stored half-way; "
    "please try again.",
}


# For a request whose host was refused: no URL can be built for it, so no template that
# builds links is rendered (and the host it named is not echoed).
REFUSED_HOST = "This service does not answer to the address in that request."
BARE_PAGE = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>{status}</title>'
    "<h1>We could not accept that</h1><p>{message}</p></html>"
)


def _page(status: int, message: str) -> tuple[str, int]:
    if request_ctx.url_adapter is None:  # the Host header named a host we do not serve
        return BARE_PAGE.format(status=status, message=REFUSED_HOST), status
    return render_template("error.html", status=status, message=message), status


def handle_http(exc: HTTPException) -> tuple[str, int, dict[str, str]] | Response:
    if is_api_request():  # the JSON API's errors are problem details
        return problems.from_http(exc)
    status = exc.code or 500
    custom = exc.description if exc.description != type(exc).description else None
    page, status = _page(status, custom or MESSAGES.get(status, exc.description or ""))
    # the exception's own headers that a browser acts on (a 429's or 503's Retry-After)
    wanted = ("Retry-After", "Allow")
    return page, status, {name: value for name, value in exc.get_headers() if name in wanted}


DATABASE_DOWN = (
    "The service cannot reach its database just now, so nothing was stored or changed. "
    "Please try again in a moment."
)


def handle_database_down(exc: Exception) -> tuple[str, int, dict[str, str]] | Response:
    """The database refused, dropped or timed out the connection: a 503 that says so (a
    defect of ours, such as a broken constraint, stays a 500)."""
    current_app.logger.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
    db.session.rollback()
    if is_api_request():
        return problems.problem(503, DATABASE_DOWN, headers={"Retry-After": "5"})
    page, status = _page(503, DATABASE_DOWN)
    return page, status, {"Retry-After": "5"}


def handle_csrf(exc: CSRFError) -> tuple[str, int]:
    """A form whose CSRF token expired or is missing: nothing is done. A questionnaire comes
    back with every answer filled in (a long pause must not cost anyone their answers)."""
    if request.method == "POST" and request_ctx.url_adapter is not None:
        if request.endpoint == "quiz.take" and request.view_args:
            from .quiz import expired

            return expired(request.view_args["instrument_id"])
        if request.endpoint == "invite.answer" and request.view_args:
            from .invite import expired as invite_expired

            return invite_expired(request.view_args["token"])
    return _page(400, "This form has expired or was not sent from this site, so nothing "
                      "was stored. Please reload the page and send it again.")  # fmt: skip


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    # Result addresses hold receipt codes: no other site ever sees them. Our own pages get the
    # referrer, which the CSRF check requires of every form sent over https.
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "interest-cohort=(), camera=(), microphone=(), geolocation=()"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:  # browsers keep to https for 180 days (only ever sent over https)
        headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
    # health: always fresh
    private = {
        "quiz",
        "results",
        "my_data",
        "invite",
        "therapist",
        "auth",
        "health",
        "api",
        "api_tokens",
    }
    if request.blueprint in private or request.path.startswith("/open"):
        headers["Cache-Control"] = "no-store"
    return response


def refuse_nul_characters() -> None:
    """A NUL character is in no honest form or address of ours, and PostgreSQL cannot store
    one in a text column: such a request is a 400 before any view runs."""
    values = (*request.args.values(), *(request.form.values() if request.method == "POST" else ()))
    if any("\x00" in value for value in values):
        abort(400, "The request contained a character that no form of this site sends.")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
    app.register_error_handler(CSRFError, handle_csrf)
    for failure in (OperationalError, InterfaceError, SQLAlchemyTimeout):
        app.register_error_handler(failure, handle_database_down)
    app.register_error_handler(HTTPException, handle_http)
    app.after_request(security_headers)
