"""The renderer: a process of its own (``quizapp renderer``) that drains the render queue.

It claims the most urgent job, reads the stored analysis, renders the PDF with WeasyPrint,
seals and stores it, and takes the next; between jobs it waits ``poll`` seconds. The web
workers never render, so a backlog of renders slows no page and no submission: the renderer
runs at a lower scheduling priority and works through the queue, jobs someone is waiting
for first. Between jobs it also does the service's periodic chores (``chores``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from ..reports.render import render_pdf
from ..storage import receipts
from ..storage.tables import Client, RenderedReport, Submission, aware, utcnow
from .jobs import claim, fail, finish, open_receipt, seal_pdf
from .pipeline import Pipeline
from .stored import stored_analysis

log = logging.getLogger(__name__)
Chore = Callable[[Session], None]


class Renderer:
    """Renders queued reports with ``pipeline`` into the database of ``sessions``."""

    def __init__(
        self,
        pipeline: Pipeline,
        sessions: sessionmaker[Session],
        secret_key: str,
        *,
        poll: float = 0.2,
        chores: Sequence[Chore] = (),
        chores_every: float = 300.0,
    ) -> None:
        self.pipeline = pipeline
        self.sessions = sessions
        self.secret_key = secret_key
        self.poll = poll
        self.chores = chores
        self.chores_every = chores_every
        self._next_chores = time.monotonic()

    def warm_up(self) -> None:
        """Load WeasyPrint, the fonts and the stylesheets now, not in the first job."""
        from ..reports.render import warm_up

        warm_up(self.pipeline.templates_dir)

    def render(self, session: Session, row: RenderedReport) -> None:
        """Render one claimed job and store the sealed PDF, or record the failure."""
        submission_id, kind = row.submission_id, row.kind
        submission = session.get(Submission, submission_id)
        if submission is None:  # deleted meanwhile, and the job with it
            return
        if row.kind == "client" and row.job_key is None:  # queued without its code: it cannot
            fail(session, row, "queued without its receipt code", final=True)  # be sealed
            return
        try:
            receipt = None if row.job_key is None else open_receipt(self.secret_key, row.job_key)
            analysis = stored_analysis(self.pipeline, session, submission)
            shown = None if receipt is None else receipts.display(receipt)
            label = None
            if row.kind == "therapist" and submission.client_id is not None:
                client = session.get(Client, submission.client_id)
                label = None if client is None else client.label
            data = self.pipeline.report_data(analysis, receipt=shown, kind=row.kind,
                                             client_label=label)  # fmt: skip
            pdf = render_pdf(data, row.kind, page_size=row.page_size,
                             templates_dir=self.pipeline.templates_dir)  # fmt: skip
        except Exception as exc:  # any failure: keep the result, log, retry later
            log.exception("rendering the %s report of submission %s failed", kind,
                          submission_id)  # fmt: skip
            session.rollback()
            error = f"{type(exc).__name__}: {exc}"
            self._record(session, submission_id, lambda: fail(session, row, error))
            return
        if not self._record(
            session,
            submission_id,
            lambda: finish(session, row, seal_pdf(self.secret_key, receipt, pdf)),
        ):
            return
        waited = (utcnow() - aware(row.created_at)).total_seconds()
        log.info("rendered the %s report of submission %s (%d KiB, %.1f s after it was queued)",
                 kind, submission_id, len(pdf) // 1024, waited)  # fmt: skip

    @staticmethod
    def _record(session: Session, submission_id: int, store: Callable[[], None]) -> bool:
        """Store a job's outcome; False if the result was deleted meanwhile (its job too)."""
        try:
            store()
        except (StaleDataError, ObjectDeletedError):
            session.rollback()
            log.info("submission %s was deleted while its report rendered", submission_id)
            return False
        return True

    def run_once(self, job_id: int | None = None) -> bool:
        """Claim and render one job (this one, or the most urgent); False if there was none."""
        with self.sessions() as session:
            row = claim(session, self.pipeline.report_version, job_id)
            if row is None:
                return False
            self.render(session, row)
            return True

    def pending_retry(self, job_id: int) -> bool:
        """Whether a job is waiting to be tried again after a failed attempt."""
        with self.sessions() as session:
            row = session.get(RenderedReport, job_id)
            return row is not None and row.status == "pending" and row.not_before is not None

    def drain(self) -> int:
        """Render every job there is now; how many."""
        done = 0
        while self.run_once():
            done += 1
        return done

    def chores_due(self) -> None:
        """Do the periodic chores if they are due (a Celery worker calls this before a job)."""
        if time.monotonic() >= self._next_chores:
            self.do_chores()

    def do_chores(self) -> None:
        self._next_chores = time.monotonic() + self.chores_every
        for chore in self.chores:
            try:
                with self.sessions() as session:
                    chore(session)
                    session.commit()
            except Exception:  # a chore must not stop the renderer
                log.exception("periodic chore %s failed", getattr(chore, "__name__", chore))

    def run(self, stop: threading.Event) -> None:
        """Render jobs as they come until ``stop`` is set (a signal, or the end of a test)."""
        while not stop.is_set():
            self.chores_due()
            try:
                worked = self.run_once()
            except Exception:  # the database went away: wait, and try again
                log.exception("the render queue could not be read")
                worked = False
            if not worked:
                stop.wait(self.poll)
