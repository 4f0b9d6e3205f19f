"""The web layer: Flask blueprints, forms, templates and static files, a thin shell around the
report pipeline, the therapist side and storage.

One module per blueprint (``pages``, ``quiz``, ``results``, ``reports``, ``steps``,
``invite``, ``auth``, ``therapist`` with ``exports``); ``errors`` gives every error a clear
page and every response its security headers. A view checks input, calls the domain, and
commits the request's session once, after the response body is ready.
"""

from __future__ import annotations

from flask import abort, current_app

from ..pipeline.pipeline import Pipeline
from ..scoring.instrument import Instrument


def pipeline() -> Pipeline:
    """The app's loaded pipeline (instrument bank, content, rules, models, report settings)."""
    loaded: Pipeline = current_app.extensions["pipeline"]
    return loaded


def instruments() -> dict[str, Instrument]:
    return dict(pipeline().bank)


def get_instrument(instrument_id: str) -> Instrument:
    instrument = pipeline().instrument(instrument_id)
    if instrument is None:
        abort(404)
    return instrument
