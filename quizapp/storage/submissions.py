"""Completed questionnaires: store one, find it by its receipt code, delete it.

These functions write in the caller's transaction and never commit: the caller does, so a
submission and whatever goes with it (closing an invitation) are saved together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, make_transient_to_detached

from ..scoring.instrument import Instrument
from . import receipts
from .database import Linked, insert_together
from .tables import StoredAnalysis, Submission, utcnow


class Stored(NamedTuple):
    """A stored submission (detached: it is read from, not changed) and its receipt code
    (which is not stored, only its hash)."""

    receipt: str
    submission: Submission
    linked: tuple[int, ...] = ()  # the ids of the rows stored with it (``linked``), in order

    @property
    def submission_id(self) -> int:
        return self.submission.id


def nonce_used(session: Session, nonce: str) -> bool:
    """Whether a submission was stored from the form with this one-time nonce."""
    return session.scalar(select(Submission.id).where(Submission.form_nonce == nonce)) is not None


def store_submission(
    session: Session,
    instrument: Instrument,
    answers: Mapping[str, int],
    *,
    started_at: datetime,
    nonce: str,
    client_id: int | None = None,
    therapist_id: int | None = None,
    finished_at: datetime | None = None,
    receipt: str | None = None,
    linked: Sequence[Linked] = (),
    follow_up: Mapping[str, Any] | None = None,
) -> Stored:
    """Insert one complete submission (it has an id), finished at ``finished_at`` (default:
    now), with the receipt code ``receipt`` (default: a new one), and the ``linked`` rows that
    belong to it (its analysis, its report's job: their ``submission_id`` is filled in); return
    it with its receipt code and the linked rows' ids. ``follow_up``: the follow-up
    statements to ask (``{"asked": [...], "answers": None}``), when the result is uncertain.

    A form whose nonce was stored before (a replay, or a second click) is refused by the
    database's unique nonce (an ``IntegrityError``): the caller rolls back and tells the two
    apart with :func:`nonce_used`.
    """
    code, now = receipt or receipts.new_code(), finished_at or utcnow()
    values = {
        "receipt_hash": receipts.digest(code),
        "form_nonce": nonce,
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "answers": {item_id: int(answers[item_id]) for item_id in instrument.item_ids},
        "started_at": min(started_at, now),
        "finished_at": now,
        "client_id": client_id,
        "therapist_id": therapist_id,
        "follow_up": None if follow_up is None else dict(follow_up),
    }
    new_id, linked_ids = insert_together(session, Submission, values, linked)
    submission = Submission(**values, id=new_id)
    make_transient_to_detached(submission)  # the row it is: adding it to a session inserts nothing
    return Stored(code, submission, linked_ids)


def find_submission(session: Session, code: str) -> Submission | None:
    canonical = receipts.normalise(code)
    if canonical is None:
        return None
    digest = receipts.digest(canonical)
    return session.scalars(select(Submission).where(Submission.receipt_hash == digest)).first()


class Answered(NamedTuple):
    """What the results page reads of a stored submission (plain values, no ORM object)."""

    id: int
    instrument_id: str
    instrument_version: str
    answers: dict[str, int]
    started_at: datetime
    finished_at: datetime
    follow_up: dict[str, Any] | None


class AnalysisFields(NamedTuple):
    """What the results page reads of a stored analysis."""

    record: dict[str, Any]
    content_version: str
    rules_version: str


def find_with_analysis(
    session: Session, code: str
) -> tuple[Answered, AnalysisFields | None] | None:
    """The submission for a receipt code with its stored analysis, in one query of plain
    columns (the results page's, on every view: no ORM objects to build)."""
    canonical = receipts.normalise(code)
    if canonical is None:
        return None
    found = session.connection().execute(_WITH_ANALYSIS, {"digest": receipts.digest(canonical)})
    row = found.first()
    if row is None:
        return None
    submission = Answered(*row[:7])
    return submission, None if row.record is None else AnalysisFields(*row[7:])


# Built once (with its cache key): the results page runs it on every view.
_WITH_ANALYSIS = (
    select(Submission.id, Submission.instrument_id, Submission.instrument_version,
           Submission.answers, Submission.started_at, Submission.finished_at,
           Submission.follow_up, StoredAnalysis.record, StoredAnalysis.content_version,
           StoredAnalysis.rules_version)
    .outerjoin(StoredAnalysis, StoredAnalysis.submission_id == Submission.id)
    .where(Submission.receipt_hash == bindparam("digest"))
)  # fmt: skip


def delete_submission(session: Session, code: str) -> bool:
    """Delete the submission for a receipt code with its stored reports; True if there was one."""
    canonical = receipts.normalise(code)
    if canonical is None:
        return False
    digest = receipts.digest(canonical)
    result = session.execute(delete(Submission).where(Submission.receipt_hash == digest))
    return bool(getattr(result, "rowcount", 0))
