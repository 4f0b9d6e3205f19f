"""Forms built at run time from an instrument: one required radio group per item."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import Field, HiddenField, RadioField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import InputRequired

from ..scoring.instrument import Instrument

REQUIRED = "Please choose an answer to this statement."


def form_class(instrument: Instrument) -> type[FlaskForm]:
    """The app's FlaskForm subclass for this instrument, built once per app."""
    forms: dict[str, type[FlaskForm]] = current_app.extensions.setdefault("quiz_forms", {})
    if instrument.id not in forms:
        forms[instrument.id] = _build_form_class(instrument)
    return forms[instrument.id]


def _build_form_class(instrument: Instrument) -> type[FlaskForm]:
    """A FlaskForm subclass with a required radio group per item, named by the item id."""
    rs = instrument.response_scale
    choices = [SelectChoice(v, label) for v, label in zip(rs.values, rs.labels, strict=True)]
    fields: dict[str, Field] = {
        item.id: RadioField(item.text, choices=choices, coerce=int,
                            validators=[InputRequired(message=REQUIRED)])
        for item in instrument.items
    }  # fmt: skip
    fields["started"] = HiddenField()
    return type(f"{instrument.id.title()}Form", (FlaskForm,), fields)


@dataclass(frozen=True)
class StartToken:
    """What the quiz page hands the browser: which form, when it was opened, a one-time nonce."""

    instrument: str
    version: str
    started: float
    nonce: str


def _serializer() -> URLSafeSerializer:
    # Signed with the secret key; read with it or an older one (during a key rotation).
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", ()), current_app.config["SECRET_KEY"]]
    return URLSafeSerializer(keys, salt="quiz-start")


def issue_token(instrument: Instrument) -> str:
    data = [instrument.id, instrument.version, time.time(), secrets.token_hex(16)]
    return _serializer().dumps(data)


def read_token(token: str) -> StartToken | None:
    """The start token's contents, or None if it was altered or is malformed."""
    try:
        data = _serializer().loads(token)
        instrument, version, started, nonce = data
        return StartToken(str(instrument), str(version), float(started), str(nonce))
    except (BadSignature, ValueError, TypeError):
        return None
