"""Metrics of the scikit-learn layer on rows that training never saw, against fixed targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import r2_score

from ..interpret.validity import validity_facts
from ..scoring.engine import Matrix
from ..scoring.instrument import Instrument
from .compiled import DIMENSIONS
from .training import Features
from .visitor import NOISE_FAMILIES

TARGETS: dict[str, Any] = {
    "r2_min": 0.90,
    "coverage_range": (0.88, 0.92),
    "random_recall_min": 0.95,
    "false_positive_max": 0.05,
}


@dataclass(frozen=True)
class SimulatedRows:
    """Answer patterns of careless responders, for recall of the validity check."""

    same_answer: Matrix
    uniform: Matrix
    midpoint_biased: Matrix
    extremes_biased: Matrix


def simulate(n_items: int, low: int, high: int, n: int, seed: int = 7) -> SimulatedRows:
    rng = np.random.default_rng(seed)
    values = np.arange(low, high + 1)
    uniform = rng.integers(low, high + 1, size=(n, n_items)).astype(float)
    return SimulatedRows(
        same_answer=np.repeat(values, n_items).reshape(len(values), n_items).astype(float),
        uniform=uniform,
        midpoint_biased=NOISE_FAMILIES["midpoint_biased"](rng, n, n_items, values),
        extremes_biased=NOISE_FAMILIES["extremes_biased"](rng, n, n_items, values),
    )


def flagged(instrument: Instrument, bundle: dict[str, Any], raw: Matrix, rules: Any) -> np.ndarray:
    """Whether the validity check (rules or model) flags each row."""
    model_flags = bundle["detector"].predict(raw) == -1
    rule_flags = np.array([
        bool(rules.cautions(validity_facts(instrument, row, seconds=None)))
        for row in raw.tolist()
    ])  # fmt: skip
    return np.asarray(model_flags | rule_flags)


def quadrants(scores: Matrix, cutoffs: tuple[float, float]) -> np.ndarray:
    return np.asarray((scores[:, 0] > cutoffs[0]) * 2 + (scores[:, 1] > cutoffs[1]))


def evaluate(
    instrument: Instrument,
    full_instrument: Instrument,
    bundle: dict[str, Any],
    test: Features,
    rules: Any,
) -> dict[str, Any]:
    """Every metric of the layer for ``instrument`` on the held-out ``test`` rows."""
    metrics: dict[str, Any] = {"n_test": len(test.raw)}
    if "shortform" in bundle:
        model: Any = bundle["shortform"]
        estimate = model.predict(test.keyed)
        low, high = model.predict_interval(test.keyed)
        for j, dim in enumerate(DIMENSIONS):
            inside = (test.full[:, j] >= low[:, j]) & (test.full[:, j] <= high[:, j])
            metrics[f"r2_{dim}"] = float(r2_score(test.full[:, j], estimate[:, j]))
            metrics[f"coverage_{dim}"] = float(inside.mean())
            metrics[f"interval_width_{dim}"] = float(np.median(high[:, j] - low[:, j]))
        assert instrument.norms is not None and full_instrument.norms is not None
        own_cut = tuple(instrument.norms.scales[d].cutoff or 0.0 for d in DIMENSIONS)
        full_cut = tuple(full_instrument.norms.scales[d].cutoff or 0.0 for d in DIMENSIONS)
        truth = quadrants(test.full, full_cut)  # type: ignore[arg-type]
        metrics["pattern_agreement_quick_scores"] = float(
            (quadrants(test.levels, own_cut) == truth).mean()  # type: ignore[arg-type]
        )
        metrics["pattern_agreement_estimated_full"] = float(
            (quadrants(estimate, full_cut) == truth).mean()  # type: ignore[arg-type]
        )
    rs = instrument.response_scale
    sim = simulate(len(instrument.items), rs.min, rs.max, n=5000)
    metrics["false_positive_rate_real"] = float(flagged(instrument, bundle, test.raw, rules).mean())
    for name in ("same_answer", "uniform", "midpoint_biased", "extremes_biased"):
        rows = getattr(sim, name)
        metrics[f"recall_{name}"] = float(flagged(instrument, bundle, rows, rules).mean())
    return metrics


def verdicts(metrics: dict[str, Any]) -> dict[str, bool]:
    """Which targets the metrics meet (only the metrics present are judged)."""
    result = {}
    low, high = TARGETS["coverage_range"]
    for dim in DIMENSIONS:
        if f"r2_{dim}" in metrics:
            result[f"r2_{dim} >= {TARGETS['r2_min']}"] = metrics[f"r2_{dim}"] >= TARGETS["r2_min"]
            result[f"coverage_{dim} in [{low}, {high}]"] = low <= metrics[f"coverage_{dim}"] <= high
    result[f"recall_uniform >= {TARGETS['random_recall_min']}"] = (
        metrics["recall_uniform"] >= TARGETS["random_recall_min"]
    )
    result[f"false_positive_rate_real <= {TARGETS['false_positive_max']}"] = (
        metrics["false_positive_rate_real"] <= TARGETS["false_positive_max"]
    )
    return result
