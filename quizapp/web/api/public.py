"""The visitor's operations: the questionnaires, sending answers, and reading, completing or
deleting one's own result by its receipt code (sent in the ``Receipt-Code`` header, so that it
is in no URL, no access log and no browser history).

Answers go through the web quiz's own submission path, so the limits, the analysis stored once,
the follow-up and the report job are the same; a result is read back as it is stored, in the
portable JSON of "download my data".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import NotFound

from ...pipeline.portable import portable_data
from ...scoring.instrument import Instrument
from ...storage import receipts, submissions
from .. import get_instrument, pipeline
from ..extensions import db
from ..forms import issue_token, read_token
from ..my_data import stored_result
from ..quiz import commit_submission
from ..ratelimits import limited
from ..results import finish_follow_up
from . import bp, json_body, spec
from .problems import ApiError

RECEIPT_LOOKUPS = ("GET", "HEAD", "POST", "DELETE")


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


def _summary(i: Instrument) -> dict[str, Any]:
    licence = i.licence
    return {
        "id": i.id, "version": i.version, "title": i.title, "description": i.description,
        "language": i.language, "minutes": i.minutes, "statements": len(i.items),
        "licence": {"name": licence.name, "holder": licence.holder,
                    "permissions": list(licence.permissions), "url": licence.url,
                    "notes": licence.notes},
    }  # fmt: skip


@bp.get("/instruments")
def list_instruments() -> Response:
    return jsonify({"items": [_summary(i) for i in pipeline().bank.values()]})


@bp.get("/instruments/<instrument_id>")
def instrument(instrument_id: str) -> Response:
    i = get_instrument(instrument_id)
    scale = i.response_scale
    described = _summary(i)
    del described["statements"]
    return jsonify(described | {
        "instructions": i.instructions,
        "response_scale": {"min": scale.min, "max": scale.max, "choices": [
            {"value": v, "label": t} for v, t in zip(scale.values, scale.labels, strict=True)]},
        "scales": [{"id": s.id, "label": s.label, "description": s.description,
                    "statements": list(s.item_ids)} for s in i.scales.values()],
        "items": [{"id": item.id, "scale": item.scale, "reverse_worded": item.reverse,
                   "text": item.text} for item in i.items],
        "start_token": issue_token(i),
    })  # fmt: skip


def _result(code: str) -> dict[str, Any]:
    """The stored result of a receipt code as portable JSON (404; 410 for an old version)."""
    submission, analysis = stored_result(code)
    return portable_data(pipeline(), submission, analysis)


@bp.post("/results")
@limited("submit")
def submit() -> tuple[Response, int]:
    body = json_body("Submission")
    i = get_instrument(body["instrument_id"])
    token = read_token(body["start_token"])
    if token is None or token.instrument != i.id:
        raise ApiError(400, "This start_token was not issued for this questionnaire: fetch the "
                            "questionnaire again and send its start_token.")  # fmt: skip
    if token.version != i.version:
        raise ApiError(
            409,
            "The questionnaire was updated since its start_token was issued; "
            "nothing was stored. Fetch it again and answer the new version.",
        )
    answers = {item_id: int(value) for item_id, value in body["answers"].items()}
    nonce, started_at = token.nonce, datetime.fromtimestamp(token.started, UTC)
    stored = commit_submission(
        i, answers, started_at,
        lambda finished_at, receipt, linked, follow_up: submissions.store_submission(
            db.session, i, answers, started_at=started_at, finished_at=finished_at,
            nonce=nonce, receipt=receipt, linked=linked, follow_up=follow_up,
        ),
        nonce, already="Answers with this start_token were stored already; the first "
                       "answer holds their receipt code.",
    )  # fmt: skip
    if stored is None:
        raise ApiError(
            503,
            "The answers could not be stored just now; nothing was kept. "
            "Send them again in a moment.",
            headers={"Retry-After": "5"},
        )
    pending = stored.submission.follow_up is not None
    return jsonify({"receipt_code": stored.receipt, "follow_up_pending": pending,
                    "result": _result(stored.receipt)}), 201  # fmt: skip


def receipt_header() -> str:
    code = request.headers.get("Receipt-Code", "").strip()
    if not code:
        raise ApiError(400, "Send the receipt code in the Receipt-Code header.")
    return code


@bp.get("/result")
@limited("lookup", misses="lookup-miss", methods=RECEIPT_LOOKUPS)
def result() -> Response:
    response = jsonify(_result(receipt_header()))
    return response


@bp.delete("/result")
@limited("lookup", misses="lookup-miss", methods=RECEIPT_LOOKUPS)
def delete_result() -> tuple[str, int]:
    if not submissions.delete_submission(db.session, receipt_header()):
        raise NotFound
    db.session.commit()
    db.wipe_deleted()
    return "", 204


@bp.post("/result/follow-up")
@limited("lookup", misses="lookup-miss", methods=RECEIPT_LOOKUPS)
def follow_up() -> Response:
    """As the web page's follow-up: answers to exactly the statements offered, or a skip."""
    code = receipt_header()
    submission = submissions.find_submission(db.session, code)
    if submission is None:
        raise NotFound
    body = json_body("FollowUpAnswers")
    waiting = submission.follow_up
    if waiting is None or waiting.get("answers") is not None:
        raise ApiError(409, "This result has no follow-up statements waiting for an answer.")
    asked: list[str] = list(waiting["asked"])
    known = pipeline().follow_up_items(submission.instrument_id)
    if any(item_id not in known for item_id in asked):
        raise ApiError(410, "This site no longer has the follow-up statements of this result.")
    answers: dict[str, int] = {}
    if "answers" in body:
        answers = {str(k): int(v) for k, v in body["answers"].items()}
        if set(answers) != set(asked):
            raise ApiError(
                422,
                "Answer exactly the statements in result.follow_up.",
                errors=[{"path": "/answers", "message": f"expected {sorted(asked)}"}],
            )
        bank = pipeline().bank[pipeline().follow_ups[submission.instrument_id].bank]
        if any(str(v) not in bank.response_scale.value_texts for v in answers.values()):
            raise ApiError(422, errors=[{"path": "/answers", "message": "not a choice"}])
    finish_follow_up(submission, receipts.normalise(code) or code, asked, answers)
    return jsonify(_result(code))
