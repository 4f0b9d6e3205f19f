"""The scikit-learn layer's outputs for one person, as plain data for the rules.

The service evaluates the models as arrays (:mod:`.compiled`), with numpy alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..interpret.interpretation import ModelOutputs
from ..scoring.engine import ScoreReport, keyed_answers
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
    keyed = keyed_answers(instrument, answers)  # None or NaN: unanswered, left out
    levels = [report.scales[d].score if d in report.scales else None for d in DIMENSIONS]
    if len(keyed) < len(instrument.items) or levels[0] is None or levels[1] is None:
        return ModelOutputs(version=models.version)
    raw = np.array([[answers[item_id] for item_id in instrument.item_ids]], dtype=float)
    deviations, full = models.one_person((levels[0], levels[1]), list(keyed.values()))
    return ModelOutputs(
        version=models.version,
        deviations=dict(zip(instrument.item_ids, deviations, strict=True)),
        random_pattern=bool(models.random_pattern(raw)[0]),
        full_estimates=full,
    )
