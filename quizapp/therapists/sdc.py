"""FHIR Structured Data Capture (SDC 3.0, on R4): Questionnaires that score themselves.

A form renderer or record system that speaks SDC (LHC-Forms, Smart Forms, an EHR portal) can
score an instrument from its Questionnaire alone, by the rules of :func:`..scoring.engine.score`:

- each answer option carries its keyed value in the core ``ordinalValue`` extension (SDC 3's
  score of an option; R5 renames it ``itemWeight``), reversed on reverse-keyed items;
- one hidden, read-only ``decimal`` item per scale holds a ``calculatedExpression``: the mean
  of the chosen options' values over the scale's answered items, and empty (no score) when
  fewer than the scale's ``min_answered`` are answered;
- a scale with a code also carries that code and ``observationExtract``, so an SDC extractor
  makes an Observation with the code, category and unit that :mod:`.fhir` gives it.

An expression keys the chosen codes itself (a code is the response value, as :mod:`.fhir` codes
the options), so it gives what SDC 3's ``ordinal()`` would give from the options' values, yet
needs only ``%resource`` and normative FHIRPath (N1): engines without ``ordinal()``,
``%questionnaire`` or ``sum()`` (fhirpathpy, for one) evaluate it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..scoring.instrument import Instrument, Item

Coding = Mapping[str, str]

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
_SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"
CALCULATED_EXPRESSION = _SDC + "calculatedExpression"
OBSERVATION_EXTRACT = _SDC + "observationExtract"
EXTRACT_CATEGORY = _SDC + "observation-extract-category"
_ITEM_ID = re.compile(r"[A-Za-z0-9_-]+")


def score_link_id(scale_id: str) -> str:
    """The linkId of a scale's score item; a '.' is never in an item id, so none clash."""
    return f"score.{scale_id}"


def answer_options(
    instrument: Instrument, item: Item, codings: Mapping[int, Coding]
) -> list[dict[str, Any]]:
    """One option per response value (``codings`` maps value to coding, whose code is the value
    as text), with the keyed value as its ``ordinalValue``."""
    rs = instrument.response_scale
    if any(codings[value]["code"] != str(value) for value in rs.values):
        raise ValueError("the score expressions read an option's code as its response value")
    return [
        {
            "extension": [
                {"url": ORDINAL_VALUE, "valueDecimal": rs.reverse(value) if item.reverse else value}
            ],
            "valueCoding": dict(codings[value]),
        }
        for value in rs.values
    ]


def _id_pattern(item_ids: list[str]) -> str:
    """A FHIRPath string literal of a regular expression that matches exactly these linkIds;
    item ids are letters, digits, '_' and '-' (the instrument schema), so none needs escaping."""
    if not all(_ITEM_ID.fullmatch(item_id) for item_id in item_ids):
        raise ValueError(f"item ids {item_ids} do not fit a regular expression as they are")
    return f"'^({'|'.join(item_ids)})$'"


def _keyed_values(instrument: Instrument, scale_id: str) -> str:
    """FHIRPath for the keyed values of a scale's answered items: the chosen code (the response
    value) as it is, or reversed as ``ResponseScale.reverse`` does (min + max - value).

    Items are picked with one regular expression, which fhirpathpy tests far faster than a
    list of linkIds (``linkId in ('a' | 'b' ...)``)."""
    keys = instrument.scale_keys[scale_id]
    rs = instrument.response_scale
    value = "answer.value.ofType(Coding).code.toInteger()"
    keyed = value
    if reversed_ := [item_id for item_id, reverse in keys if reverse]:
        pattern = _id_pattern(reversed_)
        keyed = f"iif(linkId.matches({pattern}), {rs.min + rs.max} - {value}, {value})"
    scale = _id_pattern([item_id for item_id, _ in keys])
    return f"%resource.item.where(linkId.matches({scale})).select({keyed})"


def _enough(instrument: Instrument, scale_id: str) -> int:
    """How many of a scale's items must be answered for a score (as the engine counts)."""
    return max(instrument.scales[scale_id].min_answered, 1)


def score_expression(instrument: Instrument, scale_id: str) -> str:
    """FHIRPath for a scale score from a QuestionnaireResponse: the mean of the answered items'
    keyed values (the chosen options' ordinal values), or empty when fewer than
    ``min_answered`` items are answered."""
    values = _keyed_values(instrument, scale_id)
    enough = _enough(instrument, scale_id)
    return (
        f"iif(({values}).count() >= {enough}, "
        f"({values}).aggregate($total + $this, 0) / ({values}).count())"
    )


def score_item(
    instrument: Instrument,
    scale_id: str,
    *,
    unit: Coding,
    code: Coding | None,
    category: Mapping[str, Any],
) -> dict[str, Any]:
    """The hidden, read-only item that computes a scale's score; with a ``code``, it is marked
    for Observation extraction with that code, the ``category`` and the ``unit``."""
    scale = instrument.scales[scale_id]
    expression = {
        "description": f"Mean keyed answer over the {len(scale.item_ids)} {scale.label.lower()} "
        f"statements; no score with fewer than {_enough(instrument, scale_id)} answered",
        "language": "text/fhirpath",
        "expression": score_expression(instrument, scale_id),
    }
    extensions: list[dict[str, Any]] = [
        {"url": CALCULATED_EXPRESSION, "valueExpression": expression},
        {"url": HIDDEN, "valueBoolean": True},
        {"url": UNIT, "valueCoding": dict(unit)},
    ]
    item: dict[str, Any] = {"extension": extensions, "linkId": score_link_id(scale_id)}
    if code is not None:
        extensions += [
            {"url": OBSERVATION_EXTRACT, "valueBoolean": True},
            {"url": EXTRACT_CATEGORY, "valueCodeableConcept": dict(category)},
        ]
        item["code"] = [dict(code)]
    return {**item, "text": scale.label, "type": "decimal", "readOnly": True}
