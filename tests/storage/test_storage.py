"""Storage on SQLite and PostgreSQL: the migrations build the tables as declared; submissions
are stored, found by their receipt code however it is typed, and deleted with their reports;
the constraints refuse what the code never writes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quizapp.config import defaults
from quizapp.reports.options import KINDS, PAGE_SIZES
from quizapp.scoring.instrument import Instrument, load_bank
from quizapp.storage import receipts, submissions
from quizapp.storage.database import Database, make_engine
from quizapp.storage.tables import Base, RenderedReport, Submission

STARTED = datetime.now(UTC) - timedelta(minutes=3)


@pytest.fixture(scope="module")
def quick() -> Instrument:
    return load_bank(defaults()["ITEMS_DIR"])["quick"]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    database = Database(database_url)
    with database.sessions() as session:
        yield session
    database.dispose()


def answers(instrument: Instrument) -> dict[str, int]:
    return {item_id: 1 + i % 5 for i, item_id in enumerate(instrument.item_ids)}


def test_migrations_match_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite has no trigram index by design (it is PostgreSQL's alone), and alembic cannot
        # read expression indexes back from SQLite to compare them
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_stored_submission_is_one_row_that_a_session_can_take_without_inserting_it_again(
    session: Session, quick: Instrument
) -> None:
    stored = submissions.store_submission(session, quick, answers(quick), started_at=STARTED,
                                          nonce="b" * 32)  # fmt: skip
    assert stored.submission not in session, "written by one INSERT, not the unit of work"
    session.add(stored.submission)  # attached as the row it is
    stored.submission.instrument_version = "changed"
    session.commit()
    assert session.scalar(select(func.count()).select_from(Submission)) == 1
    assert session.scalar(select(Submission.instrument_version)) == "changed"
    assert session.scalar(select(Submission.finished_at)) is not None


def test_receipt_codes_use_the_whole_alphabet_and_do_not_repeat() -> None:
    codes = [receipts.new_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(receipts.normalise(code) == code for code in codes)
    seen = {char for code in codes for char in code}
    assert seen == set(receipts.ALPHABET)
    first = [code[0] for code in codes]  # no position is stuck or skewed
    assert min(first.count(c) for c in receipts.ALPHABET) > 2000 / 32 / 3


def test_a_submission_is_stored_found_and_deleted(session: Session, quick: Instrument) -> None:
    stored = submissions.store_submission(session, quick, answers(quick), started_at=STARTED,
                                          nonce="a" * 32)  # fmt: skip
    session.commit()
    typed = receipts.display(stored.receipt).lower().replace("0", "o")  # as a person types it
    found = submissions.find_submission(session, typed)
    assert found is not None and found.id == stored.submission_id
    assert found.answers == answers(quick)
    assert found.receipt_hash == receipts.digest(stored.receipt), "only the hash is kept"
    session.add(RenderedReport(submission_id=found.id, kind="client", page_size="A4",
                               template_version="v", status="done", pdf=b"sealed"))  # fmt: skip
    session.commit()
    assert submissions.delete_submission(session, stored.receipt)
    session.commit()
    assert submissions.find_submission(session, stored.receipt) is None
    assert session.scalar(select(func.count()).select_from(RenderedReport)) == 0
    assert not submissions.delete_submission(session, stored.receipt)
    assert not submissions.delete_submission(session, "not a code")


def test_a_form_is_stored_once(session: Session, quick: Instrument) -> None:
    submissions.store_submission(session, quick, answers(quick), started_at=STARTED,
                                 nonce="b" * 32)  # fmt: skip
    session.commit()
    assert submissions.nonce_used(session, "b" * 32)
    assert not submissions.nonce_used(session, "c" * 32)
    with pytest.raises(IntegrityError):
        submissions.store_submission(session, quick, answers(quick), started_at=STARTED,
                                     nonce="b" * 32)  # fmt: skip
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Submission)) == 1


def test_the_database_refuses_a_second_copy_that_slipped_past_the_check(
    session: Session, quick: Instrument
) -> None:
    twin = Submission(receipt_hash=receipts.digest(receipts.new_code()), form_nonce="c" * 32,
                      instrument_id="quick", instrument_version=quick.version, answers={},
                      started_at=STARTED, finished_at=datetime.now(UTC))  # fmt: skip
    session.add(twin)
    session.commit()
    session.add(Submission(receipt_hash=receipts.digest(receipts.new_code()), form_nonce="c" * 32,
                           instrument_id="quick", instrument_version=quick.version, answers={},
                           started_at=STARTED, finished_at=datetime.now(UTC)))  # fmt: skip
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.parametrize(
    ("column", "known", "unknown"),
    [("kind", KINDS, "auditor"), ("page_size", tuple(PAGE_SIZES), "A5")],
)
def test_report_kinds_and_page_sizes_are_the_ones_the_renderer_knows(
    session: Session, quick: Instrument, column: str, known: tuple[str, ...], unknown: str
) -> None:
    stored = submissions.store_submission(session, quick, answers(quick), started_at=STARTED,
                                          nonce="d" * 32)  # fmt: skip
    session.commit()
    base = {"submission_id": stored.submission_id, "kind": "client", "page_size": "A4",
            "template_version": "v", "status": "pending"}  # fmt: skip
    for n, value in enumerate(known):
        session.add(RenderedReport(**{**base, column: value, "template_version": f"v{n}"}))
    session.commit()
    session.add(RenderedReport(**{**base, column: unknown, "template_version": "x"}))
    with pytest.raises(IntegrityError):
        session.commit()
