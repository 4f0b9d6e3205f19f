"""Score answers to any valid instrument: keying, prorating, error bands, percentiles.

Rules, the same for every instrument:

- reverse-keyed items are keyed as ``min + max - x`` of the instrument's response scale;
- a scale score is the mean of its answered, keyed items when at least ``min_answered`` of
  them are answered (a prorated mean when some are missing); with fewer there is no score;
- the standard error of measurement is ``SD * sqrt(1 - r)`` with the norms' SD and
  reliability ``r``, where ``r`` is shortened by Spearman-Brown for a prorated score; the
  90% band is score +/- 1.645 SEM, clipped to the response range;
- the percentile is the mid-rank percentile in the norms sample, interpolated linearly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .instrument import Instrument, ScaleNorms
from .patterns import PatternEstimate, closest_pattern
from .reliability import Z90, spearman_brown, standard_error

Matrix = NDArray[np.float64]


class AnswerError(ValueError):
    """Answers that do not fit the instrument (unknown item, value out of range)."""


@dataclass(frozen=True)
class ScaleScore:
    scale: str
    label: str
    score: float | None  # None when fewer than min_answered items were answered
    answered: int
    n_items: int
    sem: float | None = None
    band: tuple[float, float] | None = None  # 90% band
    percentile: float | None = None
    percentile_band: tuple[float, float] | None = None
    cutoff: float | None = None
    near_cutoff: bool | None = None

    @property
    def prorated(self) -> bool:
        return self.score is not None and self.answered < self.n_items


@dataclass(frozen=True)
class ScoreReport:
    instrument: str
    version: str
    scales: dict[str, ScaleScore]
    pattern: PatternEstimate | None


def keyed_matrix(instrument: Instrument, responses: Matrix) -> Matrix:
    """Apply reverse keying to a respondents x items matrix (columns in item order)."""
    return np.where(instrument.reverse_mask, instrument.response_scale.reverse(responses),
                    responses)  # fmt: skip


def check_responses(instrument: Instrument, responses: Matrix) -> None:
    """Raise ``AnswerError`` for a value off the response scale (NaN means unanswered)."""
    rs = instrument.response_scale
    answered = responses[~np.isnan(responses)]
    valid = np.isin(answered, np.arange(rs.min, rs.max + 1))
    if not valid.all():
        bad = answered[~valid][0]
        raise AnswerError(f"{bad:g} is not a response on the {rs.min}..{rs.max} scale")


@dataclass(frozen=True)
class ScaleColumns:
    """Per-respondent scale means (NaN where too few answered) and answered-item counts."""

    means: dict[str, Matrix]
    answered: dict[str, NDArray[np.int64]]


def scale_scores(instrument: Instrument, responses: Matrix) -> ScaleColumns:
    """Score a respondents x items matrix (NaN = unanswered) on every scale at once."""
    check_responses(instrument, responses)
    keyed = keyed_matrix(instrument, responses)
    means: dict[str, Matrix] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    for scale in instrument.scales.values():
        block = keyed[:, instrument.columns(scale.id)]
        answered = (~np.isnan(block)).sum(axis=1)
        total = np.nansum(block, axis=1)
        mean = total / np.maximum(answered, 1)
        means[scale.id] = np.where(answered >= scale.min_answered, mean, np.nan)
        counts[scale.id] = answered
    return ScaleColumns(means, counts)


def percentile(norms: ScaleNorms, score: float) -> float | None:
    """Mid-rank percentile of ``score`` in the norms table (None without a table): linear
    interpolation, flat beyond the table's ends, as ``np.interp`` does it, to the last bit
    (plain Python: one person's six look-ups cost a fifth of numpy's calls)."""
    table = norms.percentiles
    if not table:
        return None
    scores = norms.percentile_scores
    j = bisect_right(scores, score) - 1
    if j < 0:
        return float(table[0][1])
    if j >= len(table) - 1 or scores[j] == score:
        return float(table[j][1])
    (x0, y0), (x1, y1) = table[j], table[j + 1]
    slope = (y1 - y0) / (x1 - x0)
    return float(slope * (score - x0) + y0)


def _describe(
    instrument: Instrument, scale_id: str, score: float | None, answered: int
) -> ScaleScore:
    scale = instrument.scales[scale_id]
    base = ScaleScore(scale_id, scale.label, score, answered, len(scale.item_ids))
    norms = instrument.norms.scales.get(scale_id) if instrument.norms else None
    if score is None or norms is None:
        return base
    reliability = spearman_brown(norms.reliability, answered / len(scale.item_ids))
    sem = standard_error(norms.sd, reliability)
    rs = instrument.response_scale
    band = (max(rs.min, score - Z90 * sem), min(rs.max, score + Z90 * sem))
    pct = percentile(norms, score)
    pct_band = None
    if pct is not None:
        low, high = (percentile(norms, b) for b in band)
        pct_band = (low or 0.0, high or 0.0)
    near = None if norms.cutoff is None else band[0] <= norms.cutoff <= band[1]
    return ScaleScore(
        scale_id, scale.label, score, answered, len(scale.item_ids),
        sem=sem, band=band, percentile=pct, percentile_band=pct_band,
        cutoff=norms.cutoff, near_cutoff=near,
    )  # fmt: skip


def _pattern(scales: Mapping[str, ScaleScore]) -> PatternEstimate | None:
    anx, avo = scales.get("anxiety"), scales.get("avoidance")
    if anx is None or avo is None:
        return None
    if anx.score is None or anx.sem is None or anx.cutoff is None:
        return None
    if avo.score is None or avo.sem is None or avo.cutoff is None:
        return None
    return closest_pattern(
        anx.score,
        avo.score,
        cutoffs=(anx.cutoff, avo.cutoff),
        sems=(anx.sem, avo.sem),
        near=(bool(anx.near_cutoff), bool(avo.near_cutoff)),
    )


def keyed_answers(
    instrument: Instrument, answers: Mapping[str, float | int | None]
) -> dict[str, float]:
    """One person's answered items keyed (reverse-keyed ones reversed), by item id in the
    instrument's order; None or NaN is unanswered and left out."""
    rs = instrument.response_scale
    return {item.id: float(rs.reverse(v) if item.reverse else v) for item in instrument.items
            if (v := answers.get(item.id)) is not None and v == v}  # fmt: skip


def answers_to_row(instrument: Instrument, answers: Mapping[str, int | None]) -> Matrix:
    """One respondent's answers ({item id: value or None}) as a 1 x items matrix."""
    unknown = sorted(set(answers) - set(instrument.item_ids))
    if unknown:
        raise AnswerError(f"unknown item id(s) for {instrument.id}: {', '.join(unknown)}")
    row = [answers.get(item_id) for item_id in instrument.item_ids]
    return np.array([[np.nan if v is None else float(v) for v in row]], dtype=float)


def score(instrument: Instrument, answers: Mapping[str, int | None]) -> ScoreReport:
    """Score one respondent: every scale with its error band and percentile, and the pattern.

    The same rules as :func:`scale_scores`, in plain Python for one row (every submission
    is scored on the request that stores it): the means are of whole numbers, so they come out
    the same to the last bit."""
    unknown = set(answers).difference(instrument.item_ids)
    if unknown:
        raise AnswerError(f"unknown item id(s) for {instrument.id}: {', '.join(sorted(unknown))}")
    rs = instrument.response_scale
    valid = rs.values
    scales = {}
    for scale in instrument.scales.values():
        keyed = []
        for item_id, reverse in instrument.scale_keys[scale.id]:
            value = answers.get(item_id)
            if value is None or value != value:  # unanswered (None, or NaN from a matrix)
                continue
            if value not in valid:
                raise AnswerError(f"{value:g} is not a response on the {rs.min}..{rs.max} scale")
            keyed.append(float(rs.reverse(value) if reverse else value))
        mean = sum(keyed) / len(keyed) if len(keyed) >= max(scale.min_answered, 1) else None
        scales[scale.id] = _describe(instrument, scale.id, mean, len(keyed))
    return ScoreReport(instrument.id, instrument.version, scales, _pattern(scales))
