"""Entry point of the report workers: ``.venv/bin/celery -A quizapp.celery_worker:celery worker``.

Builds the app from the environment (the same ``DATABASE_URL``, ``QUIZAPP_SECRET_KEY`` and
``QUIZAPP_CELERY_BROKER_URL`` as the web servers) and exposes its Celery app.
"""

from __future__ import annotations

from . import create_app

flask_app = create_app()
if "celery" not in flask_app.extensions:
    raise RuntimeError(
        "Set QUIZAPP_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers."
    )
celery = flask_app.extensions["celery"]
