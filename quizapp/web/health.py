"""Health for a load balancer or an orchestrator: ``/healthz`` (the process answers) and
``/readyz`` (the database answers and its schema is at this code's migration head, the
instruments and models are loaded, and the broker answers when one is set). A part that is
not ready is named, with a 503; nothing personal is in either answer. Neither is rate
limited, and neither writes a log line when all is well."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from ..storage.database import schema_head, schema_revision
from . import pipeline
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def _database() -> str:
    with db.database.engine.connect() as conn:  # one query: reachable, and at which migration
        current = schema_revision(conn)
    if "schema_head" not in current_app.extensions:  # the migration files do not change
        current_app.extensions["schema_head"] = schema_head()
    head = current_app.extensions["schema_head"]
    if current != head:
        raise NotReady(f"the schema is at {current}, this code needs {head} (quizapp db upgrade)")
    return "ok"


class NotReady(RuntimeError):
    """A part is up but not fit to serve; its message says why (no address, no secret)."""


def _models() -> str:
    loaded = pipeline()
    if current_app.config["DEFAULT_INSTRUMENT"] not in dict(loaded.bank):
        raise NotReady("the default instrument is not loaded")
    return "ok"


def _broker() -> str:
    queue = current_app.extensions.get("report_queue")
    if queue is None:
        return "not used (the renderer reads the queue in the database)"
    with queue.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    checks: dict[str, str] = {}
    ready = True
    for name, check in (("database", _database), ("models", _models), ("broker", _broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure: this part is not ready. The page is public:
            ready = False  # a driver's message (host names, ports) stays in the log
            why = str(exc) if isinstance(exc, NotReady) else type(exc).__name__
            checks[name] = f"not ready: {why}"
            current_app.logger.warning("not ready: %s", name, exc_info=exc)
    db.session.close()
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
