"""The web layer: a thin shell around the scoring engine and the database operations."""

from __future__ import annotations

from flask import abort, current_app

from ..scoring.instrument import Instrument


def instruments() -> dict[str, Instrument]:
    bank: dict[str, Instrument] = current_app.extensions["instruments"]
    return bank


def scoring_instrument(instrument_id: str, version: str) -> Instrument | None:
    """The loaded instrument a stored result was made with, or None if that version is gone."""
    instrument = instruments().get(instrument_id)
    return instrument if instrument is not None and instrument.version == version else None


def get_instrument(instrument_id: str) -> Instrument:
    instrument = instruments().get(instrument_id)
    if instrument is None:
        abort(404)
    return instrument
