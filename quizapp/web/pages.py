"""Landing page, privacy page, and reopening a result with a receipt code."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,  # fmt: skip
    url_for,
)
from werkzeug.wrappers import Response

from ..storage import receipts, submissions
from . import instruments
from .extensions import db
from .ratelimits import limited, note_miss

bp = Blueprint("pages", __name__)

NO_SUCH_RESULT = (
    "No result has that code. Check it against what you wrote down (O and 0, and I, L and 1, "
    "count as the same); a deleted result cannot be opened again."
)


@bp.get("/")
def index() -> str:
    quick = instruments()[current_app.config["DEFAULT_INSTRUMENT"]]
    others = [i for i in instruments().values() if i.id != quick.id]
    return render_template("index.html", quick=quick, others=others)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it at the root whatever the page says (which names icon.svg)."""
    week = 7 * 24 * 3600
    return send_from_directory(current_app.static_folder or "", "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=week)  # fmt: skip


@bp.get("/therapists")
def therapists() -> str:
    """What the service does for therapists, and how it keeps client data, before sign-in."""
    return render_template("therapists.html")


@bp.get("/privacy")
def privacy() -> str:
    return render_template("privacy.html")


@bp.post("/open")
@limited("lookup", misses="lookup-miss")
def open_result() -> Response | tuple[str, int]:
    typed = request.form.get("code", "")[:80]
    code = receipts.normalise(typed)
    if code is None:
        problem = "That does not look like a receipt code: it has 28 letters and digits."
        return render_template("open.html", typed=typed, problem=problem), 400
    if submissions.find_submission(db.session, code) is None:
        note_miss()  # a guess, as a wrong /r/<code> is
        return render_template("open.html", typed=typed, problem=NO_SUCH_RESULT), 404
    return redirect(url_for("results.show", code=code), code=303)


@bp.get("/open")
def open_form() -> str:
    return render_template("open.html")
