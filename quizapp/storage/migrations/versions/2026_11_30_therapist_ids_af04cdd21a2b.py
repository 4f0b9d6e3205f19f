"""The therapist of each result and invitation, for index-ordered dashboard queries

Revision ID: af04cdd21a2b
Revises: 40f579d9c087
Create Date: 2026-11-30 06:42:10.604770
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "af04cdd21a2b"
down_revision = "40f579d9c087"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The client's therapist on each result and invitation, filled in from the client, so that
    # the dashboard reads its newest results and waiting invitations in index order.
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("therapist_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("therapist_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE invites SET therapist_id = (SELECT clients.therapist_id FROM clients "
        "WHERE clients.id = invites.client_id)"
    )
    op.execute(
        "UPDATE submissions SET therapist_id = (SELECT clients.therapist_id FROM clients "
        "WHERE clients.id = submissions.client_id) WHERE client_id IS NOT NULL"
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.alter_column("therapist_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_invites_therapist_open",
            ["therapist_id", "completed_at", "revoked_at", "created_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            "fk_invites_therapist_id", "therapists", ["therapist_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submissions_therapist_finished", ["therapist_id", "finished_at"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_submissions_therapist_id",
            "therapists",
            ["therapist_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            "therapist_with_client", "(client_id IS NULL) = (therapist_id IS NULL)"
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint("therapist_with_client", type_="check")
        batch_op.drop_constraint("fk_submissions_therapist_id", type_="foreignkey")
        batch_op.drop_index("ix_submissions_therapist_finished")
        batch_op.drop_column("therapist_id")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_constraint("fk_invites_therapist_id", type_="foreignkey")
        batch_op.drop_index("ix_invites_therapist_open")
        batch_op.drop_column("therapist_id")
