"""The Flask application factory: ``gunicorn "quizapp.app:create_app()"``.

The factory only registers things, so the whole shape of the web app fits on one screen;
what it registers lives in ``quizapp.web`` (views, forms, templates), ``quizapp.pipeline``
(analysis and reports) and ``quizapp.storage`` (the database).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.logging import default_handler
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config, logs
from .pipeline.pipeline import Pipeline, limit_native_threads
from .reports.formats import num, ordinal, percent
from .therapists.invites import load_consent
from .web import ratelimits
from .web.extensions import csrf, db

WEB = Path(__file__).parent / "web"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment (or ``test_config`` on top of the defaults).

    Refuses to start without a secret key, or with a broken item bank, content, rule table,
    model or consent file.
    """
    if test_config is None:
        settings = config.from_environment()
        Path(settings["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    else:
        settings = config.defaults(test_config.get("INSTANCE_DIR")) | dict(test_config)
    # Named after the package, so the app's logger ("quizapp") is the parent of every module's.
    app = Flask("quizapp", instance_path=str(Path(settings["INSTANCE_DIR"]).resolve()),
                template_folder=WEB / "templates", static_folder=WEB / "static")  # fmt: skip
    app.config.from_mapping(config.FLASK_DEFAULTS)
    app.config.from_mapping(settings)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "No secret key: set QUIZAPP_SECRET_KEY or put one in instance/secret_key "
            "(scripts/run creates it)."
        )
    if test_config is None and not app.debug and not os.environ.get("QUIZAPP_BASE_URL", "").strip():
        raise RuntimeError(
            "Set QUIZAPP_BASE_URL to the public address of the service (e.g. "
            "https://quiz.example.org): e-mailed and printed links are built from it, and "
            "requests for other host names are refused (scripts/run sets it)."
        )
    trust_hosts(app, test_config)
    if app.config["PROXY_HOPS"]:  # the client address and scheme as our own proxies saw them
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    if not app.testing:  # tests capture records themselves (and check this set-up directly)
        logs.configure(json_lines=app.config["LOG_FORMAT"] == "json")
    app.logger.removeHandler(default_handler)  # records go to the root logger's masked handler
    limit_native_threads()
    register_extensions(app)
    app.jinja_env.filters.update(num=num, ordinal=ordinal, percent=percent)  # as in the PDFs
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def trust_hosts(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Answer only requests for the host of ``BASE_URL`` (and ``QUIZAPP_TRUSTED_HOSTS``):
    any other ``Host`` header is a 400. Tests that give no base URL keep Flask's test host."""
    if app.testing and test_config is not None and "BASE_URL" not in test_config:
        return
    host = urlsplit(app.config["BASE_URL"]).hostname
    app.config["TRUSTED_HOSTS"] = [h for h in (host, *app.config["EXTRA_HOSTS"]) if h]


def register_extensions(app: Flask) -> None:
    """Load the pipeline and the consent text once, bind the database, CSRF and the rate
    limits, and connect to the broker when one is set (rendering itself is the renderer's:
    ``quizapp renderer``)."""
    pipeline = Pipeline.load(app.config)
    app.extensions["pipeline"] = pipeline
    app.extensions["consent"] = load_consent(app.config["CONSENT_FILE"])
    db.init_app(app)
    csrf.init_app(app)
    ratelimits.init_app(app)
    app.extensions["report_queue"] = None  # the renderer polls the queue in the database
    if app.config["CELERY_BROKER_URL"]:
        from .pipeline.queue import ReportQueue

        app.extensions["report_queue"] = ReportQueue(app.config["CELERY_BROKER_URL"])


def register_blueprints(app: Flask) -> None:
    from .web import (
        RowId,
        api,
        api_tokens,
        auth,
        exports,
        health,
        invite,
        my_data,
        pages,
        quiz,
        reports,
        results,
        steps,
        therapist,
        webhooks,  # fmt: skip
    )

    app.url_map.converters["id"] = RowId
    for module in (pages, quiz, results, reports, my_data, steps, invite, health):
        app.register_blueprint(module.bp)
    auth.init_app(app)
    assert exports.__name__ and webhooks.__name__  # their routes are on the therapist blueprint
    app.register_blueprint(therapist.bp)
    app.register_blueprint(api_tokens.bp)
    api.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from .web import errors

    errors.init_app(app)
