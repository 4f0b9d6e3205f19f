"""The FHIR export validates as R4 (fhir.resources 5.1.1) and says what the scoring engine says.

fhir.resources 5.1.1 checks structure, types, required elements and unknown keys, but only
logs a bad date and does not check value patterns, so dates, ids and empty values are
checked here against the R4 regular expressions as well.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.codesystem import CodeSystem
from fhir.resources.fhirabstractbase import FHIRValidationError
from fhir.resources.observation import Observation
from fhir.resources.questionnaire import Questionnaire
from fhir.resources.questionnaireresponse import QuestionnaireResponse

from quizapp.scoring.engine import AnswerError, score
from quizapp.scoring.instrument import Instrument, load_bank
from quizapp.therapists import fhir
from tests.test_architecture import forbidden_imports

REPO = Path(__file__).resolve().parents[2]
BASE = "https://therapist.example.org"
TIMESTAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLASSES = {
    cls.resource_type: cls
    for cls in (CodeSystem, Questionnaire, QuestionnaireResponse, Observation)
}
# Regular expressions of the FHIR R4 primitive types
YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
MONTH, DAY = r"-(0[1-9]|1[0-2])", r"-(0[1-9]|[1-2][0-9]|3[0-1])"
INSTANT = re.compile(f"{YEAR}{MONTH}{DAY}T{TIME}{ZONE}")
DATE_TIME = re.compile(f"{YEAR}({MONTH}({DAY}(T{TIME}{ZONE})?)?)?")
FHIR_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
NAME = re.compile(r"[A-Z]([A-Za-z0-9_]){0,254}")


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(REPO / "items")


def answers_for(instrument: Instrument, shift: int = 0) -> dict[str, int]:
    return {item_id: 1 + (i + shift) % 5 for i, item_id in enumerate(instrument.item_ids)}


@pytest.fixture(scope="module")
def administrations(bank: dict[str, Instrument]) -> list[fhir.Administration]:
    plan = [(1, "quick", 7, "Client A"), (2, "full", 7, "Client A"), (5, "quick", 9, "B. (couple)")]
    return [
        fhir.Administration(
            administration_id=adm_id,
            instrument_id=instrument_id,
            instrument_version=bank[instrument_id].version,
            answers=answers_for(bank[instrument_id], shift=adm_id),
            finished_at=datetime(2026, 2, adm_id, 9, 30, 15, tzinfo=timezone(timedelta(hours=2))),
            client_id=client_id,
            client_label=label,
        )
        for adm_id, instrument_id, client_id, label in plan
    ]


@pytest.fixture(scope="module")
def exported(bank: dict[str, Instrument], administrations: list[fhir.Administration]) -> Any:
    """The bundle after a JSON round trip, as a receiving system would read it."""
    made = fhir.bundle(administrations, instruments=bank, base_url=BASE, timestamp=TIMESTAMP)
    return json.loads(json.dumps(made))


def resources(exported: Any, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == kind]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) in a JSON tree, containers included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def test_bundle_validates_as_fhir_r4_losslessly(
    exported: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="fhir"):
        model = Bundle(exported)
        assert model.as_json() == exported  # nothing dropped or reshaped
    assert caplog.records == []  # fhir.resources only logs, e.g., a date it cannot parse
    assert exported["type"] == "collection"
    assert exported["timestamp"] == "2026-03-01T12:00:00+00:00"


def test_each_resource_validates_with_its_own_class(exported: Any) -> None:
    kinds = [entry["resource"]["resourceType"] for entry in exported["entry"]]
    assert (
        kinds
        == ["CodeSystem", "Questionnaire", "Questionnaire"]
        + (["QuestionnaireResponse"] + ["Observation"] * 2) * 3
    )
    for entry in exported["entry"]:
        resource = entry["resource"]
        assert CLASSES[resource["resourceType"]](resource).as_json() == resource


def test_values_match_fhir_patterns_and_nothing_is_empty(exported: Any) -> None:
    for path, value in walk(exported):
        assert value not in ("", [], {}, None), f"{path} is empty"
        key = path.rsplit("/", 1)[-1]
        if key in ("authored", "effectiveDateTime"):
            assert DATE_TIME.fullmatch(value), path
        if key == "timestamp":
            assert INSTANT.fullmatch(value), path
    for entry in exported["entry"]:
        assert FHIR_ID.fullmatch(entry["resource"]["id"])
    for resource in resources(exported, "Questionnaire") + resources(exported, "CodeSystem"):
        assert NAME.fullmatch(resource["name"])


def test_validator_is_live(exported: Any) -> None:
    response = resources(exported, "QuestionnaireResponse")[0]
    QuestionnaireResponse(response)
    without_status = {k: v for k, v in response.items() if k != "status"}
    with pytest.raises(FHIRValidationError, match="status"):
        QuestionnaireResponse(without_status)
    with pytest.raises(FHIRValidationError, match="Superfluous"):
        QuestionnaireResponse({**response, "score": 3})
    observation = resources(exported, "Observation")[0]
    with pytest.raises(FHIRValidationError):
        Observation({**observation, "valueQuantity": {"value": "high"}})
    broken = json.loads(json.dumps(exported))
    del broken["entry"][0]["resource"]["content"]  # CodeSystem.content is 1..1
    with pytest.raises(FHIRValidationError):
        Bundle(broken)


def test_code_system_defines_every_code_used(exported: Any) -> None:
    (system,) = resources(exported, "CodeSystem")
    assert system["url"] == f"{BASE}/fhir/CodeSystem/attachment-scales"
    assert (system["status"], system["content"]) == ("active", "complete")
    codes = {concept["code"] for concept in system["concept"]}
    assert codes == {"anxiety", "avoidance", "sem", "band-low", "band-high", "percentile"}
    used = {
        (value["system"], value["code"])
        for _, value in walk(resources(exported, "Observation"))
        if isinstance(value, dict) and value.get("system") == system["url"]
    }
    assert {code for _, code in used} == codes


def test_questionnaire_has_every_statement(exported: Any, bank: dict[str, Instrument]) -> None:
    by_id = {q["id"]: q for q in resources(exported, "Questionnaire")}
    assert set(by_id) == {"quick", "full"}
    for instrument_id, q in by_id.items():
        instrument = bank[instrument_id]
        assert q["url"] == f"{BASE}/fhir/Questionnaire/{instrument_id}"
        assert (q["version"], q["title"], q["status"]) == (
            instrument.version,
            instrument.title,
            "active",
        )
        assert q["subjectType"] == ["Patient"]
        statements, scores = q["item"][: len(instrument.items)], q["item"][len(instrument.items) :]
        assert [(i["linkId"], i["text"]) for i in statements] == [
            (item.id, item.text) for item in instrument.items
        ]
        assert [i["linkId"] for i in scores] == ["score.anxiety", "score.avoidance"]
        rs = instrument.response_scale
        for item in statements:
            assert (item["type"], item["required"]) == ("choice", True)
            options = [o["valueCoding"] for o in item["answerOption"]]
            assert [(o["code"], o["display"]) for o in options] == [
                (str(v), label) for v, label in zip(rs.values, rs.labels, strict=True)
            ]
    assert by_id["quick"]["name"] == "SecureBaseQuick"


def test_response_carries_every_answer(
    exported: Any, administrations: list[fhir.Administration], bank: dict[str, Instrument]
) -> None:
    questionnaires = {f"{q['url']}|{q['version']}": q for q in resources(exported, "Questionnaire")}
    responses = {r["id"]: r for r in resources(exported, "QuestionnaireResponse")}
    for adm in administrations:
        response = responses[f"qr-{adm['administration_id']}"]
        assert response["status"] == "completed"
        assert questionnaires[response["questionnaire"]]["id"] == adm["instrument_id"]
        assert datetime.fromisoformat(response["authored"]) == adm["finished_at"]
        assert response["subject"]["identifier"] == {
            "system": f"{BASE}/fhir/client",
            "value": str(adm["client_id"]),
        }
        assert response["subject"]["display"] == adm["client_label"]
        given = {
            item["linkId"]: int(item["answer"][0]["valueCoding"]["code"])
            for item in response["item"]
        }
        assert given == adm["answers"]
        assert [i["linkId"] for i in response["item"]] == list(bank[adm["instrument_id"]].item_ids)


def test_observations_equal_engine_scores(
    exported: Any, administrations: list[fhir.Administration], bank: dict[str, Instrument]
) -> None:
    observations = {o["id"]: o for o in resources(exported, "Observation")}
    for adm in administrations:
        report = score(bank[adm["instrument_id"]], adm["answers"])
        for scale_id, result in report.scales.items():
            obs = observations[f"obs-{adm['administration_id']}-{scale_id}"]
            assert obs["status"] == "final"
            assert obs["category"][0]["coding"][0]["code"] == "survey"
            assert obs["code"]["coding"][0]["code"] == scale_id
            assert datetime.fromisoformat(obs["effectiveDateTime"]) == adm["finished_at"]
            assert obs["subject"]["identifier"]["value"] == str(adm["client_id"])
            assert obs["valueQuantity"]["value"] == pytest.approx(result.score, abs=0.005)
            parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
            assert result.band is not None and result.percentile is not None
            expected = {"sem": result.sem, "band-low": result.band[0], "band-high": result.band[1]}
            for code, value in expected.items():
                assert parts[code]["value"] == pytest.approx(value, abs=0.005)
            assert parts["percentile"]["value"] == pytest.approx(result.percentile, abs=0.05)
            assert parts["percentile"]["unit"] == "%"


def test_references_resolve_inside_the_bundle(exported: Any) -> None:
    by_url = {entry["fullUrl"]: entry["resource"] for entry in exported["entry"]}
    assert len(by_url) == len(exported["entry"])
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", url) for url in by_url)
    references = [v for path, v in walk(exported) if path.endswith("/reference")]
    assert references, "no references found"
    assert set(references) <= set(by_url)
    for obs in resources(exported, "Observation"):
        (source,) = obs["derivedFrom"]
        target = by_url[source["reference"]]
        assert target["resourceType"] == "QuestionnaireResponse"
        assert target["id"] == "qr-" + obs["id"].split("-")[1]


def test_no_loinc_anywhere(exported: Any) -> None:
    assert "loinc" not in json.dumps(exported).lower()


def test_export_is_reproducible(
    exported: Any, administrations: list[fhir.Administration], bank: dict[str, Instrument]
) -> None:
    again = fhir.bundle(administrations, instruments=bank, base_url=BASE, timestamp=TIMESTAMP)
    assert json.dumps(again) == json.dumps(exported)
    entry = exported["entry"][0]
    name = f"{BASE}/fhir/CodeSystem/{entry['resource']['id']}"
    assert entry["fullUrl"] == f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    elsewhere = fhir.bundle(
        administrations, instruments=bank, base_url="https://other.example", timestamp=TIMESTAMP
    )
    assert {e["fullUrl"] for e in elsewhere["entry"]}.isdisjoint(
        e["fullUrl"] for e in exported["entry"]
    )


def test_trailing_slash_and_naive_time_mean_the_same(
    administrations: list[fhir.Administration], bank: dict[str, Instrument]
) -> None:
    first = administrations[0]
    naive = {**first, "finished_at": first["finished_at"].astimezone(UTC).replace(tzinfo=None)}
    made = fhir.bundle(
        [fhir.Administration(**naive)],  # type: ignore[typeddict-item]
        instruments=bank,
        base_url=BASE + "/",
        timestamp=TIMESTAMP.replace(tzinfo=None),
    )
    expected = fhir.bundle([first], instruments=bank, base_url=BASE, timestamp=TIMESTAMP)
    assert made == expected


def test_no_norms_underscore_id_and_empty_label(bank: dict[str, Instrument]) -> None:
    instrument = replace(bank["quick"], id="quick_v2", norms=None)
    q = fhir.questionnaire(instrument, BASE)
    assert (q["id"], q["name"]) == ("quick-v2", "SecureBaseQuickV2")
    made = fhir.administration_resources(
        instrument=instrument, answers=answers_for(instrument), finished_at=TIMESTAMP,
        administration_id=3, client_id=1, client_label="", base_url=BASE,
    )  # fmt: skip
    assert [r["resourceType"] for r in made] == ["QuestionnaireResponse"] + ["Observation"] * 2
    assert all("display" not in r["subject"] for r in made)  # no empty string
    for resource in [q, *json.loads(json.dumps(made))]:
        CLASSES[resource["resourceType"]](resource)
        assert "component" not in resource


def test_unscored_scale_gets_no_observation(
    bank: dict[str, Instrument], monkeypatch: pytest.MonkeyPatch
) -> None:
    instrument = bank["quick"]

    def without_anxiety(inst: Instrument, answers: Any) -> Any:
        report = score(inst, answers)
        scales = {**report.scales, "anxiety": replace(report.scales["anxiety"], score=None)}
        return replace(report, scales=scales)

    monkeypatch.setattr(fhir, "score", without_anxiety)
    made = fhir.administration_resources(
        instrument=instrument, answers=answers_for(instrument), finished_at=TIMESTAMP,
        administration_id=4, client_id=1, client_label="C", base_url=BASE,
    )  # fmt: skip
    assert [r["id"] for r in made] == ["qr-4", "obs-4-avoidance"]


def test_bad_input_is_refused(
    administrations: list[fhir.Administration], bank: dict[str, Instrument]
) -> None:
    first = administrations[0]

    def export(*adms: dict[str, Any]) -> None:
        fhir.bundle(adms, instruments=bank, base_url=BASE, timestamp=TIMESTAMP)  # type: ignore[arg-type]

    partial = dict(first["answers"])
    del partial["q03"]
    with pytest.raises(AnswerError, match="q03"):
        export({**first, "answers": partial})
    with pytest.raises(AnswerError):
        export({**first, "answers": {**first["answers"], "q01": 9}})
    with pytest.raises(AnswerError):
        export({**first, "answers": {**first["answers"], "zz": 1}})
    with pytest.raises(ValueError, match=r"0\.9\.0"):
        export({**first, "instrument_version": "0.9.0"})
    with pytest.raises(ValueError, match="more than once"):
        export(dict(first), dict(first))
    with pytest.raises(KeyError):
        export({**first, "instrument_id": "nope"})


def test_module_imports_no_web_or_database_package() -> None:
    source = (REPO / "quizapp" / "therapists" / "fhir.py").read_text(encoding="utf-8")
    assert forbidden_imports(source) == []
