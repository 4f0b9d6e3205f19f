"""The exported Questionnaires score themselves (FHIR SDC) exactly as the engine scores.

fhirpathpy evaluates each score item's calculatedExpression, as a form renderer would, against
responses built by the module's own ``response_items`` (an unanswered statement has no item),
and every result must equal ``engine.score()`` to 1e-9, or be empty where the engine gives no
score. The options' ordinalValues must be the engine's keyed values, and the items marked for
Observation extraction must carry what the module's own Observations carry.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fhirpathpy
import numpy as np
import pytest
from fhir.resources.questionnaire import Questionnaire
from fhir.resources.questionnaireresponse import QuestionnaireResponse
from fhirpathpy.models import models

from quizapp.scoring.engine import keyed_answers, score
from quizapp.scoring.instrument import Instrument, Scale, load_bank
from quizapp.therapists import fhir, sdc
from tests.test_architecture import forbidden_imports

REPO = Path(__file__).resolve().parents[2]
BASE = "https://therapist.example.org"
BANK = load_bank(REPO / "items")
ANSWER_SETS = 1000
Answers = dict[str, int | None]
Calculator = Callable[[dict[str, Any]], list[Any]]


def scored_questionnaire(instrument: Instrument) -> dict[str, Any]:
    """The Questionnaire after a JSON round trip, as a form renderer would read it."""
    made: dict[str, Any] = json.loads(json.dumps(fhir.questionnaire(instrument, BASE)))
    return made


def extension(element: Mapping[str, Any], url: str) -> Any:
    """The value of the one extension with ``url`` on an element (None when there is none)."""
    found = [e for e in element.get("extension", []) if e["url"] == url]
    assert len(found) <= 1, url
    return next((v for k, v in found[0].items() if k.startswith("value")), None) if found else None


def calculators(questionnaire: dict[str, Any]) -> dict[str, Calculator]:
    """Each score item's calculatedExpression compiled by fhirpathpy (FHIR R4 model), by
    linkId; it is given the response as ``%resource`` and nothing else."""
    found: dict[str, Calculator] = {}
    for item in questionnaire["item"]:
        expression = extension(item, sdc.CALCULATED_EXPRESSION)
        if expression is not None:
            assert expression["language"] == "text/fhirpath"
            compiled = fhirpathpy.compile(expression["expression"], models["r4"])
            found[item["linkId"]] = lambda r, run=compiled: run(r, {"resource": r})
    return found


def response(instrument: Instrument, answers: Answers) -> dict[str, Any]:
    complete = all(answers.get(item_id) is not None for item_id in instrument.item_ids)
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{fhir.questionnaire_url(instrument, BASE)}|{instrument.version}",
        "status": "completed" if complete else "in-progress",
        "item": fhir.response_items(instrument, answers, BASE),
    }


def answer_sets(instrument: Instrument, count: int) -> list[Answers]:
    """Seeded random answers: a third complete, the rest with each statement left unanswered
    with a chance drawn from 5% to 80%, so scales fall on both sides of ``min_answered``."""
    rng = np.random.default_rng([16, *map(ord, instrument.id)])
    rs = instrument.response_scale
    shape = (count, len(instrument.items))
    values = rng.integers(rs.min, rs.max + 1, size=shape)
    chance = np.where(np.arange(count) < count // 3, 0.0, rng.uniform(0.05, 0.8, size=count))
    skipped = rng.random(shape) < chance[:, None]
    return [
        {item_id: None if skip else int(value)
         for item_id, value, skip in zip(instrument.item_ids, row, skips, strict=True)}
        for row, skips in zip(values, skipped, strict=True)
    ]  # fmt: skip


def option_values(questionnaire: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(linkId, code) -> the option's ordinalValue, for every option of every item."""
    return {
        (item["linkId"], option["valueCoding"]["code"]): extension(option, sdc.ORDINAL_VALUE)
        for item in questionnaire["item"]
        for option in item.get("answerOption", [])
    }


def check_expressions_equal_the_engine(
    instrument: Instrument, answers: list[Answers]
) -> Counter[str]:
    """Every scale's expression against every answer set, and what ``ordinal()`` would give
    from the options; returns how many scores were complete, prorated or absent."""
    questionnaire = scored_questionnaire(instrument)
    calculate = calculators(questionnaire)
    weights = option_values(questionnaire)
    outcomes: Counter[str] = Counter()
    for given in answers:
        resource = response(instrument, given)
        report = score(instrument, given)
        for scale_id, scale in instrument.scales.items():
            result = calculate[sdc.score_link_id(scale_id)](resource)
            expected = report.scales[scale_id]
            if expected.score is None:
                assert result == [], (scale_id, given)
                outcomes["no score"] += 1
                continue
            (value,) = result
            assert abs(float(value) - expected.score) <= 1e-9, (scale_id, given)
            chosen = [weights[item_id, str(given[item_id])] for item_id in scale.item_ids
                      if given.get(item_id) is not None]  # fmt: skip
            assert abs(float(value) - sum(chosen) / len(chosen)) <= 1e-9
            outcomes["prorated" if expected.prorated else "complete"] += 1
    return outcomes


@pytest.mark.parametrize("instrument_id", sorted(BANK))
def test_score_expressions_equal_the_engine_on_random_answers(instrument_id: str) -> None:
    instrument = BANK[instrument_id]
    outcomes = check_expressions_equal_the_engine(instrument, answer_sets(instrument, ANSWER_SETS))
    assert sum(outcomes.values()) == ANSWER_SETS * len(instrument.scales)
    assert min(outcomes[kind] for kind in ("complete", "prorated", "no score")) >= 200, outcomes


@pytest.mark.parametrize("instrument_id", sorted(BANK))
def test_a_score_needs_min_answered_items_in_the_expression_too(instrument_id: str) -> None:
    """On each scale answer none of its items, ``min_answered`` - 1, then ``min_answered``
    (every other statement answered): no score, no score, a score."""
    instrument = BANK[instrument_id]
    everything = {item_id: 1 + i % 5 for i, item_id in enumerate(instrument.item_ids)}
    sets = []
    for scale in instrument.scales.values():
        for answered in (0, scale.min_answered - 1, scale.min_answered):
            kept = set(scale.item_ids[-answered:] if answered else ())
            sets.append({i: v for i, v in everything.items()
                         if i in kept or i not in scale.item_ids})  # fmt: skip
    outcomes = check_expressions_equal_the_engine(instrument, sets)
    assert outcomes["no score"] == 2 * len(instrument.scales)


def test_options_carry_the_engines_keyed_values() -> None:
    for instrument in BANK.values():
        weights = option_values(scored_questionnaire(instrument))
        for item in instrument.items:
            for value in instrument.response_scale.values:
                keyed = keyed_answers(instrument, {item.id: value})[item.id]
                assert weights[item.id, str(value)] == keyed
    quick = option_values(scored_questionnaire(BANK["quick"]))
    strongly_agree = {item_id: quick[item_id, "5"] for item_id in ("q01", "q02", "q03", "q04")}
    assert strongly_agree == {"q01": 5, "q02": 5, "q03": 1, "q04": 1}  # q03, q04 reverse-keyed


def test_score_items_are_hidden_read_only_and_validate_as_fhir_r4(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for instrument in BANK.values():
        questionnaire = scored_questionnaire(instrument)
        with caplog.at_level(logging.DEBUG, logger="fhir"):
            assert Questionnaire(questionnaire).as_json() == questionnaire  # nothing dropped
            made = response(instrument, {instrument.item_ids[0]: None, instrument.item_ids[1]: 3})
            assert QuestionnaireResponse(made).as_json() == made
        assert caplog.records == []
        link_ids = [item["linkId"] for item in questionnaire["item"]]
        assert len(set(link_ids)) == len(link_ids)
        scores = questionnaire["item"][len(instrument.items) :]
        assert [item["linkId"] for item in scores] == [f"score.{s}" for s in instrument.scales]
        for item, scale in zip(scores, instrument.scales.values(), strict=True):
            assert (item["type"], item["readOnly"], item["text"]) == ("decimal", True, scale.label)
            assert extension(item, sdc.HIDDEN) is True
            assert "required" not in item and "answerOption" not in item
            expression = extension(item, sdc.CALCULATED_EXPRESSION)
            assert f"fewer than {scale.min_answered} answered" in expression["description"]


def test_extracted_observations_carry_the_modules_codes() -> None:
    for instrument in BANK.values():
        questionnaire = scored_questionnaire(instrument)
        extracted = {
            item["linkId"]: item
            for item in questionnaire["item"]
            if extension(item, sdc.OBSERVATION_EXTRACT) is True
        }
        assert all("code" not in item for item in questionnaire["item"][: len(instrument.items)])
        made = fhir.administration_resources(
            instrument=instrument, answers={i: 4 for i in instrument.item_ids},
            finished_at=datetime(2026, 3, 1, tzinfo=UTC), administration_id=1, client_id=1,
            client_label="C", base_url=BASE,
        )  # fmt: skip
        observations = json.loads(json.dumps(made[1:]))
        assert len(extracted) == len(observations) == len(instrument.scales)
        for observation in observations:
            scale_id = observation["id"].rsplit("-", 1)[1]
            item = extracted[f"score.{scale_id}"]
            assert item["code"] == observation["code"]["coding"]
            assert item["code"][0]["system"] == f"{BASE}{fhir.SCALES_CODE_SYSTEM}"
            assert [extension(item, sdc.EXTRACT_CATEGORY)] == observation["category"]
            unit = extension(item, sdc.UNIT)
            quantity = observation["valueQuantity"]
            assert (unit["system"], unit["code"], unit["display"]) == (
                quantity["system"],
                quantity["code"],
                quantity["unit"],
            )


def test_a_scale_without_a_code_is_scored_but_not_extracted() -> None:
    quick = BANK["quick"]
    items = ("q02", "q03", "q04", "q05")  # both scales, two of them reverse-keyed
    closeness = Scale("closeness", "Closeness", "", min_answered=3, item_ids=items)
    instrument = replace(quick, scales={**quick.scales, "closeness": closeness})
    questionnaire = scored_questionnaire(instrument)
    Questionnaire(questionnaire)
    (item,) = [i for i in questionnaire["item"] if i["linkId"] == "score.closeness"]
    assert "code" not in item and extension(item, sdc.OBSERVATION_EXTRACT) is None
    assert extension(item, sdc.CALCULATED_EXPRESSION) is not None
    outcomes = check_expressions_equal_the_engine(instrument, answer_sets(instrument, 100))
    assert min(outcomes[kind] for kind in ("complete", "prorated", "no score")) > 0


def test_sdc_module_imports_no_web_or_database_package() -> None:
    source = (REPO / "quizapp" / "therapists" / "sdc.py").read_text(encoding="utf-8")
    assert forbidden_imports(source) == []
