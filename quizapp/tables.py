"""Database tables (called tables, not models: "model" means the scikit-learn layer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Submission(Base):
    """One completed questionnaire. No name, e-mail or IP address is stored.

    The receipt code is not stored: only its SHA-256, so a copy of the database does not
    hand out working result links.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint("finished_at >= started_at", name="finished_after_started"),
        CheckConstraint("length(receipt_hash) = 32", name="receipt_hash_is_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    form_nonce: Mapped[str] = mapped_column(String(32), unique=True)
    instrument_id: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reports: Mapped[list[RenderedReport]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", passive_deletes=True
    )


class RenderedReport(Base):
    """A PDF rendered for a submission, per report kind, page size and template version.

    Deleted with its submission (ON DELETE CASCADE). ``status`` is pending, done or failed;
    a failed render keeps a short error text for the log and is retried on request.
    """

    __tablename__ = "rendered_reports"
    __table_args__ = (
        UniqueConstraint("submission_id", "kind", "page_size", "template_version"),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
        CheckConstraint("kind IN ('client', 'therapist')", name="kind_known"),
        CheckConstraint("page_size IN ('A4', 'Letter')", name="page_size_known"),
        CheckConstraint("status != 'done' OR pdf IS NOT NULL", name="done_has_pdf"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    page_size: Mapped[str] = mapped_column(String(8))
    template_version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    submission: Mapped[Submission] = relationship(back_populates="reports")
