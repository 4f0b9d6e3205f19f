"""Entry point of the Celery report workers: ``.venv/bin/celery -A quizapp.worker:celery
worker`` (only with ``QUIZAPP_CELERY_BROKER_URL``; the embedded default runs ``quizapp
renderer`` instead).

Reads the same settings as the web servers (``DATABASE_URL``, ``QUIZAPP_SECRET_KEY``,
``QUIZAPP_CELERY_BROKER_URL`` and the content paths), loads the pipeline and exposes its
Celery app. No Flask: a worker only renders and stores.
"""

from __future__ import annotations

from .config import from_environment
from .pipeline.pipeline import Pipeline, limit_native_threads
from .pipeline.queue import ReportQueue
from .pipeline.renderer import Renderer
from .storage.database import Database
from .therapists.invites import clear_all_expired_drafts

settings = from_environment()
if not settings["CELERY_BROKER_URL"]:
    raise RuntimeError(
        "Set QUIZAPP_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers."
    )
if not settings["SECRET_KEY"]:
    raise RuntimeError("No secret key: set QUIZAPP_SECRET_KEY (the web servers' own).")
limit_native_threads()
database = Database(settings["DATABASE_URL"])
renderer = Renderer(Pipeline.load(settings), database.sessions, settings["SECRET_KEY"],
                    chores=[clear_all_expired_drafts])  # fmt: skip
queue = ReportQueue(settings["CELERY_BROKER_URL"])
queue.serve(renderer)
celery = queue.celery
