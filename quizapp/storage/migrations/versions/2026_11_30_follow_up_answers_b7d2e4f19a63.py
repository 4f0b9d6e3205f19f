"""A submission keeps the follow-up statements it was asked and their answers

Revision ID: b7d2e4f19a63
Revises: e81a4c2d5b93
Create Date: 2026-11-30 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b7d2e4f19a63"
down_revision = "e81a4c2d5b93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("follow_up")
