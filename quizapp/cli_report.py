"""``quizapp report``: write a PDF report for a receipt code, or for answers given as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from . import operations, receipts
from .analysis import OutdatedInstrument, analyse
from .report_jobs import KINDS, PAGE_SIZES, build_pdf
from .scoring.engine import AnswerError


def _answers_from_json(path: Path, instrument_id: str | None) -> tuple[str, dict[str, int]]:
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
    return instrument_id or current_app.config["DEFAULT_INSTRUMENT"], raw


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
@click.option("--size", type=click.Choice(PAGE_SIZES), default="A4", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")  # fmt: skip
@with_appcontext
def report(
    receipt: str | None,
    answers_file: Path | None,
    instrument_id: str | None,
    kind: str,
    size: str,
    out: Path,
) -> None:
    """Write a PDF report for a receipt code or for JSON answers."""
    from .extensions import db

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if (receipt is None) == (answers_file is None):
        raise click.UsageError("give exactly one of --receipt and --answers")
    try:
        if receipt is not None:
            submission = operations.find_submission(db.session, receipt)
            if submission is None:
                raise click.ClickException("no result has that receipt code")
            analysis = analyse(
                app, submission.instrument_id, submission.instrument_version,
                submission.answers, started_at=submission.started_at,
                finished_at=submission.finished_at,
            )  # fmt: skip
            shown = receipts.display(receipts.normalise(receipt) or receipt)
        else:
            assert answers_file is not None
            chosen, answers = _answers_from_json(answers_file, instrument_id)
            instrument = app.extensions["instruments"].get(chosen)
            if instrument is None:
                raise click.ClickException(f"unknown instrument {chosen!r}")
            missing = [i for i in instrument.item_ids if i not in answers]
            if missing:
                raise click.ClickException(f"unanswered items: {', '.join(missing)}")
            analysis = analyse(app, instrument.id, instrument.version, answers,
                               finished_at=datetime.now(UTC))  # fmt: skip
            shown = None
    except (AnswerError, OutdatedInstrument) as exc:
        raise click.ClickException(str(exc)) from exc
    pdf = build_pdf(app, analysis, receipt=shown, kind=kind, page_size=size)
    out.write_bytes(pdf)
    click.echo(f"wrote {out} ({len(pdf) // 1024} KiB, {kind}, {size})")
