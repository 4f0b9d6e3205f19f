"""``quizapp db upgrade | downgrade | current | revision``: Alembic migrations of the database
that ``DATABASE_URL`` names (no app needed, no secret key); ``quizapp db backup PATH``: a
consistent copy while the service runs."""

from __future__ import annotations

from pathlib import Path
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


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def db_backup(path: Path, force: bool) -> None:
    """Copy the database to PATH while the service runs.

    SQLite: the online backup API (a consistent copy, checked with PRAGMA integrity_check;
    restore by putting the file in place while the service is stopped). PostgreSQL: pg_dump's
    custom format (restore with pg_restore). PATH is readable by its owner only."""
    from sqlalchemy.engine import make_url

    if path.exists() and not force:
        raise click.ClickException(f"{path} exists: give another path, or --force")
    url = make_url(settings()["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        _backup_sqlite(Path(url.database or ""), path)
    elif url.get_backend_name() == "postgresql":
        _backup_postgresql(url.set(drivername="postgresql"), path)
    else:
        raise click.ClickException(f"no backup for {url.get_backend_name()} databases")
    click.echo(f"backed up to {path} ({path.stat().st_size:,} bytes)")


def _backup_sqlite(source: Path, path: Path) -> None:
    import os
    import sqlite3

    if not source.is_file():
        raise click.ClickException(f"no database at {source}")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with open(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600), "wb"):
        pass  # created owner-only before any byte goes in
    origin, copy = sqlite3.connect(source), sqlite3.connect(partial)
    try:
        origin.backup(copy, pages=256)  # steps, so writers are not held up for long
        (check,) = copy.execute("PRAGMA integrity_check").fetchone()
    finally:
        origin.close()
        copy.close()
    if check != "ok":
        partial.unlink()
        raise click.ClickException(f"the copy failed its integrity check: {check}")
    partial.replace(path)


def _backup_postgresql(url: Any, path: Path) -> None:
    """pg_dump of ``url``; its password goes in the environment, not in the process list."""
    import os
    import shutil
    import subprocess

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise click.ClickException("pg_dump is not installed (Debian: postgresql-client)")
    partial = path.with_name(path.name + ".partial")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    target = url.set(password=None).render_as_string(hide_password=False)
    command = [pg_dump, "--format=custom", "--no-password", "--file", str(partial), "--dbname",
               target]  # fmt: skip
    # The operator's own settings, as an argument list (no shell).
    done = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"pg_dump failed: {done.stderr.strip()}")
    os.chmod(partial, 0o600)
    partial.replace(path)
