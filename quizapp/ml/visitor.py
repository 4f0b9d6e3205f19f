"""What a visitor gets, measured on rows of real answers: the quick form as the service runs it.

Each row of ECR answers (the calibration data's format) is answered, item by item, as our quick
form's statements restate them; the service's own code then scores it (its cut-offs, its
pattern rule), runs the compiled models and the validity rules, exactly as for a submission.
The figures compare that with what the person's full 36-statement form says:

- ``pattern_agreement``: the quick result's closest pattern is the full form's;
- ``r2_*`` and ``coverage_*``: the full-scale estimates and their 90% intervals against the
  full ECR scale scores;
- ``pattern_probability_ece``: the expected calibration error of the stated probability of
  the closest pattern (ten equal-width bins): does "72% likely" come true 72% of the time?
- ``false_positive_rate``: careful (real) rows that get a caution about careless answering;
- ``careless_recall``: simulated careless answer patterns that get one, per noise family.

The careless rows are drawn with their own seed (``EVALUATION_SEED`` unless given), never the
one the detector was trained with, so a figure says how the detector does on noise it has not
seen. A visitor whose quick result is uncertain answers the follow-up statements the service
asks (from their own full-form answers): ``share_followed_up`` and ``mean_items_asked`` say
how many were asked and how much. A careless visitor asked a follow-up (to settle their
result, or to check how their answers fit together) answers it as their pattern goes on
(``careless_followed_up``: the share asked, per noise family).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from ..scoring.calibration import responses_from_ecr
from ..scoring.engine import Matrix, scale_scores, score
from ..scoring.followup import FOLLOW_UP_ITEMS
from ..scoring.instrument import Instrument
from .compiled import DIMENSIONS

_NOW = datetime(2026, 11, 30, tzinfo=UTC)  # no answer timing: the speed rule never fires
EVALUATION_SEED = 2_027_0101  # not the detector's training seed: noise it has not seen
CARELESS_ROWS = 2000  # per noise family

# The targets of issue 15: a figure outside its range fails ``quizapp model evaluate``.
TARGETS: dict[str, tuple[float, float]] = {
    "pattern_agreement": (0.85, 1.0),
    "careless_recall.uniform": (0.95, 1.0),
    "false_positive_rate": (0.0, 0.05),
    "pattern_probability_ece": (0.0, 0.05),
    "r2_anxiety": (0.90, 1.0),
    "r2_avoidance": (0.90, 1.0),
    "coverage_anxiety": (0.88, 0.92),
    "coverage_avoidance": (0.88, 0.92),
}


def _uniform(rng: np.random.Generator, n: int, k: int, values: np.ndarray) -> Matrix:
    return rng.choice(values, size=(n, k)).astype(float)


def _weighted(weights: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Matrix]:
    def draw(rng: np.random.Generator, n: int, k: int, values: np.ndarray) -> Matrix:
        p = weights(values)
        return rng.choice(values, p=p / p.sum(), size=(n, k)).astype(float)

    return draw


def _centre(values: np.ndarray) -> np.ndarray:
    weights: np.ndarray = np.exp(-0.5 * ((values - values.mean()) / (len(values) / 4)) ** 2)
    return weights


def _straight_line(changed: int) -> Callable[..., Matrix]:
    """One answer for every statement, then ``changed`` of them given another answer."""

    def draw(rng: np.random.Generator, n: int, k: int, values: np.ndarray) -> Matrix:
        rows = np.repeat(rng.choice(values, size=(n, 1)), k, axis=1).astype(float)
        for row in rows:
            for column in rng.choice(k, size=changed, replace=False):
                row[column] = rng.choice(values[values != row[column]])
        return rows

    return draw


def _alternating(rng: np.random.Generator, n: int, k: int, values: np.ndarray) -> Matrix:
    """Two different answers in turn (a zig-zag down the page)."""
    first = rng.choice(values, size=n)
    second = np.array([rng.choice(values[values != a]) for a in first])
    turns = np.arange(k) % 2 == 0
    return np.where(turns[None, :], first[:, None], second[:, None]).astype(float)


def _diagonal(rng: np.random.Generator, n: int, k: int, values: np.ndarray) -> Matrix:
    """Answers stepping up (or down) the scale and wrapping round: 1, 2, 3, 4, 5, 1, 2..."""
    start = rng.integers(0, len(values), size=n)
    step = rng.choice([-1, 1], size=n)
    index = (start[:, None] + step[:, None] * np.arange(k)[None, :]) % len(values)
    rows: Matrix = values[index].astype(float)
    return rows


NOISE_FAMILIES: dict[str, Callable[..., Matrix]] = {
    "uniform": _uniform,
    "midpoint_biased": _weighted(_centre),
    "extremes_biased": _weighted(lambda v: 1.0 / _centre(v)),
    "straight_line_one_changed": _straight_line(1),
    "straight_line_two_changed": _straight_line(2),
    "alternating": _alternating,
    "diagonal": _diagonal,
}


def draw_careless(
    name: str, rng: np.random.Generator, n: int, k: int, values: np.ndarray, *, more: int = 0
) -> Matrix:
    """``n`` careless rows of the noise family ``name``: ``k`` answers, then ``more`` answers
    to follow-up statements as the pattern goes on (straight lining: the line's answer; the
    others: drawn over all ``k + more``, so the zig-zag and the steps continue)."""
    draw = NOISE_FAMILIES[name]
    if not name.startswith("straight_line"):
        return draw(rng, n, k + more, values)
    rows = draw(rng, n, k, values)
    line = np.array([np.bincount(row.astype(np.int64)).argmax() for row in rows], dtype=float)
    return np.hstack([rows, np.repeat(line[:, None], more, axis=1)])


def careless_rows(instrument: Instrument, n: int, seed: int, *, more: int = 0) -> dict[str, Matrix]:
    """``n`` careless answer patterns per noise family, drawn with ``seed``: answers to the
    instrument's statements, then ``more`` answers to follow-up statements."""
    rng = np.random.default_rng(seed)
    rs = instrument.response_scale
    values = np.arange(rs.min, rs.max + 1)
    return {name: draw_careless(name, rng, n, len(instrument.items), values, more=more)
            for name in NOISE_FAMILIES}  # fmt: skip


class Analyser(Protocol):
    """What analyses a submission (``quizapp.pipeline.pipeline.Pipeline``: the service's)."""

    def analyse(
        self, instrument_id: str, version: str, answers: Mapping[str, int], *,
        finished_at: datetime, follow_up: Mapping[str, int] | None = None,
    ) -> Any: ...  # fmt: skip

    def follow_up_items(self, instrument_id: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Visit:
    """What the service told one visitor: closest pattern, its stated probability, full-scale
    estimates (point, low, high by dimension), whether a careless-answering caution showed,
    and how many statements were asked."""

    pattern: str | None
    probability: float | None
    estimates: Mapping[str, tuple[float, float, float]]
    cautioned: bool
    asked: int


Answerer = Callable[[tuple[str, ...]], Mapping[str, int]]


def from_full_form(full_ids: list[str], full_row: list[float]) -> Answerer:
    """A careful visitor's follow-up answers: their answers to the full form (in its order)."""
    return lambda asked: {i: int(full_row[full_ids.index(i)]) for i in asked}


def going_on(more: list[float]) -> Answerer:
    """A careless visitor's follow-up answers: the pattern going on, in the order asked."""
    return lambda asked: {i: int(v) for i, v in zip(asked, more, strict=False)}


def visit(
    pipeline: Analyser, instrument: Instrument, row: list[float], answer: Answerer | None
) -> Visit:
    """One visitor through the service's own analysis: the quick form, then, when the result
    is uncertain or the answers need a check, the follow-up statements it asks, answered by
    ``answer`` (None: the follow-up is skipped)."""
    answers = {i: int(v) for i, v in zip(instrument.item_ids, row, strict=True) if v == v}
    analysis = pipeline.analyse(instrument.id, instrument.version, answers, finished_at=_NOW)
    asked = len(answers)
    if analysis.follow_up and answer is not None:
        given = dict(answer(analysis.follow_up))
        asked += len(given)
        analysis = pipeline.analyse(instrument.id, instrument.version, answers,
                                    finished_at=_NOW, follow_up=given)  # fmt: skip
    pattern = analysis.report.pattern
    interpretation = analysis.interpretation
    return Visit(
        pattern.closest if pattern else None,
        pattern.probability if pattern else None,
        interpretation.full_estimates,
        bool(interpretation.cautions),
        asked,
    )


def expected_calibration_error(stated: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width bins of |share right - mean stated| weighted by the bin's share."""
    which = np.minimum((stated * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(right[inside].mean() - stated[inside].mean())
    return float(error)


def _r2(truth: np.ndarray, estimate: np.ndarray) -> float:
    return float(1.0 - ((truth - estimate) ** 2).sum() / ((truth - truth.mean()) ** 2).sum())


def evaluate_visits(
    pipeline: Analyser,
    quick: Instrument,
    full: Instrument,
    reference: Instrument,
    ecr_rows: Matrix,
    *,
    seed: int = EVALUATION_SEED,
    careless_n: int = CARELESS_ROWS,
) -> dict[str, Any]:
    """Every figure of the quick visitor flow on complete ECR rows (see the module's text)."""
    quick_rows = responses_from_ecr(quick, ecr_rows).tolist()
    full_rows = responses_from_ecr(full, ecr_rows).tolist()
    truth = [score(full, dict(zip(full.item_ids, map(int, r), strict=True))).pattern
             for r in full_rows]  # fmt: skip
    full_ids = list(pipeline.follow_up_items(quick.id))
    visits = [visit(pipeline, quick, row, from_full_form(full_ids, whole))
              for row, whole in zip(quick_rows, full_rows, strict=True)]  # fmt: skip
    closest = [t.closest if t else None for t in truth]
    right = np.array([v.pattern == c for v, c in zip(visits, closest, strict=True)])
    stated = np.array([v.probability or 0.0 for v in visits])
    asked = np.array([v.asked for v in visits])
    full_scores = scale_scores(reference, responses_from_ecr(reference, ecr_rows)).means
    figures: dict[str, Any] = {
        "n": len(visits),
        "pattern_agreement": float(right.mean()),
        "mean_items_asked": float(asked.mean()),
        "share_followed_up": float((asked > len(quick.items)).mean()),
    }
    for dimension in DIMENSIONS:
        target = full_scores[dimension]
        if not all(dimension in v.estimates for v in visits):
            figures[f"r2_{dimension}"] = figures[f"coverage_{dimension}"] = None
            continue
        point, low, high = (np.array([v.estimates[dimension][k] for v in visits]) for k in range(3))
        figures[f"r2_{dimension}"] = _r2(target, point)
        figures[f"coverage_{dimension}"] = float(((target >= low) & (target <= high)).mean())
    k = len(quick.items)
    careless = careless_rows(quick, careless_n, seed, more=FOLLOW_UP_ITEMS)
    careless_visits = {name: [visit(pipeline, quick, row[:k], going_on(row[k:]))
                              for row in rows.tolist()]
                       for name, rows in careless.items()}  # fmt: skip
    figures["careless_recall"] = {name: float(np.mean([v.cautioned for v in visits]))
                                  for name, visits in careless_visits.items()}  # fmt: skip
    figures["careless_followed_up"] = {
        name: float(np.mean([v.asked > k for v in visits]))
        for name, visits in careless_visits.items()
    }
    figures["false_positive_rate"] = float(np.mean([v.cautioned for v in visits]))
    figures["pattern_probability_ece"] = expected_calibration_error(stated, right)
    figures["mean_stated_probability"] = float(stated.mean())
    figures["careless_seed"] = seed
    return figures


def missed_targets(figures: Mapping[str, Any]) -> list[str]:
    """The targets ``figures`` miss, as "name value (target low..high)"."""
    missed = []
    for name, (low, high) in TARGETS.items():
        group, _, key = name.partition(".")
        value = figures[group][key] if key else figures[group]
        if value is None or not low <= value <= high:
            shown = "none" if value is None else f"{value:.4f}"
            missed.append(f"{name} {shown} (target {low:g}..{high:g})")
    return missed
