"""Personal access tokens for the JSON API (only their SHA-256 is stored)

Revision ID: c3f8a61d0e57
Revises: b7d2e4f19a63
Create Date: 2026-11-30 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3f8a61d0e57"
down_revision = "b7d2e4f19a63"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(token_hash) = 32", name="api_token_hash_is_sha256"),
        sa.CheckConstraint("expires_at > created_at", name="api_token_expires_after_created"),
        sa.ForeignKeyConstraint(["therapist_id"], ["therapists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_therapist_id", "api_tokens", ["therapist_id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_therapist_id", table_name="api_tokens")
    op.drop_table("api_tokens")
