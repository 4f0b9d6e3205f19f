"""Personal access tokens on the account page: make one (shown once), see them, revoke one.

A token lets the therapist's own scripts use the JSON API (``quizapp.web.api``) with the
scopes chosen here; only its SHA-256 is stored (``quizapp.therapists.tokens``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..therapists import audit, tokens
from .account_forms import TokenForm, add_error, text
from .auth import therapist, two_factor_required
from .extensions import db

bp = Blueprint("api_tokens", __name__, url_prefix="/account/tokens")


def _page(form: TokenForm, status: int = 200) -> tuple[str, int]:
    mine = tokens.list_tokens(db.session, therapist().id)
    return render_template("account/tokens.html", form=form, tokens=mine,
                           state=tokens.token_state, scopes=tokens.SCOPES), status  # fmt: skip


@bp.get("/")
@two_factor_required
def index() -> tuple[str, int]:
    return _page(TokenForm())


@bp.post("/")
@two_factor_required
def create() -> Any:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        token, secret = tokens.create_token(
            db.session,
            therapist().id,
            text(form.name),
            list(form.scopes.data or []),
            int(form.days.data),
        )
    except tokens.TooManyTokens:
        add_error(form.name, f"You have {tokens.MAX_TOKENS} tokens that work: revoke one first.")
        return _page(form, 422)
    audit.audit(db.session, therapist().id, "create API token", detail=f"#{token.id}")
    page = render_template("account/token_made.html", token=token, secret=secret)
    db.session.commit()  # the token is shown once: it exists only if this page was built
    return page, 201


@bp.post("/<id:token_id>/revoke")
@two_factor_required
def revoke(token_id: int) -> Response:
    if not tokens.revoke_token(db.session, therapist().id, token_id):
        abort(404)
    audit.audit(db.session, therapist().id, "revoke API token", detail=f"#{token_id}")
    db.session.commit()
    flash("The token was revoked: it no longer works.")
    return redirect(url_for("api_tokens.index"), code=303)
