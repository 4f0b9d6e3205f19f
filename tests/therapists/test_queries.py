"""The dashboard reads what it shows: its queries walk an index in the order they show, stop
at their limit, and write nothing; an existing database gets the therapist ids they use."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from quizapp.storage.database import Database, alembic_config
from quizapp.therapists import clients, invites

from .conftest import app_config  # noqa: F401  (the therapists' app fixture is used)


def plans(session: Session, run: Callable[[], Any]) -> list[str]:
    """The query plans (SQLite) of every SELECT that ``run`` sends."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    found = []
    for statement, parameters in sent:
        rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        found.append(" | ".join(row[3] for row in rows))
    return found


@pytest.mark.parametrize(
    "query",
    [
        lambda s: clients.recent_completed(s, 1),
        lambda s: invites.open_invites(s, 1),
        lambda s: clients.list_clients(s, 1),
    ],
    ids=["recently completed", "waiting invitations", "clients page"],
)
def test_dashboard_queries_need_no_sort(tmp_path: Path, query: Callable[[Session], Any]) -> None:
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.sessions() as session:
        found = plans(session, lambda: query(session))
    database.dispose()
    assert found, "no query was sent"
    for plan in found:
        if plan.startswith("CO-ROUTINE anon_"):  # a page cut first, in a subquery: reading and
            # ordering its own few rows again is neither a table read nor a sort of a table
            plan = re.sub(r" \| SCAN anon_\d+| \| USE TEMP B-TREE FOR ORDER BY$", "", plan)
        assert "TEMP B-TREE" not in plan, plan
        assert not re.search(r"SCAN (?!CONSTANT|\()", plan), f"a table read in full: {plan}"


def test_existing_results_and_invitations_get_their_therapist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "40f579d9c087")  # before the therapist ids
    database = Database(url)
    with database.engine.begin() as conn:
        for statement in (
            "INSERT INTO therapists (id, email, display_name, password_hash, session_epoch, "
            "created_at) VALUES (7, 'a@example.org', 'Ana', 'x', 0, '2026-01-01')",
            "INSERT INTO clients (id, therapist_id, label, created_at, last_activity_at) "
            "VALUES (3, 7, 'C-1', '2026-01-01', '2026-01-01')",
            "INSERT INTO submissions (id, receipt_hash, form_nonce, instrument_id, "
            "instrument_version, answers, started_at, finished_at, client_id) VALUES "
            "(1, randomblob(32), 'n1', 'quick', '1.0.0', '{}', '2026-01-01', '2026-01-01', 3), "
            "(2, randomblob(32), 'n2', 'quick', '1.0.0', '{}', '2026-01-01', '2026-01-01', NULL)",
            "INSERT INTO invites (id, client_id, token_hash, instrument_id, client_sees, "
            "created_at, expires_at, shared_receipt, submission_id, completed_at, "
            "consented_at, consent_version) VALUES (5, 3, randomblob(32), 'quick', 'results', "
            "'2026-01-01', '2026-02-01', 0, 1, '2026-01-01', '2026-01-01', 'v1')",
            "INSERT INTO content_snapshots (version, source, stored_at) VALUES "
            "('c1', '{}', '2026-01-01')",
            "INSERT INTO analyses (submission_id, rules_version, content_version, record, "
            "computed_at) VALUES (1, 'r1', 'c1', '{}', '2026-01-01')",
            "INSERT INTO rendered_reports (submission_id, kind, page_size, template_version, "
            "status, attempts, pdf, updated_at, priority, created_at) VALUES "
            "(1, 'client', 'A4', 'v', 'done', 1, x'00', '2026-01-01', 0, '2026-01-01')",
        ):
            conn.execute(text(statement))
    database.dispose()

    def kept() -> tuple[object, ...]:
        database = Database(url)
        with database.engine.connect() as conn:
            found = tuple(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                          for table in ("analyses", "rendered_reports"))  # fmt: skip
            found += (conn.execute(text("SELECT submission_id FROM invites")).scalar(),)
        database.dispose()
        return found

    command.upgrade(alembic_config(url), "head")
    assert kept() == (1, 1, 1), "copying a table in SQLite's batch mode deleted nothing"
    database = Database(url)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT id, therapist_id FROM submissions ORDER BY id")).all() == [
            (1, 7), (2, None)
        ]  # fmt: skip
        assert conn.execute(text("SELECT therapist_id FROM invites")).scalar() == 7
    database.dispose()
    command.downgrade(alembic_config(url), "40f579d9c087")
    assert kept() == (1, 1, 1), "nor did going back"
