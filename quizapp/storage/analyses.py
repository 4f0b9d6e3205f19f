"""Stored analyses and the content snapshots they are read back with.

An analysis is stored once per submission, in the transaction that stores the submission;
the content it refers to is kept once per content version. Functions here add (and flush
where a later step needs the row); the caller commits.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .tables import ContentSnapshot, RenderedReport, StoredAnalysis, utcnow

# Content versions this process has seen stored, per database: analyses refer to their
# snapshot (ON DELETE RESTRICT), so once kept it stays, and later submissions skip the look-up.
_seen_kept: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


def keep_content(session: Session, version: str, source: Mapping[str, Any]) -> None:
    """Keep the content of ``version`` unless it is kept already (the first result computed
    with a version adds it; the same version is never stored with other words). The look-up
    reads the key alone, not the content, and once per process and version."""
    bind = session.get_bind()
    seen = _seen_kept.setdefault(bind, set()) if isinstance(bind, Engine) else set()
    if version in seen:
        return
    kept = select(ContentSnapshot.version).where(ContentSnapshot.version == version)
    if session.scalar(kept) is not None:  # committed (or added earlier in this transaction)
        seen.add(version)
        return
    values = {"version": version, "source": dict(source), "stored_at": utcnow()}
    # Two first results of a new version at the same moment: the second inserts nothing.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(ContentSnapshot).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(ContentSnapshot).values(values).on_conflict_do_nothing())


def forget_kept_content() -> None:
    """Look the snapshots up again (after a failed transaction: one may have been deleted by
    hand, and the next submission must store it again rather than fail)."""
    _seen_kept.clear()


def content_source(session: Session, version: str) -> Mapping[str, Any] | None:
    snapshot = session.get(ContentSnapshot, version)
    return None if snapshot is None else snapshot.source


def analysis_values(
    record: Mapping[str, Any],
    *,
    rules_version: str,
    content_version: str,
    model_version: str | None,
) -> dict[str, Any]:
    """An analysis row's values, but its submission's id."""
    return {"record": dict(record), "rules_version": rules_version,
            "content_version": content_version, "model_version": model_version,
            "computed_at": utcnow()}  # fmt: skip


def save_analysis(session: Session, submission_id: int, values: Mapping[str, Any]) -> None:
    """Store the analysis of a stored submission (``analysis_values``), or replace it when an
    operator recomputes it (its PDFs said what it said before, and are rendered again)."""
    row = session.get(StoredAnalysis, submission_id)
    if row is None:
        session.add(StoredAnalysis(submission_id=submission_id, **values))
        return
    session.execute(delete(RenderedReport).where(RenderedReport.submission_id == submission_id))
    for name, value in values.items():
        setattr(row, name, value)


def summaries_of(session: Session, submission_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Only the scores, the pattern and the cautions of these submissions' analyses, cut out
    of each record by the database (a whole record, with every finding and step, is many
    times larger): what lists of results show."""
    ids = list(submission_ids)
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = {"ids": ids[start : start + 500]}
        for key, schema, scales, pattern, cautions in session.execute(_SUMMARIES, chunk):
            found[key] = {"schema": schema, "scales": scales, "pattern": pattern,
                          "cautions": cautions or []}  # fmt: skip
    return found


# Built once (with its cache key): every list of results runs it.
_SUMMARIES = select(
    StoredAnalysis.submission_id, StoredAnalysis.record["schema"], StoredAnalysis.record["scales"],
    StoredAnalysis.record["pattern"], StoredAnalysis.record["cautions"],
).where(StoredAnalysis.submission_id.in_(bindparam("ids", expanding=True)))  # fmt: skip
