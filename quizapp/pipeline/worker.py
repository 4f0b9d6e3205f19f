"""Entry point of the report workers: ``.venv/bin/celery -A quizapp.pipeline.worker:celery worker``.

Reads the same settings as the web servers (``DATABASE_URL``, ``QUIZAPP_SECRET_KEY``,
``QUIZAPP_CELERY_BROKER_URL`` and the content paths), loads the pipeline and exposes its
Celery app. No Flask: a worker only analyses, renders and stores.
"""

from __future__ import annotations

from ..config import from_environment
from ..storage.database import Database
from .pipeline import Pipeline
from .queue import ReportQueue

settings = from_environment()
if not settings["CELERY_BROKER_URL"]:
    raise RuntimeError(
        "Set QUIZAPP_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers."
    )
if not settings["SECRET_KEY"]:
    raise RuntimeError("No secret key: set QUIZAPP_SECRET_KEY (the web servers' own).")
database = Database(settings["DATABASE_URL"])
queue = ReportQueue(settings["CELERY_BROKER_URL"], settings["SECRET_KEY"],
                    Pipeline.load(settings), database.sessions)  # fmt: skip
celery = queue.celery
