"""``quizapp score``: batch-score a CSV of answers with any instrument file (numpy only)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click


@click.command("score")
@click.option("--instrument", "instrument_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Instrument file (TOML) whose item ids name the CSV columns.")  # fmt: skip
@click.argument("input_csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--id-column", help="Column holding respondent ids (default: row numbers).")
@click.option("--missing", multiple=True, help="A value that means unanswered (blank always does).")
@click.option("--ignore", multiple=True, help="A column to skip (repeat for several).")
@click.option("--summary", is_flag=True, help="Also print n, mean, SD, alpha per scale to stderr.")
def score_command(
    instrument_path: Path,
    input_csv: io.TextIOWrapper,
    id_column: str | None,
    missing: tuple[str, ...],
    ignore: tuple[str, ...],
    summary: bool,
) -> None:
    """Score a CSV of answers (a row per respondent, a column per item id) to stdout."""
    from ..scoring import batch
    from ..scoring.instrument import InstrumentError, load_instrument

    try:
        instrument = load_instrument(instrument_path)
        data = batch.read_batch(
            instrument, input_csv, id_column=id_column, missing=missing, ignore=ignore
        )
    except (InstrumentError, batch.BatchError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = io.StringIO()
    batch.write_scores(instrument, data, out, id_column or "row")
    sys.stdout.write(out.getvalue())
    if summary:
        sys.stderr.write(batch.summary_table(instrument, data))
