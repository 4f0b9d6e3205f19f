"""Secure Base: an honest adult attachment questionnaire (Flask application factory)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import config

__version__ = "0.1.0"
from .extensions import csrf, db
from .interpret.loading import load_interpreter
from .ml.training import load_bundle
from .report_jobs import ReportRenderer, report_version
from .reports.data import check_base_url
from .reports.therapist_content import load_therapist_content
from .scoring.instrument import load_bank
from .web.invite import load_consent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Refuses to start without a secret key or with a broken item bank."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    if test_config is None:
        app.config.from_mapping(config.from_environment(app.instance_path))
    else:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "No secret key: set QUIZAPP_SECRET_KEY or put one in instance/secret_key "
            "(scripts/run creates it)."
        )
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def register_extensions(app: Flask) -> None:
    """Load the item bank, content, rules and trained models once; refuse to start if broken."""
    bank = load_bank(app.config["ITEMS_DIR"])
    if app.config["DEFAULT_INSTRUMENT"] not in bank:
        raise RuntimeError(f"DEFAULT_INSTRUMENT {app.config['DEFAULT_INSTRUMENT']!r} not in bank")
    app.extensions["instruments"] = bank
    app.extensions["interpreter"] = load_interpreter(
        app.config["CONTENT_DIR"], app.config["RULES_FILE"], bank
    )
    models_dir = Path(app.config["MODELS_DIR"])
    app.extensions["models"] = {i.id: load_bundle(models_dir, i) for i in bank.values()}
    app.extensions["therapist_content"] = load_therapist_content(app.config["THERAPIST_CONTENT"])
    check_base_url(app.config["BASE_URL"])
    app.extensions["report_version"] = report_version(app)
    app.extensions["report_renderer"] = ReportRenderer(app)
    if not app.config.get("MAIL_OUTBOX"):
        app.config["MAIL_OUTBOX"] = str(Path(app.instance_path) / "outbox")
    app.extensions["consent"] = load_consent(app.config["CONSENT_FILE"])
    db.init_app(app)
    csrf.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .web import auth, exports, invite, pages, quiz, reports, results, steps, therapist

    for module in (pages, quiz, results, reports, steps, invite):
        app.register_blueprint(module.bp)
    auth.init_app(app)
    assert exports.__name__  # its routes are on the therapist blueprint
    app.register_blueprint(therapist.bp)


def register_errorhandlers(app: Flask) -> None:
    from .web import errors

    errors.init_app(app)
