"""``quizapp db upgrade | downgrade | current | revision``: Alembic migrations of the database
that ``DATABASE_URL`` names (no app needed, no secret key)."""

from __future__ import annotations

from typing import Any

import click

from . import settings


def _alembic() -> tuple[Any, Any]:
    """Alembic's command module and the configuration for the configured database."""
    from pathlib import Path

    from alembic import command

    from ..storage.database import alembic_config

    configured = settings()
    Path(configured["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)  # the SQLite default
    return command, alembic_config(configured["DATABASE_URL"])


@click.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    command, config = _alembic()
    command.upgrade(config, revision)


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    command, config = _alembic()
    command.downgrade(config, revision)


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    command, config = _alembic()
    command.current(config)


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration from the difference between tables.py and the database."""
    command, config = _alembic()
    command.revision(config, message=message, autogenerate=True)
