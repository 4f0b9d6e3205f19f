"""Clients listed and searched from one index: activity order, id and label in it

Revision ID: 9d3b6f1e2c47
Revises: 5c1e7a9d2b40
Create Date: 2026-11-30 15:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "9d3b6f1e2c47"
down_revision = "5c1e7a9d2b40"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dashboard's page of clients (most recently active first) and its label search read
    # this index alone: the label in it spares a lookup of every client row the search passes.
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_therapist_activity")
        batch_op.create_index(
            "ix_clients_therapist_activity",
            ["therapist_id", "last_activity_at", "id", "label"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_therapist_activity")
        batch_op.create_index(
            "ix_clients_therapist_activity", ["therapist_id", "last_activity_at"], unique=False
        )
