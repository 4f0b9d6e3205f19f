"""``quizapp db``: the migrations run against ``DATABASE_URL`` with no app and no secret key."""

from __future__ import annotations

import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from quizapp.cli import cli
from quizapp.storage.database import make_engine
from quizapp.storage.tables import Base


def test_db_commands_migrate_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner(env={"DATABASE_URL": url, "QUIZAPP_SECRET_KEY": None})

    def run(*args: str) -> int:
        result = runner.invoke(cli, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code

    assert run("db", "upgrade") == 0
    assert run("db", "current") == 0
    engine = make_engine(url)
    with engine.connect() as conn, warnings.catch_warnings():
        # the trigram index is PostgreSQL's alone (tests/storage/test_storage.py)
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()
    assert run("db", "downgrade", "base") == 0
