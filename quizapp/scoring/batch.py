"""Batch scoring of a CSV: a row per respondent, a column per item id, blank = unanswered.

The whole file is read and checked before anything is written, so a bad row stops the run
with an error naming the row and column and leaves no partial output.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .engine import Matrix, keyed_matrix, scale_scores
from .instrument import Instrument
from .reliability import cronbach_alpha

SUMMARY_PERCENTILES = (10, 25, 50, 75, 90)


class BatchError(ValueError):
    """A problem in the input CSV, with the 1-based line number and column where it is."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None):
        self.line, self.column = line, column
        parts = (f"line {line}" if line else "", f"column {column!r}" if column else "")
        where = ", ".join(part for part in parts if part)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Batch:
    ids: list[str]
    responses: Matrix  # respondents x items in instrument order, NaN = unanswered


def read_batch(
    instrument: Instrument,
    stream: TextIO,
    *,
    id_column: str | None = None,
    missing: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Batch:
    """Parse and check the whole CSV. ``missing`` are codes meaning "not answered"."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise BatchError("the file is empty")
    header = [name.strip() for name in header]
    missing_codes = {"", *missing}
    known = set(instrument.item_ids)
    extra = set(ignore) | ({id_column} if id_column else set())
    if id_column and id_column not in header:
        raise BatchError(f"no id column {id_column!r} in the header", 1, id_column)
    for name in header:
        if name not in known and name not in extra:
            raise BatchError("not an item of this instrument (use --ignore for other columns)",
                             1, name)  # fmt: skip
    if len(set(header)) != len(header):
        raise BatchError("a column name appears twice", 1)
    positions = {name: i for i, name in enumerate(header)}
    valid = {str(v): float(v) for v in instrument.response_scale.values}
    ids: list[str] = []
    rows: list[list[float]] = []
    for record in reader:
        line = reader.line_num  # the physical line where the record ends
        if not record:
            continue
        if len(record) != len(header):
            raise BatchError(f"{len(record)} fields where the header has {len(header)}", line)
        row = []
        for item_id in instrument.item_ids:
            raw = record[positions[item_id]].strip() if item_id in positions else ""
            if raw in missing_codes:
                row.append(math.nan)
            elif raw in valid:
                row.append(valid[raw])
            else:
                rs = instrument.response_scale
                raise BatchError(f"{raw!r} is not a whole number from {rs.min} to {rs.max}",
                                 line, item_id)  # fmt: skip
        ids.append(record[positions[id_column]] if id_column else str(len(ids) + 1))
        rows.append(row)
    matrix = np.array(rows, dtype=float).reshape(len(rows), len(instrument.items))
    return Batch(ids, matrix)


FULL_PRECISION = None  # ``decimals`` for every digit: the shortest text that reads back exact


def _fmt(value: float, places: int | None = 4) -> str:
    if math.isnan(value):
        return ""
    return repr(float(value)) if places is FULL_PRECISION else f"{value:.{places}f}"


def write_scores(
    instrument: Instrument, batch: Batch, out: TextIO, id_column: str, decimals: int | None = 4
) -> None:
    """One row per respondent: id, then each scale's mean (to ``decimals`` places; None: full
    precision) and its answered-item count."""
    columns = scale_scores(instrument, batch.responses)
    writer = csv.writer(out, lineterminator="\n")
    scales = list(instrument.scales)
    writer.writerow([id_column, *scales, *(f"{s}_answered" for s in scales)])
    for i, respondent in enumerate(batch.ids):
        writer.writerow(
            [respondent]
            + [_fmt(float(columns.means[s][i]), decimals) for s in scales]
            + [int(columns.answered[s][i]) for s in scales]
        )


def summary_table(instrument: Instrument, batch: Batch, decimals: int | None = 4) -> str:
    """n, mean, SD (n - 1), Cronbach's alpha (complete rows) and percentiles, per scale, to
    ``decimals`` places (None: full precision)."""
    columns = scale_scores(instrument, batch.responses)
    keyed = keyed_matrix(instrument, batch.responses)
    index = {item_id: i for i, item_id in enumerate(instrument.item_ids)}
    stats: dict[str, list[str]] = {}
    for scale in instrument.scales.values():
        scores = columns.means[scale.id][~np.isnan(columns.means[scale.id])]
        block = keyed[:, [index[i] for i in scale.item_ids]]
        try:
            alpha = cronbach_alpha(block)
        except ValueError:
            alpha = math.nan
        n = scores.size
        values = [str(n), _fmt(float(scores.mean()) if n else math.nan, decimals),
                  _fmt(float(scores.std(ddof=1)) if n > 1 else math.nan, decimals),
                  _fmt(alpha, decimals)]  # fmt: skip
        values += [_fmt(float(np.percentile(scores, p)) if n else math.nan, decimals)
                   for p in SUMMARY_PERCENTILES]  # fmt: skip
        stats[scale.id] = values
    labels = ["n", "mean", "sd", "alpha", *(f"p{p}" for p in SUMMARY_PERCENTILES)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["statistic", *stats])
    for row, label in enumerate(labels):
        writer.writerow([label, *(stats[s][row] for s in stats)])
    return out.getvalue()
