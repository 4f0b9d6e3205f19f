"""A page for each healing step (its practice actions and strategies), and their index."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Blueprint, abort, make_response, render_template, request
from werkzeug.wrappers import Response

from ..interpret.content import Content
from . import pipeline

bp = Blueprint("steps", __name__, url_prefix="/steps")


def _content() -> Content:
    return pipeline().interpreter.content


@bp.get("/")
def index() -> str:
    return render_template("steps.html", steps=_content().steps)


RESULT_PATH = re.compile(r"/r/[0-9A-Za-z-]{28,40}")


def _result_page() -> str | None:
    """The result page this step was opened from (this site's own referrer), to lead back."""
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and RESULT_PATH.fullmatch(came_from.path):
        return came_from.path
    return None


@bp.get("/<step_id>")
def show(step_id: str) -> Response:
    content = _content()
    step = next((s for s in content.steps if s.id == step_id), None)
    if step is None:
        abort(404)
    strategies = [content.strategies[s] for s in step.strategies]
    total = len(content.steps)
    rank = request.args.get("rank", type=int)  # its place in a result's own order
    if rank is not None and not 1 <= rank <= total:
        rank = None
    back = _result_page()
    page = render_template("step.html", step=step, strategies=strategies, total=total,
                           rank=rank, back=back)  # fmt: skip
    response = make_response(page)
    if back:  # the page names a result's address: kept by no cache
        response.headers["Cache-Control"] = "no-store"
    return response
