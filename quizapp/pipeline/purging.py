"""The retention purge as a periodic chore of the renderer (and of Celery's beat schedule), so
the embedded default keeps to the retention policy with no cron job (``quizapp.storage.
retention`` says what is kept and for how long)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..storage.database import wipe_wal
from ..storage.retention import BATCH, Current, Policy, purge
from .pipeline import Pipeline

log = logging.getLogger(__name__)
EVERY = 3600.0  # seconds between purges


def current_of(pipeline: Pipeline) -> Current:
    return Current(report=pipeline.report_version, content=pipeline.interpreter.content.version)


def purge_now(
    pipeline: Pipeline, sessions: Callable[[], Session], policy: Policy, batch: int = BATCH
) -> dict[str, int]:
    """Delete what is due, then leave none of it in SQLite's write-ahead log."""
    deleted = purge(sessions, policy, current_of(pipeline), batch=batch)
    if any(deleted.values()):
        with sessions() as session:
            engine = session.get_bind()
        if isinstance(engine, Engine) and not wipe_wal(engine):
            log.warning("the write-ahead log was busy; it is wiped after the next deletion")
        log.info("retention purge: %s",
                 ", ".join(f"{n} {kind}" for kind, n in deleted.items() if n))  # fmt: skip
    return deleted


class HourlyPurge:
    """A chore (``Renderer(chores=...)``) that purges at most once every ``every`` seconds."""

    __name__ = "retention purge"

    def __init__(self, pipeline: Pipeline, sessions: Callable[[], Session], policy: Policy,
                 every: float = EVERY) -> None:  # fmt: skip
        self.pipeline, self.sessions, self.policy, self.every = pipeline, sessions, policy, every
        self._next = time.monotonic()

    def __call__(self, _session: Session) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every
        purge_now(self.pipeline, self.sessions, self.policy)
