"""``quizapp score``: batch-score a CSV of answers with any instrument file (numpy only)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click


def _decimals(value: str) -> int | None:
    """``--decimals``: a number of places from 0 to 17, or ``full`` (None)."""
    if value.strip().lower() == "full":
        return None
    if not value.strip().isdigit() or not 0 <= int(value) <= 17:
        raise click.BadParameter(f"{value!r}: give a number of places from 0 to 17, or 'full'")
    return int(value)


@click.command("score")
@click.option("--instrument", "instrument_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Instrument file (TOML) whose item ids name the CSV columns.")  # fmt: skip
@click.argument("input_csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--id-column", help="Column holding respondent ids (default: row numbers).")
@click.option("--missing", multiple=True, help="A value that means unanswered (blank always does).")
@click.option("--ignore", multiple=True, help="A column to skip (repeat for several).")
@click.option("--summary", is_flag=True, help="Also print n, mean, SD, alpha per scale to stderr.")
@click.option("--decimals", default="4", show_default=True, metavar="N|full",
              callback=lambda _ctx, _param, value: _decimals(value),
              help="Decimal places of the figures; 'full' prints every digit (the shortest "
                   "text that reads back as the same number).")  # fmt: skip
def score_command(
    instrument_path: Path,
    input_csv: io.TextIOWrapper,
    id_column: str | None,
    missing: tuple[str, ...],
    ignore: tuple[str, ...],
    summary: bool,
    decimals: int | None,
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
    batch.write_scores(instrument, data, out, id_column or "row", decimals)
    sys.stdout.write(out.getvalue())
    if summary:
        sys.stderr.write(batch.summary_table(instrument, data, decimals))
