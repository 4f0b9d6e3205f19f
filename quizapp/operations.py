"""Steps that change the database, kept out of the views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import receipts
from .scoring.instrument import Instrument
from .tables import Submission, utcnow


class Stored(NamedTuple):
    receipt: str
    submission_id: int


class AlreadySubmitted(Exception):
    """This form (its nonce) has already been stored: a replay or a double submit."""


def store_submission(
    session: Session,
    instrument: Instrument,
    answers: Mapping[str, int],
    *,
    started_at: datetime,
    nonce: str,
    client_id: int | None = None,
    before_commit: Callable[[Submission], None] | None = None,
) -> Stored:
    """Store one complete submission in a single transaction; return its receipt code.

    ``before_commit`` runs after the row is flushed (it has an id) and before the commit, so
    changes it makes (closing an invite) are stored together with the answers or not at all.
    """
    code = receipts.new_code()
    submission = Submission(
        receipt_hash=receipts.digest(code),
        form_nonce=nonce,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        answers={item_id: int(answers[item_id]) for item_id in instrument.item_ids},
        started_at=min(started_at, utcnow()),
        finished_at=utcnow(),
        client_id=client_id,
    )
    session.add(submission)
    try:
        if before_commit is not None:
            session.flush()
            before_commit(submission)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if session.scalar(select(Submission.id).where(Submission.form_nonce == nonce)):
            raise AlreadySubmitted from exc
        raise
    return Stored(code, submission.id)


def find_submission(session: Session, code: str) -> Submission | None:
    canonical = receipts.normalise(code)
    if canonical is None:
        return None
    digest = receipts.digest(canonical)
    return session.scalars(select(Submission).where(Submission.receipt_hash == digest)).first()


def delete_submission(session: Session, code: str) -> bool:
    """Delete the submission for a receipt code; True if there was one."""
    canonical = receipts.normalise(code)
    if canonical is None:
        return False
    digest = receipts.digest(canonical)
    result = session.execute(delete(Submission).where(Submission.receipt_hash == digest))
    session.commit()
    return bool(getattr(result, "rowcount", 0))
