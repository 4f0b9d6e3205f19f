"""Database tables (called tables, not models: "model" means the scikit-learn layer).

Every change to them comes with an Alembic migration in ``migrations/`` (a test compares the
two)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..reports.options import KINDS, PAGE_SIZES


def _one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a check that ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite gives back naive datetimes; PostgreSQL aware ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        CheckConstraint(
            "(client_id IS NULL) = (therapist_id IS NULL)", name="therapist_with_client"
        ),
        Index("ix_submissions_therapist_finished", "therapist_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    form_nonce: Mapped[str] = mapped_column(String(32), unique=True)
    instrument_id: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When the result was uncertain: {"asked": [full-form statement ids], "answers": {id:
    # answer} once answered ({} when skipped), or null while the person has not yet decided}.
    follow_up: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the questionnaire was taken for a therapist (an invite, or a shared copy of an
    # anonymous result); deleting the client deletes it.
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE", name="fk_submissions_client_id"),
        index=True,
        default=None,
    )
    # The client's therapist, kept here too so that "recently completed" reads the newest
    # few results of one therapist from an index instead of sorting all of them.
    therapist_id: Mapped[int | None] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE", name="fk_submissions_therapist_id"),
        default=None,
    )
    reports: Mapped[list[RenderedReport]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", passive_deletes=True
    )


class ContentSnapshot(Base):
    """The content (``content/*.toml`` as parsed) of one content version, kept once, so a
    result computed with it reads back with the words it was computed with."""

    __tablename__ = "content_snapshots"

    version: Mapped[str] = mapped_column(String(120), primary_key=True)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredAnalysis(Base):
    """What the service says about a submission, computed once when it was stored: scores,
    pattern, model outputs and interpretation (``quizapp.pipeline.records``), with the
    versions of the rules, content and models it was computed with. Deleted with its
    submission."""

    __tablename__ = "analyses"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    rules_version: Mapped[str] = mapped_column(String(40))
    content_version: Mapped[str] = mapped_column(
        ForeignKey("content_snapshots.version", ondelete="RESTRICT"), index=True
    )
    model_version: Mapped[str | None] = mapped_column(String(80), default=None)
    # jsonb on PostgreSQL: lists of results cut their scores out of it (migration e81a4c2d5b93)
    record: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RenderedReport(Base):
    """A PDF for a submission, per report kind, page size and report version; while pending,
    the render job itself (a durable outbox, see ``quizapp.pipeline.jobs``).

    Deleted with its submission (ON DELETE CASCADE). ``status`` is pending, done or failed. A
    renderer claims a pending job for a while (``claimed_until``), so a job whose renderer died
    is taken up again; a failed attempt waits (``not_before``) before the next; a job given up
    keeps a short error text for the log. ``job_key`` carries the receipt code the PDF is
    sealed with, itself sealed with a key derived from the secret key, and is wiped when the
    job ends. ``priority`` 1: someone is waiting for it.
    """

    __tablename__ = "rendered_reports"
    __table_args__ = (
        UniqueConstraint("submission_id", "kind", "page_size", "template_version"),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
        CheckConstraint(_one_of("kind", KINDS), name="kind_known"),
        CheckConstraint(_one_of("page_size", PAGE_SIZES), name="page_size_known"),
        CheckConstraint("status != 'done' OR pdf IS NOT NULL", name="done_has_pdf"),
        Index("ix_rendered_reports_queue", "status", "priority", "id"),
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
    job_key: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    submission: Mapped[Submission] = relationship(back_populates="reports")


class Therapist(Base):
    """A therapist's account. ``session_epoch`` is part of the session id, so raising it (new
    password, two-factor change) signs out every other session."""

    __tablename__ = "therapists"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # sealed
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)  # no replays
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by an operator (quizapp therapist disable): no sign-in until enabled again.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RecoveryCode(Base):
    """A one-time two-factor recovery code (SHA-256 of 80 random bits; shown once)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SignInFailure(Base):
    """A failed sign-in, keyed by a keyed hash of the e-mail address or of the network
    address (never the address itself); rows older than the throttle window are deleted."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class PasswordReset(Base):
    """A single-use password reset token (only its SHA-256 is stored)."""

    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Client(Base):
    """A therapist's client: a pseudonymous label and an optional private note, nothing else."""

    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("therapist_id", "label"),
        # the dashboard's list and label search read this index alone (migration 9d3b6f1e2c47)
        Index("ix_clients_therapist_activity", "therapist_id", "last_activity_at", "id", "label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# PostgreSQL only: the dashboard's label search from trigrams (pg_trgm; migration e81a4c2d5b93)
Index(
    "ix_clients_label_trigrams",
    func.lower(Client.label).label("lower_label"),
    postgresql_using="gin",
    postgresql_ops={"lower_label": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")

_WAITING = text("completed_at IS NULL AND revoked_at IS NULL")


class Invite(Base):
    """An invitation to take one questionnaire for a therapist (only the token's SHA-256 is
    stored). Consent is stored with the version of the consent text; unfinished answers are
    kept in ``draft`` so the client can stop and come back with the same link."""

    __tablename__ = "invites"
    __table_args__ = (
        CheckConstraint("client_sees IN ('results', 'thanks')", name="client_sees_known"),
        CheckConstraint("consented_at IS NULL OR consent_version IS NOT NULL", name="consent"),
        CheckConstraint("completed_at IS NULL OR consented_at IS NOT NULL", name="consent_first"),
        Index(
            "ix_invites_therapist_open", "therapist_id", "completed_at", "revoked_at", "created_at"
        ),
        # the dashboard's waiting invitations, oldest first (migration e81a4c2d5b93)
        Index(
            "ix_invites_therapist_waiting",
            "therapist_id",
            "created_at",
            postgresql_where=_WAITING,
            sqlite_where=_WAITING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # The client's therapist, kept here too: the dashboard's waiting invitations in index order.
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE", name="fk_invites_therapist_id")
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    instrument_id: Mapped[str] = mapped_column(String(40))
    client_sees: Mapped[str] = mapped_column(String(10), default="results")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    consented_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    consent_version: Mapped[str | None] = mapped_column(String(40), default=None)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    draft_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), default=None
    )
    shared_receipt: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Who viewed or exported which client data, when. Client and result ids are kept as plain
    numbers so the trail outlives a deleted client (which leaves no data behind)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[int | None] = mapped_column(Integer, default=None)
    submission_id: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    """A therapist's personal access token for the JSON API (``/api/v1``): a name, the scopes
    it grants, an expiry. Only its SHA-256 is stored (like a receipt code's): the token itself
    is shown once, when it is made. Deleted with the account."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("length(token_hash) = 32", name="api_token_hash_is_sha256"),
        CheckConstraint("expires_at > created_at", name="api_token_expires_after_created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, as OAuth writes them
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WebhookEndpoint(Base):
    """An https address a therapist registered to be told when an invitation is completed
    (``quizapp.therapists.webhooks``). ``secret`` is the signing secret, sealed with a key
    derived from the app's secret key (the therapist saw it once). Turned off by the service
    after a delivery failed every attempt (``disabled_at`` with ``disabled_note``)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    disabled_note: Mapped[str | None] = mapped_column(String(300), default=None)


class WebhookDelivery(Base):
    """One event for one endpoint; while pending, the delivery job itself (a durable outbox
    like ``rendered_reports``, see ``quizapp.therapists.deliveries``).

    ``message_id`` is the event's ``webhook-id``, the same on every attempt, so a receiver can
    drop a repeat. ``body`` is the signed JSON, kept only until the delivery ends (done or
    given up). Deleted with the endpoint, and with the client the event is about."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
        CheckConstraint("status = 'pending' OR body IS NULL", name="body_until_done"),
        Index("ix_webhook_deliveries_queue", "status", "not_before", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True, default=None
    )
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class WebhookAttempt(Base):
    """The delivery log a therapist sees: one line per attempt (when, which attempt, the
    HTTP status or a short error). No bodies."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
