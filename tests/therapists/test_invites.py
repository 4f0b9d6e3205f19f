"""The invite workflow end to end: consent (and its versioned text), save and resume, what the
client sees, invite states, sharing an earlier result, deleting a client, the audit trail, the
dashboard, the CSV export and change over time."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from typing import Any
from urllib.parse import urljoin

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from quizapp.scoring.engine import score
from quizapp.storage import receipts
from quizapp.storage.tables import AuditEntry, Client, Invite, RenderedReport, Submission, utcnow
from quizapp.storage.tables import Therapist as TherapistRow
from quizapp.therapists import clients
from quizapp.therapists.invites import load_consent
from quizapp.web.extensions import db

from ..conftest import REPO, hidden_fields, render_queued
from .journey import (
    Therapist,
    add_client,
    administer,
    answer,
    answers_for,
    consent,
    csrf,
    invite,
    post,
)

CONSENT_VERSION = "2026-11-24.1"
# sha256 of the shared / not_shared / terms lists (see consent_fingerprint) per consent version.
CONSENT_FINGERPRINTS = {
    CONSENT_VERSION: "e3c069da857f1c4fa475bac56d087bf89212b6e01d1fb625d93d2cc70a0c6114",
}
RECEIPT = re.compile(r"[0-9A-Z]{4}(-?[0-9A-Z]{4}){6}")


# ---- helpers -------------------------------------------------------------------------------
def strs(answers: dict[str, int]) -> dict[str, str]:
    return {key: str(value) for key, value in answers.items()}


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    """Rows of ``model`` matching ``where``, detached so they can be read after the request."""
    with app.app_context():
        found = list(db.session.scalars(select(model).where(*where).order_by(model.id)))
        for row in found:
            db.session.expunge(row)
        return found


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def the_invite(app: Flask, client_id: int) -> Invite:
    """The client's latest invite."""
    return rows(app, Invite, Invite.client_id == client_id)[-1]


def consented(app: Flask, t: Therapist, label: str, sees: str = "results") -> tuple[int, str, Any]:
    """A new client with an invite the client (a fresh browser) has agreed to."""
    client_id = add_client(t, label)
    path = invite(t, client_id, client_sees=sees)
    web = app.test_client()
    assert consent(web, path).status_code == 303
    return client_id, path, web


def checked(page: str) -> dict[str, int]:
    """The radio buttons checked on a quiz page, by statement."""
    found = re.findall(r'name="(\w+)" value="(\d)"\s+id="[^"]*" checked', page)
    return {name: int(value) for name, value in found}


def anonymous_result(app: Flask) -> tuple[FlaskClient, str]:
    """Take the quick questionnaire without an account; the browser and its receipt code."""
    web = app.test_client()
    fields = hidden_fields(web.get("/quiz/quick").get_data(as_text=True))
    response = web.post("/quiz/quick", data={**fields, **strs(answers_for("quick", 4, 3))})
    assert response.status_code == 303
    return web, response.headers["Location"].rsplit("/", 1)[1]


def delete_client(t: Therapist, client_id: int, confirm: str) -> TestResponse:
    page = f"/therapist/clients/{client_id}"
    return post(t.web, f"{page}/delete", {"confirm": confirm}, form_at=page)


def pdf_text(data: bytes) -> str:
    """The text of a PDF with runs of whitespace (line breaks) made single spaces."""
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def section(page: str, start: str, end: str = "</section>") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


# ---- consent -------------------------------------------------------------------------------
def consent_fingerprint(text: dict[str, Any]) -> str:
    lists = {key: text[key] for key in ("shared", "not_shared", "terms")}
    return hashlib.sha256(
        json.dumps(lists, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()


def test_consent_text_matches_the_fingerprint_recorded_for_its_version() -> None:
    text = load_consent(str(REPO / "content" / "consent.toml"))
    assert text["version"] in CONSENT_FINGERPRINTS, "a new consent version: record its fingerprint"
    assert consent_fingerprint(text) == CONSENT_FINGERPRINTS[text["version"]], (
        "the consent text changed: give it a new version (clients consented to the old one)"
    )


def test_invite_page_names_therapist_and_what_is_shared(app: Flask, therapist: Therapist) -> None:
    path = invite(therapist, add_client(therapist, "C-1"))
    page = html.unescape(app.test_client().get(path).get_data(as_text=True))
    assert "Dr Ana Ruiz invites you" in page
    text = app.extensions["consent"]
    for line in text["shared"] + text["not_shared"] + text["terms"]:
        assert line in page
    assert f"Consent text version {CONSENT_VERSION}" in page


def test_answering_before_consent_redirects_to_consent(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-1")
    path = invite(therapist, client_id)
    web = app.test_client()
    assert web.get(f"{path}/answers").headers["Location"] == path
    data = strs(answers_for("quick", 3, 3))
    response = post(web, f"{path}/answers", data, form_at=path)
    assert (response.status_code, response.headers["Location"]) == (302, path)
    assert count(app, Submission) == 0
    assert the_invite(app, client_id).consented_at is None


def test_consent_needs_the_box_and_stores_its_version(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-1")
    path = invite(therapist, client_id)
    web = app.test_client()
    assert post(web, path, {}).status_code == 422
    assert the_invite(app, client_id).consented_at is None
    response = consent(web, path)
    assert response.headers["Location"] == f"{path}/answers"
    stored = the_invite(app, client_id)
    assert stored.consented_at is not None and stored.consent_version == CONSENT_VERSION


# ---- save and resume -----------------------------------------------------------------------
def test_saved_answers_are_filled_in_again_and_finishing_uses_all_and_clears_the_draft(
    app: Flask, therapist: Therapist
) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    full = answers_for("quick", 4, 2)
    part = dict(list(full.items())[:5])
    response = answer(web, path, part, save=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "saved" in page and "5 of 12" in page
    assert the_invite(app, client_id).draft == part
    page = web.get(f"{path}/answers").get_data(as_text=True)
    assert checked(page) == part and "the 5 answers you saved" in page
    assert answer(web, path, full).status_code == 303
    [submission] = rows(app, Submission, Submission.client_id == client_id)
    assert submission.answers == full
    finished = the_invite(app, client_id)
    assert finished.draft is None and finished.submission_id == submission.id


def test_save_with_invalid_values_is_400_and_keeps_draft(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    part = {"q01": 2, "q02": 4}
    assert answer(web, path, part, save=True).status_code == 200
    for bad in ({"q03": "9"}, {"q03": "x"}, {"q03": "0"}, {"nope": "3"}):
        response = post(web, f"{path}/answers", {**strs(part), **bad, "save": "1"})
        assert response.status_code == 400, bad
        assert the_invite(app, client_id).draft == part


# ---- what the client sees ------------------------------------------------------------------
def test_results_client_is_sent_to_their_result_page(app: Flask, therapist: Therapist) -> None:
    _, path, web = consented(app, therapist, "C-1", sees="results")
    response = answer(web, path, answers_for("quick", 5, 1))
    assert response.status_code == 303
    assert re.fullmatch(r"/r/[0-9A-Z]{28}", response.headers["Location"])
    assert web.get(response.headers["Location"]).status_code == 200


def test_thanks_client_gets_no_receipt_code_or_scores(app: Flask, therapist: Therapist) -> None:
    _, path, web = consented(app, therapist, "C-1", sees="thanks")
    response = answer(web, path, answers_for("quick", 5, 1))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Thank you" in page and "Dr Ana Ruiz" in page
    assert not RECEIPT.search(page) and "/r/" not in page
    assert "5.00" not in page and "1.00" not in page and "percentile" not in page.lower()


# ---- invite states -------------------------------------------------------------------------
def test_revoked_invite_is_410_and_its_draft_removed(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    assert answer(web, path, {"q01": 3}, save=True).status_code == 200
    fields = csrf(web, f"{path}/answers")
    page = f"/therapist/clients/{client_id}"
    revoke = f"{page}/invites/{the_invite(app, client_id).id}/revoke"
    assert post(therapist.web, revoke, {}, form_at=page).status_code == 303
    for response in (
        web.get(path),
        web.get(f"{path}/answers"),
        web.post(f"{path}/answers", data={**fields, **strs(answers_for("quick", 3, 3))}),
        web.post(f"{path}/share", data={**fields, "agree": "y", "receipt": receipts.new_code()}),
    ):
        assert response.status_code == 410
        assert "withdrawn this invitation" in html.unescape(response.get_data(as_text=True))
    gone = the_invite(app, client_id)
    assert gone.revoked_at is not None and gone.draft is None
    assert count(app, Submission) == 0


def test_expired_invite_is_410_and_unknown_token_is_404(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    with app.app_context():
        db.session.get_one(Invite, the_invite(app, client_id).id).expires_at = utcnow()
        db.session.commit()
    for url in (path, f"{path}/answers"):
        response = web.get(url)
        assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    real = path.rsplit("/", 1)[1]
    near = real[:-1] + ("y" if real.endswith("x") else "x")  # one character off, never itself
    for token in ("A" * 32, "short", near):
        assert web.get(f"/invite/{token}").status_code == 404


def test_completed_invite_says_thanks_and_stores_once(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    form = {**csrf(web, f"{path}/answers"), **strs(answers_for("quick", 3, 3))}
    assert web.post(f"{path}/answers", data=form).status_code == 303
    page = web.get(path)
    assert page.status_code == 200 and "Thank you" in page.get_data(as_text=True)
    assert web.post(f"{path}/answers", data=form).status_code in (302, 303, 409)  # a replay
    assert count(app, Submission, Submission.client_id == client_id) == 1


def test_replaying_the_sent_form_is_refused_with_409(app: Flask, therapist: Therapist) -> None:
    _, path, web = consented(app, therapist, "C-1")
    form = {**csrf(web, f"{path}/answers"), **strs(answers_for("quick", 3, 3))}
    assert web.post(f"{path}/answers", data=form).status_code == 303
    assert web.post(f"{path}/answers", data=form).status_code == 409


def test_form_replayed_into_another_invite_is_409(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    form = {**csrf(web, f"{path}/answers"), **strs(answers_for("quick", 3, 3))}
    assert web.post(f"{path}/answers", data=form).status_code == 303
    second = invite(therapist, client_id)
    assert consent(web, second).status_code == 303
    assert web.post(f"{second}/answers", data=form).status_code == 409
    assert count(app, Submission) == 1
    assert the_invite(app, client_id).completed_at is None  # the second is still open


# ---- sharing an earlier anonymous result ---------------------------------------------------
def test_shared_result_is_a_copy_deleted_with_client(app: Flask, therapist: Therapist) -> None:
    web, code = anonymous_result(app)
    client_id = add_client(therapist, "C-share")
    path = invite(therapist, client_id)
    data = {"agree": "y", "receipt": receipts.display(code)}
    response = post(web, f"{path}/share", data, form_at=path)
    assert response.status_code == 200 and "now shared with Dr Ana Ruiz" in response.text
    [original] = rows(app, Submission, Submission.client_id.is_(None))
    [copy] = rows(app, Submission, Submission.client_id == client_id)
    assert copy.id != original.id and copy.receipt_hash != original.receipt_hash
    assert (copy.answers, copy.finished_at) == (original.answers, original.finished_at)
    shared = the_invite(app, client_id)
    assert shared.shared_receipt and shared.consent_version == CONSENT_VERSION
    assert web.get(f"/r/{code}").status_code == 200
    assert delete_client(therapist, client_id, "C-share").status_code == 303
    assert [s.id for s in rows(app, Submission)] == [original.id]
    assert web.get(f"/r/{code}").status_code == 200


def test_bad_code_or_no_agreement_shares_nothing(app: Flask, therapist: Therapist) -> None:
    web, code = anonymous_result(app)
    elsewhere = add_client(therapist, "C-other")
    response, _ = administer(therapist, elsewhere, answers_for("quick", 2, 2))
    client_code = response.headers["Location"].rsplit("/", 1)[1]  # a result already a client's
    client_id = add_client(therapist, "C-share")
    path = invite(therapist, client_id)
    for data in (
        {"agree": "y", "receipt": receipts.new_code()},
        {"agree": "y", "receipt": "not a code"},
        {"receipt": code},
        {"agree": "y", "receipt": client_code},
    ):
        response = post(web, f"{path}/share", data, form_at=path)
        assert (response.status_code, response.headers["Location"]) == (303, path), data
    assert count(app, Submission, Submission.client_id == client_id) == 0
    untouched = the_invite(app, client_id)
    assert untouched.completed_at is None and untouched.consented_at is None


# ---- deleting a client ---------------------------------------------------------------------
def test_deleting_a_client_needs_the_exact_label_and_leaves_only_an_audit_entry(
    app: Flask, therapist: Therapist
) -> None:
    label = "C-Delete-Me"
    client_id = add_client(therapist, label, "a private note")
    response, submission_id = administer(therapist, client_id, answers_for("quick", 4, 2))
    web = app.test_client()
    assert web.get(f"{response.headers['Location']}/report.pdf").status_code == 202
    render_queued(app)
    assert web.get(f"{response.headers['Location']}/report.pdf").status_code == 200
    assert count(app, RenderedReport, RenderedReport.submission_id == submission_id) == 1
    invite(therapist, client_id)  # and one still open
    for wrong in ("c-delete-me", "C-Delete", "C-Delete-Me-2", ""):
        response = delete_client(therapist, client_id, wrong)
        assert response.headers["Location"] == f"/therapist/clients/{client_id}", wrong
        assert count(app, Client, Client.id == client_id) == 1
    response = delete_client(therapist, client_id, label)
    assert (response.status_code, response.headers["Location"]) == (303, "/therapist/")
    assert count(app, Client, Client.id == client_id) == 0
    assert count(app, Invite, Invite.client_id == client_id) == 0
    assert count(app, Submission, Submission.client_id == client_id) == 0
    assert count(app, Submission, Submission.id == submission_id) == 0
    assert count(app, RenderedReport, RenderedReport.submission_id == submission_id) == 0
    entries = rows(app, AuditEntry, AuditEntry.client_id == client_id)
    assert "delete" in entries[-1].action
    assert (entries[-1].submission_id, entries[-1].detail) == (None, "")
    assert all(label not in e.detail for e in entries)
    assert therapist.web.get(f"/therapist/clients/{client_id}").status_code == 404
    page = therapist.web.get("/therapist/audit").get_data(as_text=True)
    assert label not in page and f"a deleted client (no. {client_id})" in page


# ---- audit ---------------------------------------------------------------------------------
def test_views_and_exports_each_write_an_audit_entry_the_owner_sees(
    app: Flask, therapist: Therapist, other: Therapist
) -> None:
    client_id = add_client(therapist, "C-audit")
    _, sid = administer(therapist, client_id, answers_for("quick", 4, 2))
    base = f"/therapist/clients/{client_id}"
    steps = [
        (base, "view client", None),
        (f"{base}/results/{sid}", "view answers", sid),
        (f"{base}/results/{sid}/report.pdf", "download therapist report", sid),
        (f"{base}/export.csv", "export CSV", None),
        (f"{base}/fhir.json", "export FHIR", None),
    ]
    for url, action, submission_id in steps:
        last = max(e.id for e in rows(app, AuditEntry))
        if url.endswith(".pdf"):  # queued and waited for: nothing sent, nothing logged yet
            assert therapist.web.get(url).status_code == 202
            assert rows(app, AuditEntry, AuditEntry.id > last) == []
            render_queued(app)
        response = therapist.web.get(url)
        assert response.status_code == 200, url
        [entry] = rows(app, AuditEntry, AuditEntry.id > last)
        got = (entry.action, entry.client_id, entry.submission_id)
        assert got == (action, client_id, submission_id)
        if url.endswith(".pdf"):
            assert response.data.startswith(b"%PDF")
            first = app.extensions["pipeline"].bank["quick"].items[0].text
            assert " ".join(first.split()) in pdf_text(response.data)
    page = therapist.web.get("/therapist/audit").get_data(as_text=True)
    for _, action, _ in steps:
        assert f"<td>{action}</td>" in page
    # Issue 14, finding 9: the log named the client "1"; now by label, linked to their page.
    assert f'<a href="/therapist/clients/{client_id}">C-audit</a>' in page
    assert "Nothing yet." in other.web.get("/therapist/audit").get_data(as_text=True)


# ---- dashboard -----------------------------------------------------------------------------
def make_clients(app: Flask, email: str, labels: list[str]) -> None:
    with app.app_context():
        therapist_id = db.session.scalars(
            select(TherapistRow.id).where(TherapistRow.email == email)
        ).one()
        for label in labels:
            clients.create_client(db.session, therapist_id, label, None)
        db.session.commit()


def listed(t: Therapist, **query: str) -> tuple[list[str], str]:
    """The client labels on a dashboard page, and the page."""
    page = t.web.get("/therapist/", query_string=query).get_data(as_text=True)
    table = section(page, 'id="clients-h"')
    found = re.findall(r'<td><a href="clients/\d+">([^<]*)</a></td>', table)
    return [html.unescape(label) for label in found], page


SPECIAL = ["50%_off", "5000x", "a_b", "AxB", "MiXeD Case"]


def test_dashboard_shows_25_clients_a_page(app: Flask, therapist: Therapist) -> None:
    labels = [f"C-{n:03d}" for n in range(1, 56)] + SPECIAL
    make_clients(app, therapist.email, labels)
    first, page = listed(therapist)
    assert len(first) == 25 and 'rel="next"' in page and "All clients (60)" in page
    second, _ = listed(therapist, page="2")
    third, page = listed(therapist, page="3")
    assert len(third) == 10 and 'rel="next"' not in page and 'rel="prev"' in page
    assert sorted(first + second + third) == sorted(labels)


def test_search_finds_labels_ignoring_case_literally(app: Flask, therapist: Therapist) -> None:
    make_clients(app, therapist.email, [f"C-{n:03d}" for n in range(1, 13)] + SPECIAL + ["Émile B"])
    expected = {
        "mixed": {"MiXeD Case"},
        "Émile": {"Émile B"},  # typed as written, a label with a letter beyond ASCII is found
        "mile b": {"Émile B"},
        "50%": {"50%_off"},
        "_": {"50%_off", "a_b"},
        "A_B": {"a_b"},
        "c-00": {f"C-00{n}" for n in range(1, 10)},
        "%": {"50%_off"},
    }
    for query, labels in expected.items():
        assert set(listed(therapist, q=query)[0]) == labels, query
    found, page = listed(therapist, q="zzz")
    assert found == [] and "No client label contains" in page


def test_dashboard_lists_pending_and_completed(app: Flask, therapist: Therapist) -> None:
    invite(therapist, add_client(therapist, "P-waiting"))
    done = add_client(therapist, "D-done")
    _, sid = administer(therapist, done, answers_for("quick", 3, 3))
    page = therapist.web.get("/therapist/").get_data(as_text=True)
    pending = section(page, 'id="pending-h"')
    assert "P-waiting" in pending and "not opened yet" in pending and "D-done" not in pending
    completed = section(page, 'id="done-h"')
    assert "D-done" in completed and "P-waiting" not in completed
    # every row's link, read as a browser reads it from this page, leads to that row's page
    links = {urljoin("/therapist/", href) for href in re.findall(r'<td><a href="([^"]+)"', page)}
    assert f"/therapist/clients/{done}/results/{sid}" in links
    assert f"/therapist/clients/{done}" in links
    for link in links:
        assert therapist.web.get(link).status_code == 200, link


# ---- CSV and change over time --------------------------------------------------------------
def test_csv_rows_carry_the_scoring_engines_scores(app: Flask, therapist: Therapist) -> None:
    plain, formula = add_client(therapist, "C-csv"), add_client(therapist, "=1+2")
    for client_id, levels in ((plain, (5, 1)), (plain, (2, 4)), (formula, (3, 3))):
        administer(therapist, client_id, answers_for("quick", *levels))
    text = therapist.web.get("/therapist/export.csv").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    submissions = {s.id: s for s in rows(app, Submission)}
    assert sorted(int(r["result_id"]) for r in table) == sorted(submissions)
    instrument = app.extensions["pipeline"].bank["quick"]
    for row in table:
        report = score(instrument, submissions[int(row["result_id"])].answers)
        for scale in ("anxiety", "avoidance"):
            expected = report.scales[scale]
            assert float(row[scale]) == pytest.approx(expected.score, abs=5e-4)
            assert float(row[f"{scale}_sem"]) == pytest.approx(expected.sem, abs=5e-4)
            assert float(row[f"{scale}_percentile"]) == pytest.approx(expected.percentile, abs=0.05)
    labels = {r["client_label"] for r in table}
    assert labels == {"C-csv", "'=1+2"}
    single = therapist.web.get(f"/therapist/clients/{formula}/export.csv").get_data(as_text=True)
    assert [r["client_label"] for r in csv.DictReader(io.StringIO(single))] == ["'=1+2"]


def test_client_page_shows_trend_and_reliable_change(app: Flask, therapist: Therapist) -> None:
    client_id = add_client(therapist, "C-change")
    administer(therapist, client_id, answers_for("quick", 5, 1))
    administer(therapist, client_id, answers_for("quick", 2, 1))
    page = html.unescape(therapist.web.get(f"/therapist/clients/{client_id}").text)
    assert "<svg" in section(page, 'id="trend-h"') and 'class="trend"' in page
    table = section(page, 'class="rci"', "</table>")
    by_scale = {
        label: cells
        for cells in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
        for label in re.findall(r"<td>(Attachment \w+)</td>", cells)
    }
    assert "Yes, decrease" in by_scale["Attachment anxiety"]
    assert "-3.00 (5.00 → 2.00)" in by_scale["Attachment anxiety"]
    assert "No (needs" in by_scale["Attachment avoidance"]


def test_an_expired_invitation_form_keeps_every_answer(app: Flask, therapist: Therapist) -> None:
    client_id, path, web = consented(app, therapist, "C-1")
    answers = strs(answers_for("quick", 3, 3))
    form = {**csrf(web, f"{path}/answers"), **answers, "csrf_token": "expired"}
    response = web.post(f"{path}/answers", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "its form expired" in page
    assert page.count("checked") == len(answers)
    again = {**hidden_fields(page), **answers}
    assert web.post(f"{path}/answers", data=again).status_code == 303
    assert count(app, Submission, Submission.client_id == client_id) == 1
