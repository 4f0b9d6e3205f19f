"""The scikit-learn layer's outputs for one person, as plain data for the rules.

The service evaluates the models as arrays (:mod:`.compiled`), with numpy alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..interpret.interpretation import ModelOutputs
from ..scoring.engine import ScoreReport, keyed_answers
from ..scoring.followup import FollowUpModel
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


def asked_row(
    columns: Sequence[str],
    follow_up: FollowUpModel,
    answers: Mapping[str, int | None],
    given: Mapping[str, int],
) -> list[float]:
    """The answers to the full bank's statements ``columns`` (NaN: not asked): the quick
    form's standing for their full-form twins, then the follow-up's (the consistency check's
    input, in training and in the service alike)."""
    index = {item: i for i, item in enumerate(columns)}
    row = [float("nan")] * len(columns)
    for item_id, value in answers.items():
        twin = follow_up.stand_ins.get(item_id)
        if twin in index and value is not None:
            row[index[twin]] = float(value)
    for item_id, value in given.items():
        if item_id in index:
            row[index[item_id]] = float(value)
    return row


def check_columns(follow_up: FollowUpModel) -> tuple[str, ...]:
    """The statements the consistency check reads: those the quick form or a follow-up asks,
    in the full bank's order."""
    asked = {*follow_up.stand_ins.values(), *(s for r in follow_up.routes.values() for s in r)}
    return tuple(item for item in follow_up.items if item in asked)


def borderline(
    models: CompiledModels | None,
    follow_up: FollowUpModel,
    instrument: Instrument,
    answers: Mapping[str, int | None],
) -> bool:
    """Whether the quick detector finds these answers borderline, so that follow-up answers
    are judged with them (and consistency statements asked when nothing else is): only with
    a consistency check trained beside this follow-up model and every statement answered."""
    if models is None or not models.checks(follow_up.version):
        return False
    values = [answers.get(item_id) for item_id in instrument.item_ids]
    if any(v is None for v in values):
        return False
    return models.borderline(np.array([values], dtype=float))


def careless_with_follow_up(
    models: CompiledModels,
    follow_up: FollowUpModel,
    answers: Mapping[str, int | None],
    given: Mapping[str, int],
) -> bool:
    """Whether the quick form's and the follow-up's answers together look careless."""
    row = asked_row(models.check_columns, follow_up, answers, given)
    return models.careless(np.array([row]))
