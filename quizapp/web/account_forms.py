"""Forms of the therapist area: accounts, clients and invites (fixed fields, CSRF-protected)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SearchField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import (
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..therapists.accounts import MAX_PASSWORD, MIN_PASSWORD
from ..therapists.invites import CLIENT_SEES
from ..therapists.tokens import LIFETIMES, SCOPES


def text(field: Field) -> str:
    """A text field's value ("" when empty): validated forms only, so never None in practice."""
    return str(field.data or "")


def add_error(field: Field, message: str) -> None:
    field.errors = [*field.errors, message]


PASSWORD = [
    InputRequired(),
    Length(
        MIN_PASSWORD,
        MAX_PASSWORD,
        message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters; a few words make a good one.",
    ),
]


class SignUpForm(FlaskForm):  # type: ignore[misc]
    display_name = StringField(
        "Your name as clients will see it", validators=[InputRequired(), Length(2, 120)]
    )
    email = EmailField(
        "E-mail address",
        validators=[
            InputRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="This is not an e-mail address."),
        ],
    )
    password = PasswordField("Password", validators=PASSWORD)
    confirm = PasswordField(
        "Password again",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail address", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_PASSWORD)])


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField(
        "Code from your app, or a recovery code", validators=[InputRequired(), Length(6, 24)]
    )


class TwoFactorSetupForm(FlaskForm):  # type: ignore[misc]
    pending = HiddenField(validators=[InputRequired()])
    code = StringField(
        "The 6-digit code your app shows now",
        validators=[
            InputRequired(),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits your app shows."),
        ],
    )


class ResetRequestForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail address", validators=[InputRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("New password", validators=PASSWORD)
    confirm = PasswordField(
        "New password again",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class ClientForm(FlaskForm):  # type: ignore[misc]
    label = StringField(
        "Label (a pseudonym or case number, not a name)",
        validators=[InputRequired(), Length(1, 80)],
    )
    note = TextAreaField(
        "Private note (optional; only you see it)", validators=[Optional(), Length(max=2000)]
    )


class InviteForm(FlaskForm):  # type: ignore[misc]
    instrument = RadioField("Questionnaire", validators=[InputRequired()])
    client_sees = RadioField(
        "After finishing, the client sees",
        choices=[SelectChoice(k, v) for k, v in CLIENT_SEES.items()],
        default="results",
        validators=[InputRequired()],
    )
    days = IntegerField(
        "The link works for (days)", default=14, validators=[InputRequired(), NumberRange(1, 90)]
    )


class InviteMailForm(FlaskForm):  # type: ignore[misc]
    """The client's address, used once to send the invitation and never stored."""

    email = EmailField(
        "Your client's e-mail address",
        validators=[
            InputRequired(),
            Length(max=254),
            Regexp(
                r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$", message="This is not one e-mail address."
            ),
        ],
    )
    link = HiddenField(validators=[InputRequired(), Length(max=400)])
    send = HiddenField()  # "yes" once the therapist has seen the message


class ConsentForm(FlaskForm):  # type: ignore[misc]
    agree = BooleanField(
        "I agree to share these answers and results with my therapist",
        validators=[InputRequired(message="Please tick the box to agree, or close this page.")],
    )


class ShareForm(FlaskForm):  # type: ignore[misc]
    receipt = StringField("Receipt code", validators=[InputRequired(), Length(20, 60)])


class DeleteForm(FlaskForm):  # type: ignore[misc]
    confirm = StringField("Type the client's label to confirm", validators=[InputRequired()])


class SearchForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False

    q = SearchField("Search by label", validators=[Optional(), Length(max=80)])


class TokenForm(FlaskForm):  # type: ignore[misc]
    """A new personal access token for the JSON API: a name, its scopes, how long it works."""

    name = StringField(
        "Name (what it is for, e.g. the clinic's records script)",
        validators=[InputRequired(), Length(1, 80)],
    )
    scopes = SelectMultipleField(
        "It may",
        choices=[SelectChoice(k, f"{k}: {v}") for k, v in SCOPES.items()],
        validators=[InputRequired(message="Choose at least one.")],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    days = RadioField(
        "It works for",
        choices=[SelectChoice(str(d), f"{d} days") for d in LIFETIMES],
        default="30",
        validators=[InputRequired()],
    )


class WebhookForm(FlaskForm):  # type: ignore[misc]
    url = StringField(
        "Endpoint address (https://...)", validators=[InputRequired(), Length(1, 2000)]
    )
