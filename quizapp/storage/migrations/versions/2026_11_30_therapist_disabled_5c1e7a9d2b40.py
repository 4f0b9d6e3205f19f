"""An operator can disable a therapist account

Revision ID: 5c1e7a9d2b40
Revises: af04cdd21a2b
Create Date: 2026-11-30 13:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5c1e7a9d2b40"
down_revision = "af04cdd21a2b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("therapists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("therapists", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
