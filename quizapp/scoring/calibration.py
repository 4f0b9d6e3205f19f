"""Calibrate instruments on real ECR answers: norms, reliability and the short-form choice.

Every item of our instruments restates the construct of one ECR item (``source``), so the
ECR response data can stand in for answers to our items: an item written in the same
direction takes the ECR answer, one written in the opposite direction takes its reverse.
That substitution is an assumption (new wording changes how people answer), which the
docs state as a limit of every figure derived here.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .engine import Matrix, keyed_matrix, scale_scores
from .instrument import Instrument, Item, ResponseScale
from .reliability import cronbach_alpha

ECR_ITEMS = 36
ECR_SCALE = ResponseScale(1, 5, ("Strongly disagree", "Disagree", "Neither agree nor disagree",
                                 "Agree", "Strongly agree"))  # fmt: skip


@dataclass(frozen=True)
class EcrData:
    """ECR answers (respondents x 36, NaN = unanswered) and the SHA-256 of the file."""

    answers: Matrix
    sha256: str

    @property
    def complete(self) -> Matrix:
        return self.answers[~np.isnan(self.answers).any(axis=1)]


def read_ecr(path: str | Path) -> EcrData:
    """Read an ECR calibration CSV (columns Q1..Q36 with 1..5, 0 = not answered)."""
    raw = Path(path).read_bytes()
    rows = csv.DictReader(raw.decode("utf-8").splitlines())
    columns = [f"Q{i}" for i in range(1, ECR_ITEMS + 1)]
    missing = [c for c in columns if c not in (rows.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: missing ECR columns {', '.join(missing)}")
    data = np.array([[float(row[c]) for c in columns] for row in rows], dtype=float)
    data[data == 0] = np.nan
    return EcrData(data, hashlib.sha256(raw).hexdigest())


def _source_column(item: Item, ecr: Matrix) -> Matrix:
    if item.source is None or item.source.instrument != "ECR":
        raise ValueError(f"item {item.id} does not name an ECR source item")
    column = ecr[:, item.source.item - 1]
    return column if item.source.direction == "same" else ECR_SCALE.reverse(column)


def responses_from_ecr(instrument: Instrument, ecr: Matrix) -> Matrix:
    """ECR answers as answers to ``instrument`` (its items must each name an ECR item)."""
    rs = instrument.response_scale
    if (rs.min, rs.max) != (ECR_SCALE.min, ECR_SCALE.max):
        raise ValueError("calibration from ECR data needs a 1..5 response scale")
    return np.column_stack([_source_column(item, ecr) for item in instrument.items])


def midrank_percentiles(scores: Matrix) -> list[list[float]]:
    """[score, percentile] at every distinct score: % below plus half % equal (mid-rank)."""
    values, counts = np.unique(scores, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pct = 100.0 * (below + counts / 2.0) / scores.size
    return [[round(float(v), 6), round(float(p), 3)] for v, p in zip(values, pct, strict=True)]


def derive_norms(instrument: Instrument, ecr: EcrData, source: str) -> dict[str, Any]:
    """The norms file for ``instrument`` from the ECR rows that answer every one of its
    items (each item takes the answer to the ECR item it restates)."""
    return norms_from_answers(instrument, responses_from_ecr(instrument, ecr.answers),
                              source=source, data_sha256=ecr.sha256)  # fmt: skip


def norms_from_answers(
    instrument: Instrument, answers: Matrix, *, source: str, data_sha256: str
) -> dict[str, Any]:
    """The norms file for ``instrument`` from answers to its own items (respondents x items in
    the instrument's order, on its own response scale, NaN = unanswered): the rows that answer
    every item, keyed with the instrument's own key (``min + max - x`` on its scale)."""
    answers = answers[~np.isnan(answers).any(axis=1)]
    if len(answers) < 2:
        raise ValueError("norms need at least two rows that answer every item")
    keyed = keyed_matrix(instrument, answers)
    means = scale_scores(instrument, answers).means
    index = {item_id: i for i, item_id in enumerate(instrument.item_ids)}
    scales = {}
    for scale in instrument.scales.values():
        scores = means[scale.id]
        scales[scale.id] = {
            "mean": round(float(scores.mean()), 6),
            "sd": round(float(scores.std(ddof=1)), 6),
            "reliability": round(cronbach_alpha(keyed[:, [index[i] for i in scale.item_ids]]), 6),
            "cutoff": round(float(np.median(scores)), 6),
            "cutoff_rule": "median of the calibration sample",
            "percentiles": midrank_percentiles(scores),
        }
    return {
        "schema_version": 1,
        "instrument": instrument.id,
        "instrument_version": instrument.version,
        "source": source,
        "generated_by": "quizapp items calibrate",
        "data_sha256": data_sha256,
        "n": int(answers.shape[0]),
        "scales": scales,
    }


@dataclass(frozen=True)
class ShortFormFigures:
    """How well a short form stands in for the full scales, per scale, on complete rows."""

    n: int
    alpha: dict[str, float]
    correlation: dict[str, float]  # short-form scale with the full 18-item ECR scale
    quadrant_agreement: float  # same quadrant, each form split at its own sample medians
    kappa: float


def _quadrants(anx: Matrix, avo: Matrix) -> NDArray[np.int64]:
    high_anx = (anx > np.median(anx)).astype(np.int64)
    high_avo = (avo > np.median(avo)).astype(np.int64)
    return high_anx * 2 + high_avo


def short_form_figures(short: Instrument, reference: Instrument, ecr: EcrData) -> ShortFormFigures:
    """Alpha, correlation with the reference scales and quadrant agreement of ``short``."""
    rows = ecr.complete
    short_answers = responses_from_ecr(short, rows)
    short_scores = scale_scores(short, short_answers).means
    full_scores = scale_scores(reference, responses_from_ecr(reference, rows)).means
    keyed = keyed_matrix(short, short_answers)
    index = {item_id: i for i, item_id in enumerate(short.item_ids)}
    alpha, corr = {}, {}
    for scale in short.scales.values():
        alpha[scale.id] = cronbach_alpha(keyed[:, [index[i] for i in scale.item_ids]])
        corr[scale.id] = float(np.corrcoef(short_scores[scale.id], full_scores[scale.id])[0, 1])
    q_short = _quadrants(short_scores["anxiety"], short_scores["avoidance"])
    q_full = _quadrants(full_scores["anxiety"], full_scores["avoidance"])
    agree = float((q_short == q_full).mean())
    expected = sum(float((q_short == q).mean() * (q_full == q).mean()) for q in range(4))
    kappa = (agree - expected) / (1 - expected)
    return ShortFormFigures(int(rows.shape[0]), alpha, corr, agree, kappa)


def select_short_form(
    candidates: list[Item],
    reference_scale: Matrix,
    ecr: Matrix,
    *,
    size: int = 6,
    min_reversed: int = 2,
    max_per_theme: int = 2,
) -> tuple[list[Item], float]:
    """The ``size`` candidates whose keyed sum correlates best with the reference scale.

    Constraints: at least ``min_reversed`` reverse-keyed items, of which at least one is
    written in its source item's own direction (observed, not assumed, behaviour); at most
    ``max_per_theme`` items sharing a first theme; no two items from one source item.
    Returns the chosen items (in candidate order) and their correlation.

    An item and its opposite-worded twin give the same keyed data here, so some sets tie
    exactly; correlations are compared to 10 decimals and the first such set in candidate
    order is kept, so the choice does not hang on the last bits of a machine's sums.
    """
    keyed = np.column_stack(
        [ECR_SCALE.reverse(c) if item.reverse else c for item, c in
         ((item, _source_column(item, ecr)) for item in candidates)]
    )  # fmt: skip
    data = np.column_stack([keyed, reference_scale])
    cov = np.cov(data, rowvar=False)
    k = len(candidates)
    best: tuple[float, tuple[int, ...]] = (-2.0, ())
    for combo in itertools.combinations(range(k), size):
        chosen = [candidates[i] for i in combo]
        reversed_items = [c for c in chosen if c.reverse]
        if len(reversed_items) < min_reversed:
            continue
        if not any(c.source and c.source.direction == "same" for c in reversed_items):
            continue
        if len({c.source.item for c in chosen if c.source}) < size:
            continue
        if max(Counter(c.themes[0] for c in chosen).values()) > max_per_theme:
            continue
        idx = list(combo)
        r = round(float(cov[idx, k].sum() / np.sqrt(cov[np.ix_(idx, idx)].sum() * cov[k, k])), 10)
        if r > best[0]:
            best = (r, combo)
    if not best[1]:
        raise ValueError("no set of candidates meets the constraints")
    return [candidates[i] for i in best[1]], best[0]
