"""PDF rendering on a real job queue (Celery with Redis) for deployments with several app
servers: set ``QUIZAPP_CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) and run
``.venv/bin/celery -A quizapp.pipeline.worker:celery worker``. Without it, each app process
renders in its own small thread pool (:class:`~quizapp.pipeline.jobs.ReportRenderer`), so the
embedded default needs no broker.

The job needs the receipt code (the stored PDF is sealed with a key derived from it), and a
broker is one more place data passes through, so the code travels sealed with a key derived
from the app's secret key, which the app and its workers share; the broker only ever sees
the submission id and ciphertext.
"""

from __future__ import annotations

import base64
import logging

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from ..storage import receipts
from .jobs import render_and_store
from .pipeline import Pipeline

log = logging.getLogger(__name__)
TASK = "quizapp.render_report"
QUEUE = "reports"
RETRIES = 3


def _key(secret: str) -> bytes:
    return receipts.derive_key(secret, b"secure-base/queue", b"receipt-v1")


def seal_receipt(secret: str, receipt: str) -> str:
    blob = receipts.encrypt(_key(secret), receipt.encode("ascii"), b"render")
    return base64.urlsafe_b64encode(blob).decode("ascii")


def open_receipt(secret: str, sealed: str) -> str:
    blob = base64.urlsafe_b64decode(sealed.encode("ascii"))
    return receipts.decrypt(_key(secret), blob, b"render").decode("ascii")


class ReportQueue:
    """The Celery app of the render jobs: the web side sends jobs, a worker runs them with the
    same pipeline and database (``quizapp.pipeline.worker`` builds one from the settings)."""

    def __init__(
        self, broker_url: str, secret_key: str, pipeline: Pipeline, sessions: sessionmaker[Session]
    ) -> None:
        self.secret_key = secret_key
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

        @self.celery.task(name=TASK, bind=True, max_retries=RETRIES, shared=False)  # type: ignore[untyped-decorator]
        def render_report(task: object, submission_id: int, sealed: str) -> None:
            receipt = open_receipt(secret_key, sealed)
            with sessions() as session:
                row = render_and_store(pipeline, session, submission_id, receipt=receipt,
                                       attempts=1)  # fmt: skip
                failed = row is not None and row.status == "failed"
            if failed:
                retries = task.request.retries  # type: ignore[attr-defined]
                raise task.retry(countdown=2**retries)  # type: ignore[attr-defined]

    def enqueue(self, submission_id: int, receipt: str) -> None:
        """Send one client-report job to the broker."""
        self.celery.send_task(TASK, args=[submission_id, seal_receipt(self.secret_key, receipt)])
