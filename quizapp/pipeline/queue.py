"""The render queue on Celery with Redis, for deployments that want a broker: set
``QUIZAPP_CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) and run
``.venv/bin/celery -A quizapp.worker:celery worker``. Without it, ``quizapp renderer``
processes poll the queue in the database (the embedded default, no broker needed).

Either way the job is the row in the database (``jobs``): the broker carries only its id,
a wake-up call for a worker. The receipt code stays sealed in the row, so the broker never
sees it; a job whose message was lost is still in the database, and the next download that
waits for it sends it again.
"""

from __future__ import annotations

from typing import Protocol

from celery import Celery

from .jobs import RETRY_PAUSE

TASK = "quizapp.render_report"
QUEUE = "reports"
RETRIES = 3


class Renders(Protocol):
    """What a worker renders with (``renderer.Renderer``)."""

    def run_once(self, job_id: int | None = None) -> bool: ...

    def chores_due(self) -> None: ...

    def pending_retry(self, job_id: int) -> bool: ...


class ReportQueue:
    """The Celery app of the render jobs: the web side sends job ids; a worker (``serve``)
    renders them (``quizapp.worker`` builds one from the settings)."""

    def __init__(self, broker_url: str) -> None:
        self.celery = Celery("quizapp", broker=broker_url, set_as_current=False)
        self.celery.conf.update(
            task_ignore_result=True,  # the result is the stored PDF
            task_acks_late=True,  # a worker that dies mid-render leaves the job for another
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,  # renders are long: one at a time per worker process
            task_serializer="json",
            accept_content=["json"],
            task_default_queue=QUEUE,
            broker_connection_retry_on_startup=True,
            worker_hijack_root_logger=False,
        )

    def serve(self, renderer: Renders) -> None:
        """Register the render task, run by this process's workers with ``renderer``."""

        @self.celery.task(name=TASK, bind=True, max_retries=RETRIES, shared=False)  # type: ignore[untyped-decorator]
        def render_report(task: object, job_id: int) -> None:
            renderer.chores_due()
            renderer.run_once(job_id)
            if renderer.pending_retry(job_id):  # the attempt failed: try again after a pause
                retries = task.request.retries  # type: ignore[attr-defined]
                seconds = RETRY_PAUSE.total_seconds() * 2**retries
                raise task.retry(countdown=seconds)  # type: ignore[attr-defined]

    def enqueue(self, job_id: int) -> None:
        """Wake a worker for one job."""
        self.celery.send_task(TASK, args=[job_id])

    def send(self, task: str, row_id: int) -> None:
        """Wake a worker for another kind of job kept in the database (a webhook delivery:
        ``quizapp.therapists.deliveries.TASK``), by its row id alone."""
        self.celery.send_task(task, args=[row_id])
