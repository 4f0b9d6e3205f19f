"""``quizapp report``: write a PDF report for a receipt code, or for answers given as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..reports.options import KINDS, PAGE_SIZES
from . import settings

if TYPE_CHECKING:
    from ..pipeline.pipeline import Analysis, Pipeline


def _answers_from_json(path: Path, instrument_id: str | None) -> tuple[str | None, dict[str, int]]:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read JSON answers ({exc})") from exc
    if isinstance(raw, dict) and "answers" in raw:
        instrument_id = instrument_id or raw.get("instrument")
        raw = raw["answers"]
    if not isinstance(raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw.values()
    ):
        raise click.ClickException(f"{path}: answers must map item ids to whole numbers")
    return instrument_id, raw


def _stored(pipeline: Pipeline, database_url: str, code: str) -> tuple[Analysis, str]:
    """The analysis of the result with this receipt code, and the code as printed."""
    from ..pipeline.stored import stored_analysis
    from ..storage import receipts, submissions
    from ..storage.database import Database

    database = Database(database_url)
    try:
        with database.sessions() as session:
            submission = submissions.find_submission(session, code)
            if submission is None:
                raise click.ClickException("no result has that receipt code")
            analysis = stored_analysis(pipeline, session, submission)
    finally:
        database.dispose()
    return analysis, receipts.display(receipts.normalise(code) or code)


def _given(pipeline: Pipeline, path: Path, instrument_id: str | None) -> Analysis:
    """The analysis of complete answers read from a JSON file."""
    chosen, answers = _answers_from_json(path, instrument_id)
    instrument = pipeline.instrument(chosen or pipeline.default_instrument)
    if instrument is None:
        raise click.ClickException(f"unknown instrument {chosen!r}")
    missing = [i for i in instrument.item_ids if i not in answers]
    if missing:
        raise click.ClickException(f"unanswered items: {', '.join(missing)}")
    return pipeline.analyse(instrument.id, instrument.version, answers,
                            finished_at=datetime.now(UTC))  # fmt: skip


@click.command("report")
@click.option("--receipt", help="Receipt code of a stored result.")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help='JSON answers: {"q01": 4, ...} or {"instrument": "quick", "answers": {...}}.',
)
@click.option("--instrument", "instrument_id", help="Instrument of the JSON answers.")
@click.option("--kind", type=click.Choice(KINDS), default="client", show_default=True)
@click.option("--size", type=click.Choice(list(PAGE_SIZES)), default="A4", show_default=True)
@click.option("--label", help="The client's label, named in a therapist report.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")  # fmt: skip
def report(
    receipt: str | None,
    answers_file: Path | None,
    instrument_id: str | None,
    kind: str,
    size: str,
    label: str | None,
    out: Path,
) -> None:
    """Write a PDF report for a receipt code or for JSON answers."""
    from ..pipeline.pipeline import OutdatedInstrument, Pipeline
    from ..scoring.engine import AnswerError
    from ..scoring.instrument import InstrumentError

    if (receipt is None) == (answers_file is None):
        raise click.UsageError("give exactly one of --receipt and --answers")
    configured = settings()
    try:
        pipeline = Pipeline.load(configured)
    except (InstrumentError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"the service cannot start: {exc}") from exc
    try:
        if receipt is not None:
            analysis, shown = _stored(pipeline, configured["DATABASE_URL"], receipt)
        else:
            assert answers_file is not None
            analysis, shown = _given(pipeline, answers_file, instrument_id), None
    except (AnswerError, OutdatedInstrument) as exc:
        raise click.ClickException(str(exc)) from exc
    from ..reports.render import render_pdf

    data = pipeline.report_data(analysis, receipt=shown, kind=kind,
                                client_label=label if kind == "therapist" else None)  # fmt: skip
    pdf = render_pdf(data, kind, page_size=size, templates_dir=pipeline.templates_dir)
    out.write_bytes(pdf)
    click.echo(f"wrote {out} ({len(pdf) // 1024} KiB, {kind}, {size})")
