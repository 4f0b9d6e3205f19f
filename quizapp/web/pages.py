"""Landing page, privacy page, and reopening a result with a receipt code."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..storage import receipts
from . import instruments
from .ratelimits import limited

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    quick = instruments()[current_app.config["DEFAULT_INSTRUMENT"]]
    others = [i for i in instruments().values() if i.id != quick.id]
    return render_template("index.html", quick=quick, others=others)


@bp.get("/privacy")
def privacy() -> str:
    return render_template("privacy.html")


@bp.post("/open")
@limited("lookup")
def open_result() -> Response | tuple[str, int]:
    code = receipts.normalise(request.form.get("code", ""))
    if code is None:
        flash("That does not look like a receipt code: it has 28 letters and digits.")
        return render_template("open.html"), 400
    return redirect(url_for("results.show", code=code), code=303)


@bp.get("/open")
def open_form() -> str:
    return render_template("open.html")
