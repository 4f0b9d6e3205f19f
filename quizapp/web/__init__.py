"""The web layer: Flask blueprints, forms, templates and static files, a thin shell around the
report pipeline, the therapist side and storage.

One module per blueprint (``pages``, ``quiz``, ``results``, ``reports``, ``my_data``,
``steps``, ``invite``, ``auth``, ``therapist`` with ``exports``); ``errors`` gives every error
a clear page and every response its security headers. A view checks input, calls the domain, and
commits the request's session once, after the response body is ready.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request, url_for
from werkzeug.routing import IntegerConverter, Map

from ..pipeline.pipeline import Pipeline
from ..scoring.instrument import Instrument


class RowId(IntegerConverter):
    """``<id:name>`` in a route: a row id, 1 to 2**31 - 1 (the range of an INTEGER key on
    PostgreSQL). Anything else (0, a 20-digit number, a sign) matches no route: a 404, never a
    number the database driver cannot bind."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


def pipeline() -> Pipeline:
    """The app's loaded pipeline (instrument bank, content, rules, models, report settings)."""
    loaded: Pipeline = current_app.extensions["pipeline"]
    return loaded


def public_url(endpoint: str, **values: Any) -> str:
    """The address of a page as it leaves the request (an e-mail, an invitation link): built
    from ``QUIZAPP_BASE_URL``, never from the request's Host header."""
    path = url_for(endpoint, **values)
    root = request.script_root
    if root and path.startswith(root):  # the base URL already names the folder it is under
        path = path[len(root) :]
    return pipeline().base_url + path


def instruments() -> dict[str, Instrument]:
    return dict(pipeline().bank)


def get_instrument(instrument_id: str) -> Instrument:
    instrument = pipeline().instrument(instrument_id)
    if instrument is None:
        abort(404)
    return instrument
