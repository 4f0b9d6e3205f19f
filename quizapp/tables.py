"""Database tables (called tables, not models: "model" means the scikit-learn layer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
