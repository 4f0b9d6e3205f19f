"""``quizapp renderer``: the process that renders PDF reports from the queue in the database.

``scripts/run`` starts one beside the web server; more can run on any machine that reaches
the database. It runs at a lower scheduling priority than the web server, loads WeasyPrint
once, and stops cleanly on Ctrl-C or SIGTERM (a job cut off mid-render is taken up again
when its lease runs out). Every few minutes it also clears the unfinished answers of
invitations that expired. A thread of the same process sends the webhook events that are due
(``quizapp.therapists.deliveries``), so a slow endpoint never holds up a render.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType

import click

from .. import logs
from . import settings


def lower_priority(nice: int) -> None:
    """Run below the web server: ``nice`` steps lower and, where the system has it (Linux),
    in the idle scheduling class (``SCHED_IDLE``), whose processes get a core only when no
    ordinary one wants it. With nice alone a renderer still takes a share of a busy core, and a
    web worker that wakes on that core waits for its turn (measured in
    ``benchmarks/traffic.py``: submits 25% slower at the median with a render backlog); in the
    idle class the scheduler counts that core as free and gives it to the web worker at once.
    ``--nice 0`` keeps the ordinary class."""
    if nice <= 0:
        return
    os.nice(nice)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):  # a container that forbids it: nice alone
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


@click.command("renderer")
@click.option("--nice", default=10, show_default=True,
              help="How much lower than the web server it runs (Unix nice increment; "
                   "above 0 also the idle scheduling class, where there is one).")  # fmt: skip
@click.option("--drain", is_flag=True, help="Render what is queued now, then stop.")
def renderer(nice: int, drain: bool) -> None:
    """Render queued PDF reports until stopped."""
    from ..pipeline.pipeline import Pipeline, limit_native_threads
    from ..pipeline.purging import HourlyPurge
    from ..pipeline.renderer import Renderer
    from ..scoring.instrument import InstrumentError
    from ..storage.database import Database
    from ..storage.retention import Policy
    from ..therapists.deliveries import Deliverer
    from ..therapists.invites import clear_all_expired_drafts
    from ..therapists.outbound import TIMEOUT

    configured = settings()
    if not configured["SECRET_KEY"]:
        raise click.ClickException("No secret key: set QUIZAPP_SECRET_KEY (the web server's own).")
    logs.configure(json_lines=configured["LOG_FORMAT"] == "json")
    lower_priority(nice)
    limit_native_threads()
    try:
        pipeline = Pipeline.load(configured)
    except (InstrumentError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"the renderer cannot start: {exc}") from exc
    database = Database(configured["DATABASE_URL"])
    purge = HourlyPurge(pipeline, database.sessions, Policy.from_settings(configured))
    worker = Renderer(pipeline, database.sessions, configured["SECRET_KEY"],
                      chores=[clear_all_expired_drafts, purge])  # fmt: skip
    hooks = Deliverer.from_settings(database.sessions, configured)
    worker.warm_up()
    try:
        if drain:
            click.echo(f"rendered {worker.drain()} reports")
            click.echo(f"made {hooks.drain()} webhook delivery attempts")
            return
        stop = threading.Event()
        sender = threading.Thread(target=hooks.run, args=(stop,), name="webhooks", daemon=True)

        def stop_on(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, stop_on)
        signal.signal(signal.SIGINT, stop_on)
        click.echo("renderer: waiting for reports to render (Ctrl-C stops)")
        sender.start()
        worker.run(stop)
        sender.join(timeout=TIMEOUT + 5)  # an attempt under way ends first
    finally:
        database.dispose()
