"""Client data out of the therapist area: the answer-level view, the therapist PDF, CSV of
scores and FHIR R4 JSON. Each is written to the audit log before it is sent."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from flask import Flask, abort, current_app, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import clinic, fhir
from ..analysis import Analysis, OutdatedInstrument, analyse
from ..extensions import db
from ..report_jobs import PAGE_SIZES, build_pdf, report_data_for
from ..scoring.engine import score
from ..tables import Client, Submission, aware
from . import instruments, scoring_instrument
from .auth import therapist
from .therapist import bp, own_client

SCALES = ("anxiety", "avoidance")


def app() -> Flask:
    real: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return real


def _analysis(client_id: int, submission_id: int) -> tuple[Client, Submission, Analysis]:
    found = clinic.get_administration(db.session, therapist().id, client_id, submission_id)
    if found is None:
        abort(404)
    client, submission = found
    try:
        analysis = analyse(
            app(),
            submission.instrument_id,
            submission.instrument_version,
            submission.answers,
            started_at=submission.started_at,
            finished_at=submission.finished_at,
        )
    except OutdatedInstrument:
        abort(
            410,
            "This result was made with a questionnaire version this site no longer "
            "scores; its answers are still in the CSV and FHIR exports.",
        )
    return client, submission, analysis


@bp.get("/clients/<int:client_id>/results/<int:submission_id>")
def result(client_id: int, submission_id: int) -> str:
    client, submission, analysis = _analysis(client_id, submission_id)
    data = report_data_for(
        app(),
        analysis,
        receipt=None,
        kind="therapist",
    )
    clinic.audit(
        db.session, therapist().id, "view answers", client_id=client.id, submission_id=submission.id
    )
    return render_template("therapist/result.html", client=client, submission=submission, r=data)


@bp.get("/clients/<int:client_id>/results/<int:submission_id>/report.pdf")
def report(client_id: int, submission_id: int) -> Response:
    client, submission, analysis = _analysis(client_id, submission_id)
    size = {"a4": "A4", "letter": "Letter"}.get(request.args.get("size", "a4").lower())
    if size not in PAGE_SIZES:
        abort(400, "The page size must be A4 or Letter.")
    pdf = build_pdf(
        app(),
        analysis,
        receipt=None,
        kind="therapist",
        page_size=size,
    )
    clinic.audit(
        db.session,
        therapist().id,
        "download therapist report",
        client_id=client.id,
        submission_id=submission.id,
    )
    name = f"secure-base-{submission.finished_at:%Y-%m-%d}-result-{submission.id}.pdf"
    return _download(pdf, "application/pdf", name)


def _download(body: bytes | str | Iterable[str], mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _rows(clients: list[tuple[int, str]]) -> Iterator[tuple[int, str, Submission]]:
    """Every administration of these (client id, label) pairs, client by client, oldest first."""
    ids = dict(clients)
    for start in range(0, len(clients), 500):
        chunk = [cid for cid, _ in clients[start : start + 500]]
        for s in db.session.scalars(
            select(Submission)
            .where(Submission.client_id.in_(chunk))
            .order_by(Submission.client_id, Submission.finished_at)
        ):
            assert s.client_id is not None
            yield s.client_id, ids[s.client_id], s


def _safe(text: str) -> str:
    """Keep a spreadsheet from reading a label as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(clients: list[tuple[int, str]]) -> str:
    header = [
        "client_id",
        "client_label",
        "result_id",
        "finished_at",
        "instrument",
        "instrument_version",
        "answered",
    ]
    for scale in SCALES:
        header += [
            scale,
            f"{scale}_sem",
            f"{scale}_band_low",
            f"{scale}_band_high",
            f"{scale}_percentile",
        ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for client_id, label, s in _rows(clients):
        instrument = scoring_instrument(s.instrument_id, s.instrument_version)
        row: list[object] = [
            client_id,
            _safe(label),
            s.id,
            aware(s.finished_at).isoformat(),
            s.instrument_id,
            s.instrument_version,
            len(s.answers),
        ]
        scales = score(instrument, s.answers).scales if instrument else {}
        for scale in SCALES:
            sc = scales.get(scale)
            if sc is None or sc.score is None:
                row += ["", "", "", "", ""]
                continue
            band = sc.band or ("", "")
            row += [
                f"{sc.score:.3f}",
                "" if sc.sem is None else f"{sc.sem:.3f}",
                *(b if b == "" else f"{b:.3f}" for b in band),
                "" if sc.percentile is None else f"{sc.percentile:.1f}",
            ]
        writer.writerow(row)
    return out.getvalue()


def _fhir(clients: list[tuple[int, str]]) -> str:
    administrations: list[fhir.Administration] = [
        {
            "administration_id": s.id,
            "instrument_id": s.instrument_id,
            "instrument_version": s.instrument_version,
            "answers": s.answers,
            "finished_at": aware(s.finished_at),
            "client_id": client_id,
            "client_label": label,
        }
        for client_id, label, s in _rows(clients)
        if scoring_instrument(s.instrument_id, s.instrument_version)
    ]
    document = fhir.bundle(
        administrations,
        instruments=instruments(),
        base_url=current_app.config["BASE_URL"],
        timestamp=datetime.now(UTC),
    )
    return json.dumps(document, indent=1, ensure_ascii=False)


def _all_clients() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Client.id, Client.label)
        .where(Client.therapist_id == therapist().id)
        .order_by(Client.id)
    ).all()
    return list(rows)


@bp.get("/clients/<int:client_id>/export.csv")
def client_csv(client_id: int) -> Response:
    client = own_client(client_id)
    clinic.audit(db.session, therapist().id, "export CSV", client_id=client.id)
    return _download(
        _csv([(client.id, client.label)]), "text/csv", f"client-{client.id}-scores.csv"
    )


@bp.get("/clients/<int:client_id>/fhir.json")
def client_fhir(client_id: int) -> Response:
    client = own_client(client_id)
    clinic.audit(db.session, therapist().id, "export FHIR", client_id=client.id)
    return _download(
        _fhir([(client.id, client.label)]), "application/fhir+json", f"client-{client.id}-fhir.json"
    )


@bp.get("/export.csv")
def all_csv() -> Response:
    clinic.audit(db.session, therapist().id, "export CSV", detail="all clients")
    return _download(_csv(_all_clients()), "text/csv", "all-clients-scores.csv")


@bp.get("/fhir.json")
def all_fhir() -> Response:
    clinic.audit(db.session, therapist().id, "export FHIR", detail="all clients")
    return _download(_fhir(_all_clients()), "application/fhir+json", "all-clients-fhir.json")
