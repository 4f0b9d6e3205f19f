"""A page for each healing step (its practice actions and strategies), and their index."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from ..interpret.loading import Interpreter

bp = Blueprint("steps", __name__, url_prefix="/steps")


def _interpreter() -> Interpreter:
    interpreter: Interpreter = current_app.extensions["interpreter"]
    return interpreter


@bp.get("/")
def index() -> str:
    return render_template("steps.html", steps=_interpreter().content.steps)


@bp.get("/<step_id>")
def show(step_id: str) -> str:
    content = _interpreter().content
    step = next((s for s in content.steps if s.id == step_id), None)
    if step is None:
        abort(404)
    strategies = [content.strategies[s] for s in step.strategies]
    return render_template("step.html", step=step, strategies=strategies, total=len(content.steps))
