"""``quizapp purge``: delete what the retention policy says is due (a dry run by default)."""

from __future__ import annotations

import click

from ..config import from_environment


@click.command()
@click.option("--apply", "apply_", is_flag=True,
              help="Delete. Without it, only print what would be deleted.")  # fmt: skip
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction (short ones: the service runs on).")  # fmt: skip
def purge(apply_: bool, batch: int) -> None:
    """Delete what the retention policy says is due, per kind; a dry run unless --apply.

    The renderer runs the same purge every hour; run this with the same version of the code
    as the web servers (PDFs of any other report version count as stale)."""
    from .. import logs
    from ..pipeline.pipeline import Pipeline
    from ..pipeline.purging import current_of, purge_now
    from ..scoring.instrument import InstrumentError
    from ..storage.database import Database
    from ..storage.retention import Policy, due

    logs.configure()
    settings = from_environment()
    try:
        pipeline = Pipeline.load(settings)
    except (InstrumentError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"cannot load the report version: {exc}") from exc
    policy = Policy.from_settings(settings)
    database = Database(settings["DATABASE_URL"])
    click.echo(f"Kept: anonymous results {policy.results_days} days, audit entries "
               f"{policy.audit_days} days, unfinished invitations 30 days after they end, "
               "reset tokens and failed sign-ins a day.")  # fmt: skip
    try:
        if apply_:
            counts = purge_now(pipeline, database.sessions, policy, batch)
            click.echo("Deleted:")
        else:
            with database.sessions() as session:
                counts = due(session, policy, current_of(pipeline))
            click.echo("Would delete (a dry run; --apply deletes):")
    finally:
        database.dispose()
    for name, count in counts.items():
        click.echo(f"{count:>10}  {name}")
