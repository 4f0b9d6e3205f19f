"""``quizapp keys reseal``: after a new ``QUIZAPP_SECRET_KEY`` (the old one in
``QUIZAPP_SECRET_KEY_FALLBACKS``), seal again with the new key everything the old one sealed:
therapists' two-factor secrets, the receipt codes of pending render jobs, stored therapist
reports and webhook signing secrets. Then the old key can be dropped (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from . import settings


@click.group()
def keys() -> None:
    """The secret key: rotating it without locking anyone out."""


def _reseal_all(
    database: Any, rows: Callable[[int], Any], reseal: Callable[[Any], bool], batch: int
) -> tuple[int, int]:
    """Reseal the rows that ``rows(after_id)`` selects, ``batch`` per transaction; how many
    were sealed again, and how many opened with no key."""
    from cryptography.exceptions import InvalidTag

    done = unreadable = last = 0
    while True:
        with database.sessions() as session:
            found: Sequence[Any] = list(session.scalars(rows(last).limit(batch)))
            if not found:
                return done, unreadable
            for row in found:
                try:
                    done += reseal(row)
                except InvalidTag:
                    unreadable += 1
            session.commit()
            last = found[-1].id


@keys.command("reseal")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 10_000))
def reseal(batch: int) -> None:
    """Seal with QUIZAPP_SECRET_KEY what an older key (QUIZAPP_SECRET_KEY_FALLBACKS) sealed.

    Safe while the service runs (the web app opens either until then); exits with 1 if some
    secret opened with none of the keys."""
    from sqlalchemy import or_, select

    from .. import logs
    from ..pipeline.jobs import reseal_row
    from ..storage.database import Database
    from ..storage.tables import RenderedReport as Report
    from ..storage.tables import Therapist, WebhookEndpoint
    from ..therapists.two_factor import reseal_totp
    from ..therapists.webhooks import reseal_endpoint

    logs.configure()
    configured = settings()
    secret, fallbacks = configured["SECRET_KEY"], configured["SECRET_KEY_FALLBACKS"]
    if not secret:
        raise click.ClickException("No secret key: set QUIZAPP_SECRET_KEY (the new one).")
    if not fallbacks:
        raise click.ClickException("Set QUIZAPP_SECRET_KEY_FALLBACKS to the old key(s) first.")
    sealed = or_(
        Report.job_key.is_not(None), (Report.kind == "therapist") & Report.pdf.is_not(None)
    )
    database = Database(configured["DATABASE_URL"])
    try:
        counts = {
            "two-factor secrets": _reseal_all(
                database,
                lambda after: select(Therapist).where(Therapist.totp_secret.is_not(None),
                                                      Therapist.id > after).order_by(Therapist.id),
                lambda account: reseal_totp(secret, fallbacks, account), batch),
            "render jobs and therapist reports": _reseal_all(
                database,
                lambda after: select(Report).where(sealed, Report.id > after).order_by(Report.id),
                lambda row: reseal_row(secret, fallbacks, row), batch),
            "webhook signing secrets": _reseal_all(
                database,
                lambda after: select(WebhookEndpoint).where(WebhookEndpoint.id > after)
                .order_by(WebhookEndpoint.id),
                lambda endpoint: reseal_endpoint(secret, fallbacks, endpoint), batch),
        }  # fmt: skip
    finally:
        database.dispose()
    _report(counts.items())


def _report(counts: Iterable[tuple[str, tuple[int, int]]]) -> None:
    missing = 0
    for name, (done, unreadable) in counts:
        click.echo(f"{name}: {done} sealed again with the new key; {unreadable} opened with none")
        missing += unreadable
    if missing:
        raise click.ClickException(
            "Some secrets opened with none of the keys: is an old key missing from "
            "QUIZAPP_SECRET_KEY_FALLBACKS?"
        )
