"""Therapist data as FHIR R4 (4.0.1) JSON: questionnaires, responses and scale scores.

A therapist can hand a client's results to a record system that reads FHIR. Everything here
is a pure function returning plain dicts ready for ``json.dumps``; the web layer reads the
database and calls :func:`bundle`.

- No LOINC (or other standard) codes exist for our scales, so the scores are coded in a
  local code system (:func:`code_system`) served under the site's own base URL.
- Each instrument is a Questionnaire whose answer options are codings (code = the response
  value, display = its label); a response repeats the chosen coding. The Questionnaire scores
  itself the SDC way (:mod:`.sdc`): keyed option values and one calculated item per scale.
- Each scale score is an Observation (category ``survey``) with its standard error of
  measurement, 90% band and percentile as components, derived from the response.
- Bundle entries get ``urn:uuid:`` full URLs from a uuid5 of the base URL and resource id,
  so the same data always gives the same export.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from ..scoring.engine import AnswerError, ScaleScore, ScoreReport, score
from ..scoring.instrument import Instrument
from . import sdc

Resource = dict[str, Any]

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
SCALES_CODE_SYSTEM = "/fhir/CodeSystem/attachment-scales"
SCALES_VERSION = "1.0.0"
SURVEY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
SCORE_UNIT = {"system": UCUM, "code": "{score}", "display": "score"}

# code -> (display, definition) of the local code system
CONCEPTS: dict[str, tuple[str, str]] = {
    "anxiety": (
        "Attachment anxiety",
        "Mean keyed response on the attachment anxiety scale: worry about rejection or "
        "abandonment and the need for reassurance.",
    ),
    "avoidance": (
        "Attachment avoidance",
        "Mean keyed response on the attachment avoidance scale: discomfort with closeness "
        "and with relying on others.",
    ),
    "sem": (
        "Standard error of measurement",
        "SD * sqrt(1 - reliability) of the scale score, from the reference sample.",
    ),
    "band-low": ("90% band, lower limit", "Score - 1.645 SEM, clipped to the response range."),
    "band-high": ("90% band, upper limit", "Score + 1.645 SEM, clipped to the response range."),
    "percentile": ("Percentile", "Mid-rank percentile of the score in the reference sample."),
}


class Administration(TypedDict):
    """One completed questionnaire of one client, as :func:`bundle` takes it."""

    administration_id: int | str  # a row id, or an opaque key (letters, digits, '-', '.')
    instrument_id: str
    answers: Mapping[str, int]
    finished_at: datetime  # naive means UTC
    client_id: int | None  # None: a person's own download, which names no subject
    client_label: str
    instrument_version: NotRequired[str]  # checked against the instrument when given
    report: NotRequired[ScoreReport]  # the stored scores; computed from the answers if absent


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def _fhir_id(text: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from one of our ids, which may contain '_'."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def _instant(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, with its offset (naive means UTC, as elsewhere)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def full_url(base_url: str, resource: Mapping[str, Any]) -> str:
    """The reproducible ``urn:uuid:`` of a resource in an export from ``base_url``."""
    name = f"{_base(base_url)}/fhir/{resource['resourceType']}/{resource['id']}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def questionnaire_url(instrument: Instrument, base_url: str) -> str:
    """The canonical URL of an instrument's Questionnaire (without its version)."""
    return f"{_base(base_url)}/fhir/Questionnaire/{_fhir_id(instrument.id)}"


def code_system(base_url: str) -> Resource:
    """The local code system of the scale scores and their components."""
    return {
        "resourceType": "CodeSystem",
        "id": "attachment-scales",
        "url": _base(base_url) + SCALES_CODE_SYSTEM,
        "version": SCALES_VERSION,
        "name": "SecureBaseAttachmentScales",
        "title": "Secure Base attachment scales",
        "status": "active",
        "experimental": False,
        "description": "Scale scores of the Secure Base attachment questionnaires and the "
        "figures that describe their precision and standing in the reference sample.",
        "caseSensitive": True,
        "content": "complete",
        "count": len(CONCEPTS),
        "concept": [
            {"code": code, "display": display, "definition": definition}
            for code, (display, definition) in CONCEPTS.items()
        ],
    }


def _answer_codings(instrument: Instrument, base_url: str) -> dict[int, dict[str, str]]:
    system = f"{_base(base_url)}/fhir/CodeSystem/response-{_fhir_id(instrument.id)}"
    rs = instrument.response_scale
    return {
        value: {"system": system, "code": str(value), "display": label}
        for value, label in zip(rs.values, rs.labels, strict=True)
    }


def _name(instrument: Instrument) -> str:
    words = re.split(r"[^A-Za-z0-9]+", instrument.id)
    return "SecureBase" + "".join(word[:1].upper() + word[1:] for word in words)


def questionnaire(instrument: Instrument, base_url: str) -> Resource:
    """One Questionnaire per instrument: one required choice item per statement, whose options
    carry their keyed values, then one hidden item per scale that calculates its score (SDC);
    a scale the local code system defines is marked for Observation extraction."""
    codings = _answer_codings(instrument, base_url)
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": _fhir_id(instrument.id),
        "language": instrument.language,
        "url": questionnaire_url(instrument, base_url),
        "version": instrument.version,
        "name": _name(instrument),
        "title": instrument.title,
        "status": "active",
        "subjectType": ["Patient"],
    }
    if instrument.description:
        resource["description"] = instrument.description
    licence = instrument.licence
    resource["copyright"] = f"{licence.holder}. Licence: {licence.name}" + (
        f" ({licence.url})" if licence.url else ""
    )
    resource["item"] = [
        {
            "linkId": item.id,
            "text": item.text,
            "type": "choice",
            "required": True,
            "answerOption": sdc.answer_options(instrument, item, codings),
        }
        for item in instrument.items
    ]
    resource["item"] += [
        sdc.score_item(
            instrument,
            scale_id,
            unit=SCORE_UNIT,
            code=_coding(scale_id, base_url) if scale_id in CONCEPTS else None,
            category=SURVEY,
        )
        for scale_id in instrument.scales
    ]
    return deepcopy(resource)  # no answer option shared between items


def _quantity(value: float, *, percent: bool = False) -> dict[str, Any]:
    if percent:
        return {"value": round(value, 1), "unit": "%", "system": UCUM, "code": "%"}
    unit = SCORE_UNIT
    return {"value": round(value, 2), "unit": unit["display"], "system": unit["system"],
            "code": unit["code"]}  # fmt: skip


def _coding(code: str, base_url: str) -> dict[str, str]:
    """A code of the local code system, with its display."""
    return {
        "system": _base(base_url) + SCALES_CODE_SYSTEM,
        "code": code,
        "display": CONCEPTS[code][0],
    }


def _concept(code: str, base_url: str, text: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(code, base_url)], "text": text or CONCEPTS[code][0]}


def response_items(
    instrument: Instrument, answers: Mapping[str, int | None], base_url: str
) -> list[Resource]:
    """The items of a QuestionnaireResponse: one per answered statement, in the instrument's
    order, answered with the option's coding; an unanswered statement (None or absent) has
    none. Raises ``AnswerError`` for a value off the response scale."""
    codings = _answer_codings(instrument, base_url)
    items = []
    for item in instrument.items:
        value = answers.get(item.id)
        if value is None:
            continue
        if value not in codings:
            raise AnswerError(f"{item.id}: {value!r} is not a response of {instrument.id}")
        items.append(
            {"linkId": item.id, "text": item.text, "answer": [{"valueCoding": codings[value]}]}
        )
    return deepcopy(items)


def administration_resources(
    *,
    instrument: Instrument,
    answers: Mapping[str, int],
    finished_at: datetime,
    administration_id: int | str,
    client_id: int | None,
    client_label: str,
    base_url: str,
    report: ScoreReport | None = None,
) -> list[Resource]:
    """A QuestionnaireResponse and one Observation per scored scale, in that order; with no
    ``client_id`` (a person's own download) they name no subject.

    Raises ``AnswerError`` (a ``ValueError``) for a missing, unknown or off-scale answer and
    ``ValueError`` for a scale the local code system does not define.
    """
    missing = [item_id for item_id in instrument.item_ids if answers.get(item_id) is None]
    if missing:
        raise AnswerError(f"administration {administration_id}: no answer to {missing}")
    scored = score(instrument, answers)  # also rejects unknown items and off-scale values
    report = report or scored
    about: dict[str, Any] = {}  # the subject, when there is one
    if client_id is not None:
        subject: dict[str, Any] = {
            "type": "Patient",
            "identifier": {"system": f"{_base(base_url)}/fhir/client", "value": str(client_id)},
        }
        if client_label:  # FHIR strings are never empty
            subject["display"] = client_label
        about["subject"] = subject
    when = _instant(finished_at)
    response: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{administration_id}",
        "questionnaire": f"{questionnaire_url(instrument, base_url)}|{instrument.version}",
        "status": "completed",
        **about,
        "authored": when,
        "item": response_items(instrument, answers, base_url),
    }
    shared = {
        **about,
        "effectiveDateTime": when,
        "derivedFrom": [{"reference": full_url(base_url, response)}],
    }
    observations = [
        _observation(result, f"obs-{administration_id}-{scale_id}", base_url, shared)
        for scale_id, result in report.scales.items()
        if result.score is not None
    ]
    return deepcopy([response, *observations])  # no sub-dict shared between resources


def _observation(
    result: ScaleScore, resource_id: str, base_url: str, shared: Mapping[str, Any]
) -> Resource:
    """One scale score with its SEM, 90% band and percentile (those known) as components;
    ``shared`` holds the subject, effectiveDateTime and derivedFrom of the administration."""
    if result.scale not in CONCEPTS:
        raise ValueError(f"scale {result.scale!r} has no code in the local code system")
    if result.score is None:
        raise ValueError(f"scale {result.scale!r} has no score")
    low, high = result.band or (None, None)
    figures = {
        "sem": result.sem,
        "band-low": low,
        "band-high": high,
        "percentile": result.percentile,
    }
    components = [
        {
            "code": _concept(code, base_url),
            "valueQuantity": _quantity(value, percent=code == "percentile"),
        }
        for code, value in figures.items()
        if value is not None
    ]
    observation: Resource = {
        "resourceType": "Observation",
        "id": _fhir_id(resource_id),
        "status": "final",
        "category": [SURVEY],
        "code": _concept(result.scale, base_url, result.label),
        **shared,
        "valueQuantity": _quantity(result.score),
    }
    if components:
        observation["component"] = components
    return observation


def bundle(
    administrations: Iterable[Administration],
    *,
    instruments: Mapping[str, Instrument],
    base_url: str,
    timestamp: datetime,
) -> Resource:
    """A ``collection`` Bundle of the code system, the Questionnaires used, and per
    administration its QuestionnaireResponse and Observations.

    ``administrations`` are :class:`Administration` dicts (one client's or many clients');
    ``instruments`` maps instrument id to instrument, e.g. the app's loaded bank. Raises
    ``KeyError`` for an unknown instrument, ``ValueError`` for an administration whose
    ``instrument_version`` differs from the instrument's or whose id repeats, and
    ``AnswerError`` for answers that do not fit the instrument.
    """
    used: dict[str, Instrument] = {}
    per_administration: list[Resource] = []
    for administration in administrations:
        instrument = instruments[administration["instrument_id"]]
        version = administration.get("instrument_version", instrument.version)
        if version != instrument.version:
            raise ValueError(
                f"administration {administration['administration_id']} was made with "
                f"{instrument.id} {version}, not {instrument.version}"
            )
        used[instrument.id] = instrument
        per_administration += administration_resources(
            instrument=instrument,
            answers=administration["answers"],
            finished_at=administration["finished_at"],
            administration_id=administration["administration_id"],
            client_id=administration["client_id"],
            client_label=administration["client_label"],
            base_url=base_url,
            report=administration.get("report"),
        )
    resources = [
        code_system(base_url),
        *(questionnaire(used[key], base_url) for key in sorted(used)),
        *per_administration,
    ]
    entries = [{"fullUrl": full_url(base_url, r), "resource": r} for r in resources]
    if len({entry["fullUrl"] for entry in entries}) != len(entries):
        raise ValueError("an administration id appears more than once")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(timestamp),
        "entry": entries,
    }
