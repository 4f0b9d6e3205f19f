"""Analyse once: each submission's analysis is computed when it is stored, and every page,
report and export reads it back.

A result keeps what it was computed with: its scores, model outputs and interpretation, the
rule, model and content versions, and (through the content snapshot) the words. When rules,
content or models change, old results stay as they were and say which versions they were
computed with; ``quizapp results reanalyse`` recomputes them when an operator decides to.
That choice keeps a result from changing under a person (or their therapist) who has read or
downloaded it, and keeps a therapist's comparison of administrations honest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..interpret.content import Content, content_from_source
from ..scoring.engine import ScoreReport
from ..storage import analyses
from ..storage.database import Linked
from ..storage.submissions import AnalysisFields, Answered
from ..storage.tables import StoredAnalysis, Submission
from .pipeline import Analysis, OutdatedInstrument, Pipeline
from .records import from_record, report_from_record, to_record

log = logging.getLogger(__name__)

_contents: dict[str, Content] = {}  # content version -> content (versions never change)


def analyse_submission(pipeline: Pipeline, submission: Submission | Answered) -> Analysis:
    """Compute the analysis of a submission (nothing is stored)."""
    return pipeline.analyse(
        submission.instrument_id, submission.instrument_version, submission.answers,
        started_at=submission.started_at, finished_at=submission.finished_at,
        follow_up=follow_up_answers(submission.follow_up),
    )  # fmt: skip


def follow_up_answers(follow_up: Mapping[str, Any] | None) -> dict[str, int] | None:
    """The follow-up answers of a submission (``{}`` when declined); None while it has none
    (never asked, or not yet answered)."""
    if follow_up is None or follow_up.get("answers") is None:
        return None
    return {str(k): int(v) for k, v in follow_up["answers"].items()}


def analyse_and_store(pipeline: Pipeline, session: Session, submission: Submission) -> Analysis:
    """Analyse a submission and store its analysis (and the content snapshot it needs),
    replacing one stored before."""
    analysis = analyse_submission(pipeline, submission)
    store_analysis(pipeline, session, submission, analysis)
    return analysis


def store_analysis(
    pipeline: Pipeline, session: Session, submission: Submission, analysis: Analysis
) -> None:
    """Store the analysis of a stored submission (and the content snapshot it needs),
    replacing one stored before."""
    _kind, values = analysis_row(pipeline, session, analysis)
    analyses.save_analysis(session, submission.id, values)


def analysis_row(pipeline: Pipeline, session: Session, analysis: Analysis) -> Linked:
    """The row of an analysis for a submission about to be stored with it (``linked`` in
    ``store_submission``); keeps the content snapshot it needs."""
    content = pipeline.interpreter.content
    analyses.keep_content(session, content.version, content.source)
    interpretation = analysis.interpretation
    return StoredAnalysis, analyses.analysis_values(
        to_record(analysis), rules_version=interpretation.rules_version,
        content_version=content.version, model_version=interpretation.model_version,
    )  # fmt: skip


def _content(pipeline: Pipeline, session: Session, version: str) -> Content:
    current = pipeline.interpreter.content
    if version == current.version:
        return current
    if version not in _contents:
        source = analyses.content_source(session, version)
        if source is None:
            raise LookupError(f"no content snapshot of version {version!r}")
        _contents[version] = content_from_source(source, f"content snapshot {version}")
    return _contents[version]


def read_analysis(
    pipeline: Pipeline,
    session: Session,
    submission: Submission | Answered,
    row: StoredAnalysis | AnalysisFields | None,
) -> Analysis:
    """The analysis in ``row`` (fetched with the submission), with the words it was computed
    with; computed now when there is none. Raises :class:`OutdatedInstrument` when the site
    no longer has the submission's instrument version."""
    instrument = pipeline.instrument(submission.instrument_id, submission.instrument_version)
    if instrument is None:
        raise OutdatedInstrument(f"{submission.instrument_id} {submission.instrument_version}")
    if row is None:  # stored before analyses were, or its analysis failed: computed now
        log.info("submission %s has no stored analysis; computing it", submission.id)
        return analyse_submission(pipeline, submission)
    return from_record(
        row.record, instrument=instrument, answers=submission.answers,
        finished_at=submission.finished_at,
        content=_content(pipeline, session, row.content_version), rules_version=row.rules_version,
    )  # fmt: skip


def stored_analysis(pipeline: Pipeline, session: Session, submission: Submission) -> Analysis:
    """The analysis stored with a submission, with the words it was computed with.

    Raises :class:`OutdatedInstrument` when the site no longer has its instrument version.
    """
    return read_analysis(pipeline, session, submission,
                         session.get(StoredAnalysis, submission.id))  # fmt: skip


def stored_reports(
    pipeline: Pipeline, session: Session, submissions: Iterable[Submission]
) -> dict[int, ScoreReport | None]:
    """The stored scores of many submissions (None where the instrument version is gone)."""
    summaries = stored_summaries(pipeline, session, submissions)
    return {key: report for key, (report, _flags) in summaries.items()}


def stored_summaries(
    pipeline: Pipeline, session: Session, submissions: Iterable[Submission]
) -> dict[int, tuple[ScoreReport | None, list[str]]]:
    """The stored scores of many submissions (None where the instrument version is gone) and
    the ids of the validity cautions their analyses raised, from one query."""
    chosen = list(submissions)
    rows = analyses.summaries_of(session, (s.id for s in chosen))
    found: dict[int, tuple[ScoreReport | None, list[str]]] = {}
    for s in chosen:
        instrument, row = pipeline.instrument(s.instrument_id, s.instrument_version), rows.get(s.id)
        if instrument is None:
            found[s.id] = (None, [])
        elif row is None:
            analysis = read_analysis(pipeline, session, s, None)
            found[s.id] = (analysis.report, [c.text.id for c in analysis.interpretation.cautions])
        else:
            flags = [caution for caution, _rules in row["cautions"]]
            found[s.id] = (report_from_record(row, instrument), flags)
    return found


def copy_analysis(
    pipeline: Pipeline, session: Session, original: Submission, copy: Submission
) -> None:
    """Give a copy of a result (shared with a therapist) the analysis of the original."""
    row = session.get(StoredAnalysis, original.id)
    if row is None:
        analyse_and_store(pipeline, session, copy)
        return
    analyses.save_analysis(session, copy.id, analyses.analysis_values(
        row.record, rules_version=row.rules_version, content_version=row.content_version,
        model_version=row.model_version,
    ))  # fmt: skip
