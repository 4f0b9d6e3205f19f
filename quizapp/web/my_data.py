"""A person's own result to take away (GDPR Art. 20): JSON, and FHIR R4 for health records.

Opened by the receipt code alone, like the PDF report beside it (with Art. 11(2), the code is
the identification): the same lookup limits, a 404 for a wrong or deleted code, no caching, a
file name without the code. Nothing is written about a download (no audit line, no log line),
and the access logs mask the code in the path (``quizapp.logs``, the nginx site file).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort
from werkzeug.wrappers import Response

from ..pipeline.pipeline import Analysis, OutdatedInstrument
from ..pipeline.portable import portable_data
from ..pipeline.stored import read_analysis
from ..storage import receipts, submissions
from ..storage.submissions import Answered
from ..therapists import fhir
from . import pipeline
from .extensions import db
from .ratelimits import LOOKUPS, limited

bp = Blueprint("my_data", __name__, url_prefix="/r")

GONE = ("This result was made with an earlier version of the questionnaire, which this site no "
        "longer scores. Your answers are kept until you delete them.")  # fmt: skip


def stored_result(code: str) -> tuple[Answered, Analysis]:
    """The result of a receipt code with its stored analysis (404 for none; 410 when the site
    no longer has its questionnaire version)."""
    found = submissions.find_with_analysis(db.session, code)
    if found is None:
        abort(404)
    submission, row = found
    try:
        return submission, read_analysis(pipeline(), db.session, submission, row)
    except OutdatedInstrument:
        abort(410, GONE)


def _download(document: Any, mimetype: str, filename: str) -> Response:
    body = json.dumps(document, indent=1, ensure_ascii=False)
    headers = {"Cache-Control": "no-store",
               "Content-Disposition": f'attachment; filename="{filename}"'}  # fmt: skip
    return Response(body, mimetype=mimetype, headers=headers)


def _resource_key(code: str) -> str:
    """The ids of a result's FHIR resources: the same in every download of it, and telling
    neither the code nor the database row (derived from the code's stored fingerprint)."""
    canonical = receipts.normalise(code)
    assert canonical is not None  # the result was found by it
    fingerprint = receipts.digest(canonical).hex()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:secure-base:result:{fingerprint}").hex


@bp.get("/<code>/data.json")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def json_data(code: str) -> Response:
    submission, analysis = stored_result(code)
    document = portable_data(pipeline(), submission, analysis)
    name = f"secure-base-my-data-{submission.finished_at:%Y-%m-%d}.json"
    return _download(document, "application/json", name)


@bp.get("/<code>/fhir.json")
@limited("lookup", misses="lookup-miss", methods=LOOKUPS)
def fhir_data(code: str) -> Response:
    submission, analysis = stored_result(code)
    instrument = analysis.instrument
    administration: fhir.Administration = {
        "administration_id": _resource_key(code),
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "answers": analysis.answers,
        "finished_at": submission.finished_at,
        "client_id": None,
        "client_label": "",
        "report": analysis.report,
    }
    document = fhir.bundle([administration], instruments={instrument.id: instrument},
                           base_url=pipeline().base_url, timestamp=datetime.now(UTC))  # fmt: skip
    name = f"secure-base-my-data-{submission.finished_at:%Y-%m-%d}.fhir.json"
    return _download(document, "application/fhir+json", name)
