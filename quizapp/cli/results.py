"""``quizapp results status | analyse``: the stored analyses of results.

A result's analysis is computed once, when it is submitted, and kept as it was when rules,
content or models change. An operator who wants old results to say what the current rules
say recomputes them here, on purpose.
"""

from __future__ import annotations

import click

from . import settings


@click.group()
def results() -> None:
    """The stored analyses of results: how many were computed with which versions."""


@results.command("status")
def results_status() -> None:
    """Count results by the rule, content and model versions they were computed with, and the
    PDF reports by their state in the render queue."""
    from sqlalchemy import func, select

    from ..storage.database import Database
    from ..storage.tables import RenderedReport, StoredAnalysis, Submission

    database = Database(settings()["DATABASE_URL"])
    try:
        with database.sessions() as session:
            total = session.scalar(select(func.count()).select_from(Submission)) or 0
            rows = session.execute(
                select(StoredAnalysis.rules_version, StoredAnalysis.content_version,
                       StoredAnalysis.model_version, func.count())
                .group_by(StoredAnalysis.rules_version, StoredAnalysis.content_version,
                          StoredAnalysis.model_version)
            ).all()  # fmt: skip
            states: dict[str, int] = {status: n for status, n in session.execute(
                select(RenderedReport.status, func.count()).group_by(RenderedReport.status)
            )}  # fmt: skip
    finally:
        database.dispose()
    analysed = sum(row[3] for row in rows)
    click.echo(f"{total} results, {total - analysed} without a stored analysis")
    for rules, content, model, n in rows:
        click.echo(f"{n:>8}  rules {rules}; content {content}; models {model or 'none'}")
    click.echo(f"PDF reports: {states.get('done', 0)} stored, {states.get('pending', 0)} waiting "
               f"to be rendered, {states.get('failed', 0)} failed")  # fmt: skip


@results.command("analyse")
@click.option("--which", type=click.Choice(["missing", "outdated", "all"]), default="missing",
              show_default=True,
              help="missing: results without a stored analysis; outdated: also those computed "
                   "with other rules, content or models than now; all: every result.")  # fmt: skip
def results_analyse(which: str) -> None:
    """Compute and store the analyses of results with the current rules, content and models."""
    from sqlalchemy import select

    from ..pipeline.pipeline import Pipeline
    from ..pipeline.stored import analyse_and_store
    from ..storage.database import Database
    from ..storage.tables import StoredAnalysis, Submission

    configured = settings()
    pipeline = Pipeline.load(configured)
    rules, content = pipeline.interpreter.rules.version, pipeline.interpreter.content.version

    def wanted(submission: Submission, row: StoredAnalysis | None) -> bool:
        if which == "all" or row is None:
            return True
        models = pipeline.models.get(submission.instrument_id)
        current = (rules, content, models.version if models else None)
        return which == "outdated" and current != (
            row.rules_version,
            row.content_version,
            row.model_version,
        )

    database = Database(configured["DATABASE_URL"])
    query = select(Submission, StoredAnalysis).outerjoin(StoredAnalysis).order_by(Submission.id)
    done = skipped = 0
    try:
        with database.sessions() as session:
            for submission, row in session.execute(query).all():
                if not wanted(submission, row):
                    continue
                if pipeline.instrument(submission.instrument_id, submission.instrument_version):
                    analyse_and_store(pipeline, session, submission)
                    done += 1
                    if done % 200 == 0:  # in batches: a running service keeps writing too
                        session.commit()
                else:
                    skipped += 1
            session.commit()
    finally:
        database.dispose()
    click.echo(f"analysed {done} results; {skipped} made with an instrument version this site "
               "no longer has were left as they are")  # fmt: skip
