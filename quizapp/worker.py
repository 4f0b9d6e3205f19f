"""Entry point of the Celery report workers: ``.venv/bin/celery -A quizapp.worker:celery
worker`` (only with ``QUIZAPP_CELERY_BROKER_URL``; the embedded default runs ``quizapp
renderer`` instead).

Reads the same settings as the web servers (``DATABASE_URL``, ``QUIZAPP_SECRET_KEY``,
``QUIZAPP_CELERY_BROKER_URL`` and the content paths), loads the pipeline and exposes its
Celery app. No Flask: a worker only renders and stores, and sends webhook events
(``quizapp.therapists.deliveries``; beat's schedule also sweeps up any that are due).
"""

from __future__ import annotations

from .config import from_environment
from .pipeline.pipeline import Pipeline, limit_native_threads
from .pipeline.purging import EVERY, purge_now
from .pipeline.queue import ReportQueue
from .pipeline.renderer import Renderer
from .storage.database import Database
from .storage.retention import Policy
from .therapists import deliveries
from .therapists.invites import clear_all_expired_drafts

PURGE_TASK = "quizapp.retention_purge"
SWEEP_TASK = "quizapp.webhook_sweep"
SWEEP_EVERY = 60.0  # seconds
settings = from_environment()
if not settings["CELERY_BROKER_URL"]:
    raise RuntimeError(
        "Set QUIZAPP_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers."
    )
if not settings["SECRET_KEY"]:
    raise RuntimeError("No secret key: set QUIZAPP_SECRET_KEY (the web servers' own).")
limit_native_threads()
database = Database(settings["DATABASE_URL"])
pipeline = Pipeline.load(settings)
policy = Policy.from_settings(settings)
renderer = Renderer(pipeline, database.sessions, settings["SECRET_KEY"],
                    chores=[clear_all_expired_drafts])  # fmt: skip
queue = ReportQueue(settings["CELERY_BROKER_URL"])
queue.serve(renderer)
celery = queue.celery
deliverer = deliveries.Deliverer.from_settings(database.sessions, settings)
deliveries.serve(celery, deliverer)


@celery.task(name=PURGE_TASK, shared=False)  # type: ignore[untyped-decorator]
def retention_purge() -> dict[str, int]:
    """The retention purge, on Celery beat's schedule (``celery -A quizapp.worker:celery beat``
    beside the workers, or a worker started with ``-B``)."""
    return purge_now(pipeline, database.sessions, policy)


@celery.task(name=SWEEP_TASK, shared=False)  # type: ignore[untyped-decorator]
def webhook_sweep() -> int:
    """Send the webhook deliveries that are due (a safety net on beat's schedule: a delivery
    whose message the broker lost is still in the database)."""
    return deliverer.drain()


celery.conf.beat_schedule = {
    "retention purge": {"task": PURGE_TASK, "schedule": EVERY},
    "webhook sweep": {"task": SWEEP_TASK, "schedule": SWEEP_EVERY},
}
