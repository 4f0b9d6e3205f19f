"""A person takes their own result away (issue 16): "Download my data" on the result page
gives JSON and FHIR R4, opened by the receipt code alone, as the PDF is. The files say what
the page says and the engine gives; a wrong, deleted, huge or malformed code is a 404 that
counts as a guess; the code is in no file name, header, file or log record."""

from __future__ import annotations

import html as markup
import json
import logging
import re
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.observation import Observation
from fhir.resources.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient
from numpy.testing import assert_allclose
from sqlalchemy import select

from quizapp import logs
from quizapp.app import create_app
from quizapp.pipeline import portable
from quizapp.pipeline.pipeline import Pipeline
from quizapp.scoring.engine import score
from quizapp.scoring.patterns import PATTERN_LABELS
from quizapp.storage import receipts
from quizapp.storage.tables import StoredAnalysis, Submission, aware
from quizapp.web.extensions import db

from ..conftest import app_config, client_at, hidden_fields, with_limits
from .test_quiz import answers, start

SETTLED = [3, 5, 2, 1, 2, 5, 1, 1, 1, 5, 2, 2]  # nothing to sharpen or check
UNCERTAIN = [4, 1, 4, 2, 2, 1, 2, 3, 2, 2, 3, 2]  # asks four follow-up statements
FOLLOW_UP = {"f21": 5, "f35": 1, "f13": 5, "f15": 1}
KEYS = {"schema_version", "about", "instrument", "taken", "answers", "follow_up", "scores",
        "pattern", "interpretation", "model_outputs", "computed_with"}  # fmt: skip
PATHS = ("/r/{}/data.json", "/r/{}/fhir.json")


def take_quiz(client: FlaskClient, values: list[int]) -> str:
    """Answer the quick form; the receipt code."""
    response = client.post("/quiz/quick", data=start(client) | answers(values))
    assert response.status_code == 303
    return str(response.headers["Location"]).split("/")[2]


def download_links(page: str) -> dict[str, str]:
    """The "Download my data" links of a result page, by their text, as a person finds them."""
    section = page.split('<h2 id="my-data">', 1)[1].split("</section>", 1)[0]
    found = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(Download my data as [^<]+)</a>', section)
    return {text: markup.unescape(href) for href, text in found}


def given(values: list[int]) -> dict[str, int]:
    return {k: int(v) for k, v in answers(values).items()}


def delete(client: FlaskClient, code: str) -> None:
    confirm = client.get(f"/r/{code}/delete")
    response = client.post(f"/r/{code}/delete", data=hidden_fields(confirm.get_data(as_text=True)))
    assert response.status_code == 303


def by_scale(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["scale"]: s for s in document["scores"]}


def test_the_result_page_s_links_give_what_the_page_shows_and_the_engine_gives(
    app: Flask, client: FlaskClient
) -> None:
    code = take_quiz(client, SETTLED)
    page = client.get(f"/r/{code}").get_data(as_text=True)
    links = download_links(page)
    assert set(links) == {"Download my data as JSON", "Download my data as FHIR R4"}
    response = client.get(links["Download my data as JSON"])
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="secure-base-my-data-\d{4}-\d\d-\d\d\.json"',
                        disposition), disposition  # fmt: skip
    document = response.get_json()
    assert set(document) == KEYS and document["schema_version"] == portable.SCHEMA_VERSION
    assert "not a diagnosis" in document["about"]

    pipeline: Pipeline = app.extensions["pipeline"]
    instrument = pipeline.bank["quick"]
    assert (document["instrument"]["id"], document["instrument"]["version"]) == ("quick", "1.0.0")
    labels = instrument.response_scale.labels
    assert document["answers"] == [
        {"item_id": item.id, "scale": item.scale, "reverse_worded": item.reverse,
         "statement": item.text, "value": value, "label": labels[value - 1]}
        for item, value in zip(instrument.items, SETTLED, strict=True)
    ]  # fmt: skip
    assert document["follow_up"] is None
    with app.app_context():
        stored = db.session.scalars(select(Submission)).one()
        for when in ("started_at", "finished_at"):  # as stored (UTC; naive on SQLite)
            stored_at = aware(getattr(stored, when))
            assert datetime.fromisoformat(document["taken"][when]) == stored_at
        db.session.expunge_all()

    engine = score(instrument, given(SETTLED))
    scores = by_scale(document)
    assert set(scores) == set(engine.scales)
    for scale_id, expected in engine.scales.items():
        got = scores[scale_id]
        assert expected.band is not None and expected.percentile_band is not None
        assert_allclose([got["score"], got["sem"], got["band_90"]["low"], got["band_90"]["high"],
                         got["percentile"], got["percentile_band_90"]["low"],
                         got["percentile_band_90"]["high"]],
                        [expected.score, expected.sem, *expected.band, expected.percentile,
                         *expected.percentile_band], rtol=1e-12)  # fmt: skip
        assert f"{got['score']:.2f}" in page
        assert f"{got['band_90']['low']:.2f} to {got['band_90']['high']:.2f}" in page
        assert f"Higher than about <strong>{round(got['percentile'])}%</strong>" in page
        estimate = got["full_form_estimate"]
        assert f"<strong>{estimate['score']:.2f}</strong> (90% prediction interval" in page

    # The closest pattern is the full form's, estimated by the follow-up model (not the
    # engine's own): the same as the pipeline gives for these answers, and the page's table.
    analysis = pipeline.analyse("quick", "1.0.0", given(SETTLED), finished_at=stored.finished_at)
    assert analysis.report.pattern is not None
    pattern = document["pattern"]
    assert pattern["closest"] == analysis.report.pattern.closest
    assert pattern["label"] == PATTERN_LABELS[pattern["closest"]]
    chances = {p["pattern"]: p["probability"] for p in pattern["probabilities"]}
    assert set(chances) == set(PATTERN_LABELS)
    for key, probability in analysis.report.pattern.probabilities.items():
        assert_allclose(chances[key], probability, rtol=1e-12)
        shown = f'<th scope="row">{PATTERN_LABELS[key]}</th><td>{round(probability * 100)}%</td>'
        assert shown in page, shown

    interpretation = document["interpretation"]
    page_text = " ".join(markup.unescape(page).split())
    assert [s["title"] for s in interpretation["steps"]] == [
        r.step.title for r in analysis.interpretation.steps
    ]
    for part in ("triggers", "strengths"):
        for finding in interpretation[part][:3]:  # the page shows the first three
            assert finding["title"] in page_text and finding["rules"]
    for said in interpretation["advice"] + interpretation["cautions"]:
        assert said["title"] in page_text and said["rules"]
    fired = [r["id"] for r in interpretation["rules_fired"]]
    assert fired and ", ".join(fired) in page_text
    versions = document["computed_with"]
    assert (
        f"Interpretation rules version {versions['rules_version']}; models "
        f"{versions['model_version']}; content {versions['content_version']}."
    ) in page_text


def test_follow_up_answers_are_in_it_once_given_or_skipped(app: Flask, client: FlaskClient) -> None:
    code = take_quiz(client, UNCERTAIN)
    pending = client.get(f"/r/{code}/data.json").get_json()["follow_up"]
    assert pending["status"] == "not answered yet"
    assert [(s["item_id"], s["value"]) for s in pending["statements"]] == [
        (item_id, None) for item_id in FOLLOW_UP
    ]
    more = client.get(f"/r/{code}/more")
    form = hidden_fields(more.get_data(as_text=True)) | {k: str(v) for k, v in FOLLOW_UP.items()}
    assert client.post(f"/r/{code}/more", data=form).status_code == 303

    document = client.get(f"/r/{code}/data.json").get_json()
    pipeline: Pipeline = app.extensions["pipeline"]
    full = pipeline.bank["full"]
    texts = {item.id: item.text for item in full.items}
    follow_up = document["follow_up"]
    assert follow_up["instrument"] == {"id": "full", "version": full.version}
    assert follow_up["status"] == "answered"
    assert follow_up["statements"] == [
        {"item_id": i, "statement": texts[i], "value": v,
         "label": full.response_scale.labels[v - 1]}
        for i, v in FOLLOW_UP.items()
    ]  # fmt: skip
    with app.app_context():
        stored = db.session.scalars(select(Submission)).one()
        db.session.expunge_all()
    sharper = pipeline.analyse("quick", "1.0.0", given(UNCERTAIN), follow_up=FOLLOW_UP,
                               finished_at=stored.finished_at)  # fmt: skip
    assert sharper.report.pattern is not None
    chances = {p["pattern"]: p["probability"] for p in document["pattern"]["probabilities"]}
    assert_allclose([chances[k] for k in PATTERN_LABELS],
                    [sharper.report.pattern.probabilities[k] for k in PATTERN_LABELS],
                    rtol=1e-12)  # fmt: skip

    skipper = take_quiz(client, UNCERTAIN)
    more = client.get(f"/r/{skipper}/more")
    form = hidden_fields(more.get_data(as_text=True)) | {"skip": "1"}
    assert client.post(f"/r/{skipper}/more", data=form).status_code == 303
    skipped = client.get(f"/r/{skipper}/data.json").get_json()["follow_up"]
    assert skipped["status"] == "skipped"
    assert [(s["item_id"], s["value"]) for s in skipped["statements"]] == [
        (item_id, None) for item_id in FOLLOW_UP
    ]


def test_it_reads_the_stored_analysis_and_computes_nothing(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = take_quiz(client, SETTLED)
    with app.app_context():  # what was stored is what is sent, even when it differs
        row = db.session.scalars(select(StoredAnalysis)).one()
        record = json.loads(json.dumps(row.record))
        record["scales"][0]["score"] = 1.2345
        row.record = record
        db.session.commit()

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the download computed the analysis again")

    monkeypatch.setattr(Pipeline, "analyse", never)
    document = client.get(f"/r/{code}/data.json").get_json()
    assert document["scores"][0]["score"] == 1.2345
    bundle = client.get(f"/r/{code}/fhir.json").get_json()
    [first, _second] = [e["resource"] for e in bundle["entry"][3:]]
    assert first["valueQuantity"]["value"] == 1.23


def test_the_fhir_bundle_validates_and_its_observations_carry_the_same_scores(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    code = take_quiz(client, SETTLED)
    links = download_links(client.get(f"/r/{code}").get_data(as_text=True))
    response = client.get(links["Download my data as FHIR R4"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="secure-base-my-data-\d{4}-\d\d-\d\d\.fhir\.json"',
                        disposition), disposition  # fmt: skip
    exported = json.loads(response.get_data())
    with caplog.at_level(logging.DEBUG, logger="fhir"):
        assert Bundle(exported).as_json() == exported  # valid R4, nothing dropped or reshaped
    assert caplog.records == []  # fhir.resources only logs, e.g., a date it cannot parse
    assert exported["type"] == "collection"
    resources = [entry["resource"] for entry in exported["entry"]]
    kinds = [r["resourceType"] for r in resources]
    assert kinds == ["CodeSystem", "Questionnaire", "QuestionnaireResponse", "Observation",
                     "Observation"]  # fmt: skip
    response_, *observations = resources[2:]
    QuestionnaireResponse(response_)
    assert not any("subject" in r for r in resources), "an anonymous result names nobody"
    assert "/fhir/client" not in json.dumps(resources)
    answered = {i["linkId"]: int(i["answer"][0]["valueCoding"]["code"]) for i in response_["item"]}
    assert answered == given(SETTLED)

    scores = by_scale(client.get(links["Download my data as JSON"]).get_json())
    for observation in observations:
        Observation(observation)
        assert observation["derivedFrom"] == [{"reference": exported["entry"][2]["fullUrl"]}]
        scale = scores[observation["code"]["coding"][0]["code"]]
        assert observation["valueQuantity"]["value"] == pytest.approx(scale["score"], abs=0.005)
        parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                 for c in observation["component"]}  # fmt: skip
        assert parts == pytest.approx({
            "sem": scale["sem"], "band-low": scale["band_90"]["low"],
            "band-high": scale["band_90"]["high"], "percentile": scale["percentile"],
        }, abs=0.05)  # fmt: skip

    ids = [r["id"] for r in resources[2:]]  # neither the code nor the database row's id
    assert all(re.fullmatch(r"(qr|obs)-[0-9a-f]{32}(-anxiety|-avoidance)?", i) for i in ids), ids
    again = client.get(links["Download my data as FHIR R4"]).get_json()
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in exported["entry"]]
    other = take_quiz(client, SETTLED)
    theirs = client.get(f"/r/{other}/fhir.json").get_json()
    assert theirs["entry"][2]["fullUrl"] != exported["entry"][2]["fullUrl"], "one per result"


def test_wrong_deleted_huge_and_malformed_codes_are_404s_that_count_as_guesses(
    database_url: str,
) -> None:
    bad_codes = [receipts.new_code(), "not-a-code", "A" * 10_000, "ÅÄÖ" * 10, "%00", "%20",
                 "'; DROP TABLE submissions; --", "1" * 27]  # fmt: skip
    misses = len(bad_codes) * len(PATHS) + 2  # with the deleted result's two, below
    limits = with_limits(lookup_miss=f"{misses}/minute", lookup="1000/minute")
    app = create_app(app_config(database_url, RATE_LIMITS=limits))
    web = client_at(app, "198.51.100.7")
    deleted, kept = take_quiz(web, SETTLED), take_quiz(web, SETTLED)
    delete(web, deleted)
    for path in PATHS:
        assert web.get(path.format(deleted)).status_code == 404
        for code in bad_codes:
            response = web.get(path.format(code))
            assert response.status_code == 404, (path, code[:20], response.status_code)
            assert response.headers["Cache-Control"] == "no-store"
    for path in PATHS:  # the guesses used up the limit: even a right code waits now
        refused = web.get(path.format(kept))
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 60
    assert client_at(app, "203.0.113.9").get(PATHS[0].format(kept)).status_code == 200
    app.extensions["database"].dispose()


def test_after_deletion_both_downloads_are_404(client: FlaskClient) -> None:
    code = take_quiz(client, SETTLED)
    for path in PATHS:
        assert client.get(path.format(code)).status_code == 200
    delete(client, code)
    for path in PATHS:
        for how in (client.get, client.head):
            assert how(path.format(code)).status_code == 404
            assert how(path.format(receipts.display(code).lower())).status_code == 404


def test_the_code_is_in_no_file_name_header_file_or_log_record(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    code = take_quiz(client, UNCERTAIN)
    forms = (code, receipts.display(code), receipts.display(code).lower())
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        for path in PATHS:
            for typed in forms:
                for response in (client.get(path.format(typed)), client.head(path.format(typed))):
                    assert response.status_code == 200
                    headers = str(response.headers)
                    body = response.get_data(as_text=True)
                    assert not any(form in headers or form in body for form in forms), path
    records = [r.getMessage() + (r.exc_text or "") + str(r.args) for r in caplog.records]
    assert not any(form in line for line in records for form in forms)
    # The access line of Flask's development server (werkzeug's logger) and the line of an
    # error in a download reach the log through the masking formatter: no code in either.
    for path in PATHS:
        for typed in forms:
            line = f'127.0.0.1 - - "GET {path.format(typed)} HTTP/1.1" 200 -'
            masked = logs.redact(line)
            assert typed not in masked and "[receipt code]" in masked


def test_an_error_in_a_download_is_logged_without_the_code(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    code = take_quiz(client, SETTLED)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page and a log line

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr("quizapp.web.my_data.portable_data", broken)
    with caplog.at_level(logging.ERROR):
        assert client.get(f"/r/{code}/data.json").status_code == 500
    [record] = [r for r in caplog.records if r.exc_info]
    for formatter in (logs.RedactingFormatter(logs.FORMAT), logs.JsonLinesFormatter()):
        written = formatter.format(record)
        assert "/data.json" in written and "RuntimeError" in written
        assert code not in written and receipts.display(code) not in written


def test_head_and_other_methods(client: FlaskClient) -> None:
    code = take_quiz(client, SETTLED)
    for path in PATHS:
        url = path.format(code)
        full = client.get(url)
        head = client.head(url)
        assert head.status_code == 200 and head.get_data() == b""
        for name in ("Content-Type", "Content-Disposition", "Cache-Control"):
            assert head.headers[name] == full.headers[name]
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            refused = client.open(url, method=method)
            assert refused.status_code == 405, (method, refused.status_code)
            assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        assert client.options(url).status_code == 200
        assert client.get(path.format(code)).status_code == 200, "still there"


def test_a_questionnaire_version_the_site_no_longer_has_is_410(
    app: Flask, client: FlaskClient
) -> None:
    code = take_quiz(client, SETTLED)
    with app.app_context():
        db.session.scalars(select(Submission)).one().instrument_version = "0.9.0"
        db.session.commit()
    for path in PATHS:
        gone = client.get(path.format(code))
        assert gone.status_code == 410 and "Your answers are kept" in gone.get_data(as_text=True)


def test_the_privacy_page_says_what_the_downloads_hold(client: FlaskClient) -> None:
    text = " ".join(markup.unescape(client.get("/privacy").get_data(as_text=True)).split())
    assert '<h2 id="my-data">Taking your data with you</h2>' in text
    for said in (
        "your receipt code is enough",
        "Nothing is kept about a download",
        "JSON",
        "FHIR R4",
        "QuestionnaireResponse",
        "names no person",
        "Neither file holds your receipt code or anything about anyone else",
    ):
        assert said in text, said
