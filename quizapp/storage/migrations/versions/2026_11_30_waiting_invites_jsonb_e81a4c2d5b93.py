"""Waiting invitations from a partial index; on PostgreSQL analyses stored as JSONB and a
trigram index for the label search

Revision ID: e81a4c2d5b93
Revises: 9d3b6f1e2c47
Create Date: 2026-11-30 15:30:00.000000
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "e81a4c2d5b93"
down_revision = "9d3b6f1e2c47"
branch_labels = None
depends_on = None

WAITING = sa.text("completed_at IS NULL AND revoked_at IS NULL")
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    # The dashboard's "Waiting for the client": only open invitations are in this index, in
    # the order the page shows them, so the first 20 are read in order and the rest never.
    op.create_index(
        "ix_invites_therapist_waiting", "invites", ["therapist_id", "created_at"],
        postgresql_where=WAITING, sqlite_where=WAITING,
    )  # fmt: skip
    # PostgreSQL parses a json value again for every ``->``; jsonb is stored parsed, so lists of
    # results cut their scores out of each analysis without reading the whole record as text.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "analyses", "record", type_=postgresql.JSONB(), existing_type=sa.JSON(),
            postgresql_using="record::jsonb",
        )  # fmt: skip
        label_trigrams()


def label_trigrams() -> None:
    """The dashboard's search finds part of a label; without an index PostgreSQL reads every
    client of the therapist for it. A trigram index (pg_trgm, a trusted extension that ships
    with PostgreSQL) answers it from the index. Where the extension cannot be created (a
    server without it, a role that may not), the search works as before, only slower."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("no pg_trgm (%s): the client search reads every label", type(exc).__name__)
        return
    op.execute(
        "CREATE INDEX ix_clients_label_trigrams ON clients USING gin (lower(label) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clients_label_trigrams")
        op.alter_column(
            "analyses", "record", type_=sa.JSON(), existing_type=postgresql.JSONB(),
            postgresql_using="record::json",
        )  # fmt: skip
    op.drop_index("ix_invites_therapist_waiting", table_name="invites")
