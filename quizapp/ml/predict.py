"""The scikit-learn layer's outputs for one person, as plain data for the rules."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..interpret.interpretation import ModelOutputs
from ..scoring.engine import ScoreReport, answers_to_row, keyed_matrix
from ..scoring.instrument import Instrument
from .training import DIMENSIONS, LoadedModels


def model_outputs(
    models: LoadedModels | None,
    instrument: Instrument,
    answers: Mapping[str, int | None],
    report: ScoreReport,
) -> ModelOutputs:
    """Deviations, the random-pattern flag and full-scale estimates; empty without models.

    The models need every item answered and both dimension scores; otherwise only the
    model version is returned and the rules fall back on the answers themselves.
    """
    if models is None:
        return ModelOutputs()
    raw = answers_to_row(instrument, answers)
    levels = [report.scales[d].score if d in report.scales else None for d in DIMENSIONS]
    if np.isnan(raw).any() or any(level is None for level in levels):
        return ModelOutputs(version=models.version)
    keyed = keyed_matrix(instrument, raw)
    est = models.estimators
    deviations = est["expected"].standardised_deviations(np.array([levels]), keyed)[0]
    full: dict[str, tuple[float, float, float]] = {}
    if "shortform" in est:
        point = est["shortform"].predict(keyed)[0]
        low, high = est["shortform"].predict_interval(keyed)
        full = {d: (float(point[j]), float(low[0][j]), float(high[0][j]))
                for j, d in enumerate(DIMENSIONS)}  # fmt: skip
    return ModelOutputs(
        version=models.version,
        deviations=dict(zip(instrument.item_ids, map(float, deviations), strict=True)),
        random_pattern=bool(est["detector"].predict(raw)[0] == -1),
        full_estimates=full,
    )
