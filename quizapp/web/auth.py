"""Therapist accounts: sign up, sign in (password, then a TOTP or recovery code), two-factor
set-up, password reset by e-mail, sign out, and sign-out after idle time.

The session cookie holds only the account id with its session epoch and the time of the last
request; it never holds answers or secrets.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..storage.tables import Therapist
from ..therapists import accounts, mail, two_factor
from . import public_url
from .account_forms import (
    CodeForm,
    NewPasswordForm,
    ResetRequestForm,
    SignInForm,
    SignUpForm,
    TwoFactorSetupForm,
    add_error,
    text,
)
from .extensions import db
from .ratelimits import LOOKUPS, client_network, limited, spend_for

bp = Blueprint("auth", __name__, url_prefix="/account")
login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Please sign in to see your clients."
login_manager.session_protection = "strong"
PENDING_SECONDS = 300  # between the password and the second factor


class SignedIn(UserMixin):  # type: ignore[misc]
    """The signed-in therapist; the session id includes the epoch, so raising it signs out."""

    def __init__(self, therapist: Therapist) -> None:
        self.therapist = therapist

    def get_id(self) -> str:
        return f"{self.therapist.id}:{self.therapist.session_epoch}"


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> SignedIn | None:
    try:
        therapist_id, epoch = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    therapist = db.session.get(Therapist, therapist_id)
    if therapist is None or therapist.session_epoch != epoch or therapist.disabled_at is not None:
        return None
    return SignedIn(therapist)


def therapist() -> Therapist:
    return cast(SignedIn, current_user).therapist


F = TypeVar("F")


def two_factor_required(view: F) -> F:
    """Signed in, and two-factor is on (client data is never shown on a password alone)."""

    @wraps(view)  # type: ignore[arg-type]
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if therapist().totp_secret is None:
            flash("Turn on two-factor sign-in first: it protects your clients' answers.")
            return redirect(url_for("auth.setup_two_factor"))
        return view(*args, **kwargs)  # type: ignore[operator]

    return cast(F, wrapped)


def _ph() -> Any:
    return current_app.extensions["password_hasher"]


RESET_FLOOD = (
    "Reset links for that address were asked for several times lately. Please use the link "
    "in the newest e-mail, or wait {wait} before asking again."
)


def _today() -> str:
    return datetime.now(UTC).strftime("%-d %B %Y")


MAX_SESSION_HOURS = 12  # a session ends this long after sign-in, however busy it is


def _start_session(account: Therapist) -> None:
    login_user(SignedIn(account))
    session["seen"] = session["since"] = time.time()


def check_idle() -> Response | None:
    """Sign out after ``SESSION_IDLE_MINUTES`` without a request, or ``MAX_SESSION_HOURS``
    after sign-in (so a copied cookie that is kept busy still ends). A visitor who never
    signed in is not looked up: their session is left as it is (and not written again). The
    JSON API never reads the session (its cookie authenticates nothing there)."""
    if (
        request.path.startswith("/api/")
        or "_user_id" not in session
        or not current_user.is_authenticated
    ):
        return None
    now = time.time()
    idle = now - float(session.get("seen", 0)) > current_app.config["SESSION_IDLE_MINUTES"] * 60
    if idle or now - float(session.get("since", 0)) > MAX_SESSION_HOURS * 3600:
        logout_user()
        session.clear()
        flash("You were signed out after a period without activity. Please sign in again."
              if idle else "Your session has ended. Please sign in again.")  # fmt: skip
        return redirect(url_for("auth.sign_in"))
    session["seen"] = now
    return None


@bp.route("/sign-up", methods=["GET", "POST"])
@limited("sign-up")
def sign_up() -> Any:
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            account = accounts.create_therapist(
                db.session,
                _ph(),
                email=text(form.email),
                display_name=text(form.display_name),
                password=text(form.password),
            )
            db.session.commit()
        except (accounts.EmailTaken, IntegrityError):  # the latter: a sign-up racing this one
            db.session.rollback()
            add_error(form.email, "An account with this address exists; sign in instead.")
        else:
            _start_session(account)
            return redirect(url_for("auth.setup_two_factor"), code=303)
    return render_template("auth/sign_up.html", form=form), 422 if form.errors else 200


@bp.route("/sign-in", methods=["GET", "POST"])
@limited("sign-in")
def sign_in() -> Any:
    form = SignInForm()
    if form.validate_on_submit():
        try:
            account = accounts.authenticate(
                db.session,
                _ph(),
                email=text(form.email),
                password=text(form.password),
                address=client_network(),
                secret=current_app.config["SECRET_KEY"],
                throttle=current_app.config["SIGN_IN_THROTTLE"],
            )
        except accounts.Throttled as exc:
            db.session.commit()  # the failures that aged out are gone
            minutes = max(1, round(exc.retry_after.total_seconds() / 60))
            flash(
                f"Too many failed attempts. Please wait about {minutes} minute"
                f"{'s' if minutes > 1 else ''}, or reset your password."
            )
            wait = str(max(1, round(exc.retry_after.total_seconds())))
            return render_template("auth/sign_in.html", form=form), 429, {"Retry-After": wait}
        db.session.commit()  # the failure, or a rehashed password
        if account is None:
            add_error(form.password, "The e-mail address or the password is wrong.")
            return render_template("auth/sign_in.html", form=form), 422
        if account.disabled_at is not None:  # told only to whoever knows the password
            flash("This account has been disabled. Please contact the operator of this service.")
            return render_template("auth/sign_in.html", form=form), 403
        if account.totp_secret is None:
            _start_session(account)
            return redirect(url_for("therapist.dashboard"), code=303)
        session["pending"] = {"id": account.id, "epoch": account.session_epoch, "at": time.time()}
        return redirect(url_for("auth.second_factor"), code=303)
    return render_template("auth/sign_in.html", form=form), 422 if form.errors else 200


@bp.route("/two-factor", methods=["GET", "POST"])
@limited("sign-in")
def second_factor() -> Any:
    pending = session.get("pending")
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        session.pop("pending", None)
        flash("Please sign in again.")
        return redirect(url_for("auth.sign_in"))
    account = db.session.get(Therapist, pending["id"])
    if account is None or account.session_epoch != pending["epoch"]:
        abort(404)
    form = CodeForm()
    if form.validate_on_submit():
        secret = current_app.config["SECRET_KEY"]
        keys = accounts.failure_keys(secret, account.email, client_network())
        fallbacks = current_app.config["SECRET_KEY_FALLBACKS"]
        if two_factor.verify_second_factor(db.session, secret, account, text(form.code), fallbacks):
            db.session.commit()  # the code is used up
            session.pop("pending", None)
            _start_session(account)
            return redirect(url_for("therapist.dashboard"), code=303)
        accounts.record_failure(db.session, keys)
        db.session.commit()
        session.pop("pending", None)  # a wrong code means starting again, password included
        flash("That code did not work. Please sign in again.")
        return redirect(url_for("auth.sign_in"), code=303)
    return render_template("auth/second_factor.html", form=form), 422 if form.errors else 200


@bp.route("/two-factor/setup", methods=["GET", "POST"])
def setup_two_factor() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    account = therapist()
    secret = current_app.config["SECRET_KEY"]
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        try:
            totp_secret = two_factor.unseal_totp(
                secret, base64.urlsafe_b64decode(text(form.pending))
            )
        except Exception:  # a damaged or forged hidden field (InvalidTag, bad base64)
            abort(400, "The set-up form was damaged on the way. Please start again.")
        codes = two_factor.enable_totp(db.session, secret, account, totp_secret, text(form.code))
        if codes is not None:
            page = render_template("auth/recovery_codes.html", codes=codes, made=_today())
            db.session.commit()
            login_user(SignedIn(account))  # the epoch changed: keep this session
            return page
        add_error(
            form.code,
            "That code did not match. Check your phone's clock and try the code shown now.",
        )
    else:
        totp_secret = two_factor.new_totp_secret()
        form.pending.data = base64.urlsafe_b64encode(
            two_factor.seal_totp(secret, totp_secret)
        ).decode()
    uri = two_factor.provisioning_uri(totp_secret, account.email)
    return render_template(
        "auth/setup_two_factor.html",
        form=form,
        qr=two_factor.qr_svg(uri),
        secret=totp_secret,
        enabled=account.totp_secret is not None,
    ), 422 if form.errors else 200


@bp.get("/")
def account() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    left = two_factor.recovery_codes_left(db.session, therapist())
    return render_template(
        "auth/account.html", account=therapist(), codes_left=left, form=CodeForm()
    )


@bp.post("/recovery-codes")
@two_factor_required
def new_recovery_codes() -> Any:
    form = CodeForm()
    secret = current_app.config["SECRET_KEY"]
    fallbacks = current_app.config["SECRET_KEY_FALLBACKS"]
    if form.validate_on_submit() and two_factor.verify_second_factor(
        db.session, secret, therapist(), text(form.code), fallbacks
    ):
        codes = two_factor.new_recovery_codes(db.session, therapist())
        page = render_template("auth/recovery_codes.html", codes=codes, made=_today())
        db.session.commit()
        return page
    flash("That code did not work; your recovery codes were not changed.")
    return redirect(url_for("auth.account"), code=303)


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign out here and everywhere: raising the account's session epoch makes every session
    cookie of it (a copy included) useless."""
    if current_user.is_authenticated:
        therapist().session_epoch += 1
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.sign_in"), code=303)


@bp.route("/reset", methods=["GET", "POST"])
@limited("reset")
def request_reset() -> Any:
    form = ResetRequestForm()
    if form.validate_on_submit():
        spend_for("reset-account", "account", accounts.normalise_email(text(form.email)),
                  RESET_FLOOD)  # fmt: skip
        started = accounts.start_reset(db.session, text(form.email))
        db.session.commit()  # before the e-mail goes out, so its link works
        if started is not None:
            account, token = started
            link = public_url("auth.reset", token=token)
            mail.send(
                current_app.config,
                account.email,
                "Reset your Secure Base password",
                f"Someone asked to reset the password of your Secure Base account.\n\n"
                f"To choose a new password, open this link within an hour:\n{link}\n\n"
                f"It works once. If it was not you, ignore this message; your password "
                f"stays as it is.\n",
            )
        flash(
            "If an account uses that address, we have sent it a link to reset the password. "
            "It works once, for an hour."
        )
        return redirect(url_for("auth.sign_in"), code=303)
    return render_template("auth/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def reset(token: str) -> Any:
    if accounts.find_reset(db.session, token) is None:
        abort(404, "This reset link has expired or was used already. Ask for a new one.")
    form = NewPasswordForm()
    if form.validate_on_submit():
        accounts.finish_reset(db.session, _ph(), token, text(form.password))
        db.session.commit()
        flash("Your password was changed, and every session was signed out. Please sign in.")
        return redirect(url_for("auth.sign_in"), code=303)
    return render_template("auth/reset.html", form=form), 422 if form.errors else 200


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions["password_hasher"] = accounts.hasher(app.config.get("ARGON2"))
    if app.config.get("SIGN_IN_THROTTLE") is None:
        app.config["SIGN_IN_THROTTLE"] = accounts.Throttle()
    app.before_request(check_idle)
    app.register_blueprint(bp)
