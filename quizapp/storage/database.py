"""Engines, sessions and migrations for a database URL (SQLite or PostgreSQL); no Flask.

SQLite connections get WAL, foreign keys and ``secure_delete``. The web layer keeps one
session per request (``quizapp.web.extensions``); jobs and commands open their own from
:attr:`Database.sessions`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import orjson
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Engine,
    Insert,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .deadline import CONNECT_SECONDS, limit_round_trips

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted results are overwritten, not just unlinked
    cursor.execute("PRAGMA busy_timeout=4000")  # a locked database is a 503 within 5 s
    cursor.close()


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, deadline: float | None = None, **options: Any) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and secure delete; errors
    do not show statement parameters.

    With ``deadline`` (seconds; PostgreSQL), no call waits longer for the server: connecting
    gives up after 2 s, the server ends statements a little before the deadline, and a watcher
    ends any call still waiting at it (``quizapp.storage.deadline``); a request for a pooled
    connection waits as long. Without, connecting gives up after 5 s and nothing else is timed
    (migrations and batch commands may run long)."""
    options.setdefault("pool_pre_ping", not url.startswith("sqlite"))
    # A failed statement's error names its SQL, never its values (answers, hashes, tokens),
    # so no log line or traceback carries them.
    options.setdefault("hide_parameters", True)
    # JSON columns (answers, analyses) through orjson: a result's analysis is a few kilobytes
    # of JSON, written with every submission and read with every view of its page.
    options.setdefault("json_serializer", _json_text)
    options.setdefault("json_deserializer", orjson.loads)
    postgresql = url.startswith("postgresql")
    if postgresql and deadline:
        statement_ms = max(500, int((deadline - 0.5) * 1000))
        server_limit = f"-c statement_timeout={statement_ms}"
        connect = {"connect_timeout": CONNECT_SECONDS, "options": server_limit}
        options.setdefault("connect_args", connect)
        options["pool_pre_ping"] = False  # the deadline's own ping replaces it
        options.setdefault("pool_timeout", deadline)
    elif postgresql:  # a server that does not answer is an error within 5 s
        options.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif deadline:
        limit_round_trips(engine, deadline)
    return engine


class Database:
    """One engine for a URL and the factory of its sessions (objects stay readable after a
    commit: ``expire_on_commit=False``)."""

    def __init__(self, url: str, *, deadline: float | None = None, **engine_options: Any) -> None:
        self.engine = make_engine(url, deadline=deadline, **engine_options)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        # Sessions whose statements each commit by themselves: for requests that read, and
        # write at most one row at a time (an audit line). On a server that spares the BEGIN
        # and ROLLBACK round trips; SQLite has no round trips, and keeps ordinary sessions.
        self.reading_sessions: sessionmaker[Session] = (
            self.sessions
            if self.engine.dialect.name == "sqlite"
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
            )
        )
        # A process forked after this (gunicorn --preload) must not use the parent's
        # connections: the child forgets them and opens its own.
        alive = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_connections(alive()))

    def dispose(self) -> None:
        self.engine.dispose()


def wipe_wal(engine: Engine) -> bool:
    """After a deletion has committed, on SQLite: copy the write-ahead log into the database
    file and empty it, so no frame of it still holds a deleted row (``secure_delete`` has
    zeroed the rows in the pages written since). Waits for readers up to the busy timeout;
    False if one kept it from finishing (the next deletion's wipe catches up). PostgreSQL:
    nothing to do here (what its WAL and backups keep is in docs/privacy-deletion.md)."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        busy, _frames, _copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return int(busy) == 0


def _forget_connections(database: Database | None) -> None:
    if database is not None:
        database.engine.dispose(close=False)


_inserts: dict[Table, tuple[Insert, Insert | None]] = {}  # built once: their cache keys too


def insert_values(session: Session, kind: type[DeclarativeBase], values: Mapping[str, Any]) -> int:
    """INSERT one row of ``kind`` with ``values`` (every column but a generated ``id``: column
    defaults are not applied) as one statement on the session's connection and transaction;
    return the generated id (0 for a table without one).

    For the rows written on every submission, where the unit of work's bookkeeping costs more
    than the statement."""
    table = cast(Table, kind.__table__)
    if table not in _inserts:
        plain = insert(table)
        _inserts[table] = (plain, plain.returning(table.c.id) if "id" in table.c else None)
    plain, returning = _inserts[table]
    if returning is None or "id" in values:
        session.connection().execute(plain, values)
        return int(values.get("id", 0))
    return int(session.connection().execute(returning, values).scalar_one())


Linked = tuple[type[DeclarativeBase], Mapping[str, Any]]
_together: dict[tuple[Any, ...], Select[Any]] = {}  # by the shape of the rows: built once


def insert_together(
    session: Session,
    kind: type[DeclarativeBase],
    values: Mapping[str, Any],
    linked: Sequence[Linked],
    *,
    link: str = "submission_id",
) -> tuple[int, tuple[int, ...]]:
    """INSERT one row of ``kind`` (as :func:`insert_values`) and the ``linked`` rows that point
    at it (their ``link`` column gets its new id) on the session's connection and transaction;
    return its id and theirs (0 for a table without one).

    On PostgreSQL that is one statement (data-modifying ``WITH`` clauses), so one round trip to
    the server instead of one per row; elsewhere it is one INSERT each."""
    if not linked or session.get_bind().dialect.name != "postgresql":
        new_id = insert_values(session, kind, values)
        return new_id, tuple(insert_values(session, k, {**v, link: new_id}) for k, v in linked)
    shape = (kind, tuple(values), tuple((k, tuple(v)) for k, v in linked), link)
    if shape not in _together:
        _together[shape] = _statement_together(*shape)
    params = {f"r0_{column}": value for column, value in values.items()}
    for i, (_kind, row) in enumerate(linked, 1):
        params |= {f"r{i}_{column}": value for column, value in row.items()}
    first, *others = session.connection().execute(_together[shape], params).one()
    return int(first), tuple(int(other) for other in others)


def _statement_together(
    kind: type[DeclarativeBase],
    columns: tuple[str, ...],
    linked: tuple[tuple[type[DeclarativeBase], tuple[str, ...]], ...],
    link: str,
) -> Select[Any]:
    """``WITH r0 AS (INSERT ... RETURNING id), r1 AS (INSERT ... SELECT r0.id, ...), ...
    SELECT r0.id, r1.id, ...``: PostgreSQL runs every clause of it, as one statement."""
    table = cast(Table, kind.__table__)
    first = (
        insert(table)
        .values({c: bindparam(f"r0_{c}", type_=table.c[c].type) for c in columns})
        .returning(table.c.id)
        .cte("r0")
    )
    clauses: list[Any] = []
    ids: list[Any] = [first.c.id]
    for i, (other, other_columns) in enumerate(linked, 1):
        t = cast(Table, other.__table__)
        source = select(first.c.id, *(bindparam(f"r{i}_{c}", type_=t.c[c].type)
                                      for c in other_columns))  # fmt: skip
        statement = insert(t).from_select([link, *other_columns], source)
        if "id" in t.c:
            clause = statement.returning(t.c.id).cte(f"r{i}")
            ids.append(select(clause.c.id).scalar_subquery())
        else:
            clause = statement.cte(f"r{i}")
            ids.append(literal_column("0"))
        clauses.append(clause)
    return select(*ids).add_cte(*clauses)


def alembic_config(url: str) -> AlembicConfig:
    """Alembic settings for the database at ``url`` (migration files are named by date)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s_%%(rev)s")
    return cfg


def migrate_fresh(url: str) -> None:
    """Drop every table there and build the schema with the real migrations (tests and
    benchmarks; never called by the app)."""
    from alembic import command

    from .tables import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    command.upgrade(alembic_config(url), "head")


def schema_head() -> str | None:
    """The newest migration this code has (read from the migration files)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def schema_revision(conn: Any) -> str | None:
    """The migration the database on ``conn`` is at (a query: it also shows it answers)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
