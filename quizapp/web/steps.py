"""A page for each healing step (its practice actions and strategies), and their index."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..interpret.content import Content
from . import pipeline

bp = Blueprint("steps", __name__, url_prefix="/steps")


def _content() -> Content:
    return pipeline().interpreter.content


@bp.get("/")
def index() -> str:
    return render_template("steps.html", steps=_content().steps)


@bp.get("/<step_id>")
def show(step_id: str) -> str:
    content = _content()
    step = next((s for s in content.steps if s.id == step_id), None)
    if step is None:
        abort(404)
    strategies = [content.strategies[s] for s in step.strategies]
    return render_template("step.html", step=step, strategies=strategies, total=len(content.steps))
