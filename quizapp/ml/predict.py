"""The scikit-learn layer's outputs for one person, as plain data for the rules.

The service evaluates the models as arrays (:mod:`.compiled`), with numpy alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..interpret.interpretation import ModelOutputs
from ..scoring.engine import ScoreReport, answers_to_row, keyed_matrix
from ..scoring.instrument import Instrument
from .compiled import DIMENSIONS, CompiledModels


def model_outputs(
    models: CompiledModels | None,
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
    deviations = models.deviations(np.array([levels], dtype=float), keyed)[0]
    full: dict[str, tuple[float, float, float]] = {}
    if models.has_shortform:
        point, low, high = models.full_estimates(keyed)
        full = {d: (float(point[0][j]), float(low[0][j]), float(high[0][j]))
                for j, d in enumerate(DIMENSIONS)}  # fmt: skip
    return ModelOutputs(
        version=models.version,
        deviations=dict(zip(instrument.item_ids, map(float, deviations), strict=True)),
        random_pattern=bool(models.random_pattern(raw)[0]),
        full_estimates=full,
    )
