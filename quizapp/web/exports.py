"""Client data out of the therapist area: the answer-level view, the therapist PDF, CSV of
scores and FHIR R4 JSON. Each is built first; its audit line is committed just before it is
sent, so what was sent is logged and what failed is not."""

from __future__ import annotations

import re

from flask import abort, render_template, request, url_for
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from ..pipeline.pipeline import Analysis, OutdatedInstrument
from ..pipeline.stored import stored_analysis, stored_reports
from ..reports.options import page_size
from ..scoring.engine import ScoreReport
from ..storage.tables import Client, Submission
from ..therapists import audit, clients, exports
from . import pipeline
from .auth import therapist
from .extensions import db
from .reports import pdf_or_wait
from .therapist import bp, own_client

GONE = ("This result was made with a questionnaire version this site no longer scores; its "
        "answers are still in the CSV and FHIR exports.")  # fmt: skip


def _administration(client_id: int, submission_id: int) -> tuple[Client, Submission]:
    """The therapist's own client's result (404 otherwise; 410 if its version is gone)."""
    found = clients.get_administration(db.session, therapist().id, client_id, submission_id)
    if found is None:
        abort(404)
    if pipeline().instrument(found[1].instrument_id, found[1].instrument_version) is None:
        abort(410, GONE)
    return found


def _analysis(client_id: int, submission_id: int) -> tuple[Client, Submission, Analysis]:
    client, submission = _administration(client_id, submission_id)
    try:
        analysis = stored_analysis(pipeline(), db.session, submission)
    except OutdatedInstrument:
        abort(410, GONE)
    return client, submission, analysis


def _record(action: str, client: Client | None = None, submission: Submission | None = None,
            detail: str = "") -> None:  # fmt: skip
    """Audit what is about to be sent and commit: the last step before it goes out."""
    audit.audit(db.session, therapist().id, action, client_id=client.id if client else None,
                submission_id=submission.id if submission else None, detail=detail)  # fmt: skip
    db.session.commit()


@bp.get("/clients/<id:client_id>/results/<id:submission_id>")
def result(client_id: int, submission_id: int) -> str:
    client, submission, analysis = _analysis(client_id, submission_id)
    data = pipeline().report_data(analysis, receipt=None, kind="therapist")
    page = render_template("therapist/result.html", client=client, submission=submission, r=data)
    _record("view answers", client, submission)
    return page


@bp.get("/clients/<id:client_id>/results/<id:submission_id>/report.pdf")
def report(client_id: int, submission_id: int) -> Response | tuple[str, int, Headers]:
    client, submission = _administration(client_id, submission_id)
    size = page_size(request.args.get("size", "a4"))
    if size is None:
        abort(400, "The page size must be A4 or Letter.")
    name = f"secure-base-{file_label(client.label)}-{submission.finished_at:%Y-%m-%d}.pdf"
    sent = pdf_or_wait(submission.id, kind="therapist", size=size, receipt=None, filename=name,
                       back=url_for("therapist.result", client_id=client.id,
                                    submission_id=submission.id))  # fmt: skip
    if isinstance(sent, Response):  # the PDF itself, not the page that waits for it
        _record("download therapist report", client, submission)
    return sent


def file_label(label: str) -> str:
    """The client's label as part of a file name: letters, digits, dots and dashes only."""
    kept = re.sub(r"[^A-Za-z0-9.]+", "-", label).strip("-.")[:40].strip("-.")
    return kept or "client"


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _reports(found: list[Submission]) -> dict[int, ScoreReport | None]:
    return stored_reports(pipeline(), db.session, found)


def _csv(chosen: list[tuple[int, str]]) -> str:
    return exports.scores_csv(db.session, chosen, _reports)


def _fhir(chosen: list[tuple[int, str]]) -> str:
    loaded = pipeline()
    return exports.fhir_json(db.session, chosen, _reports, loaded.bank, loaded.base_url)


@bp.get("/clients/<id:client_id>/export.csv")
def client_csv(client_id: int) -> Response:
    client = own_client(client_id)
    body = _csv([(client.id, client.label)])
    _record("export CSV", client)
    return _download(body, "text/csv", f"client-{client.id}-scores.csv")


@bp.get("/clients/<id:client_id>/fhir.json")
def client_fhir(client_id: int) -> Response:
    client = own_client(client_id)
    body = _fhir([(client.id, client.label)])
    _record("export FHIR", client)
    return _download(body, "application/fhir+json", f"client-{client.id}-fhir.json")


@bp.get("/export.csv")
def all_csv() -> Response:
    body = _csv(exports.all_clients(db.session, therapist().id))
    _record("export CSV", detail="all clients")
    return _download(body, "text/csv", "all-clients-scores.csv")


@bp.get("/fhir.json")
def all_fhir() -> Response:
    body = _fhir(exports.all_clients(db.session, therapist().id))
    _record("export FHIR", detail="all clients")
    return _download(body, "application/fhir+json", "all-clients-fhir.json")
