"""The JSON Schemas (2020-12, the dialect of OpenAPI 3.1) of the API's bodies: the document's
``components.schemas``. Request bodies are checked against these same schemas, so what the
document says is what the API accepts.

The submission body is built from the loaded instrument bank: one branch per instrument,
with its own statement ids and answer range, so the document states exactly what is valid.
"""

from __future__ import annotations

from typing import Any

from ...scoring.instrument import Instrument
from ...scoring.patterns import PATTERN_LABELS
from ...storage.receipts import ALPHABET, LENGTH

Schema = dict[str, Any]

RECEIPT_PATTERN = f"^[{ALPHABET}]{{4}}(-?[{ALPHABET}]{{4}}){{{LENGTH // 4 - 1}}}$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties, all required but ``optional``."""
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [name for name in properties if name not in optional]}  # fmt: skip


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STR, INT, NUM, BOOL = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)
TIME = {"type": "string", "format": "date-time"}
STR_LIST = {"type": "array", "items": STR}
RANGE = nullable(obj({"low": NUM, "high": NUM}))
PATTERNS = {"type": "string", "enum": list(PATTERN_LABELS)}

PROBLEM = obj({
    "type": {"type": "string", "format": "uri-reference"},
    "title": STR,
    "status": {"type": "integer", "minimum": 100, "maximum": 599},
    "detail": STR,
    "errors": {"type": "array", "items": obj({"path": STR, "message": STR})},
}, optional=("errors",))  # fmt: skip

LICENCE = obj({"name": STR, "holder": STR, "permissions": STR_LIST, "url": STR, "notes": STR})
CHOICE = obj({"value": INT, "label": STR})
INSTRUMENT_SUMMARY = obj({
    "id": STR, "version": STR, "title": STR, "description": STR, "language": STR,
    "minutes": nullable(INT), "statements": INT, "licence": ref("Licence"),
})  # fmt: skip
INSTRUMENT = obj({
    "id": STR, "version": STR, "title": STR, "description": STR, "instructions": STR,
    "language": STR, "minutes": nullable(INT), "licence": ref("Licence"),
    "response_scale": obj({"min": INT, "max": INT, "choices": {"type": "array",
                                                                "items": ref("Choice")}}),
    "scales": {"type": "array", "items": obj({"id": STR, "label": STR, "description": STR,
                                              "statements": STR_LIST})},
    "items": {"type": "array", "items": obj({"id": STR, "scale": STR, "reverse_worded": BOOL,
                                             "text": STR})},
    "start_token": {"type": "string", "description": "Send it back with the answers."},
})  # fmt: skip

_FINDING = obj({
    "id": STR, "title": STR, "description": STR, "z": NUM, "mean": NUM, "rules": STR_LIST,
    "evidence": {"type": "array", "items": obj({"item_id": STR, "statement": STR,
                                                "answer": STR, "deviation": nullable(NUM)})},
})  # fmt: skip
_SAID = obj({"id": STR, "title": STR, "text": STR, "rules": STR_LIST})
RESULT = obj({
    "schema_version": {"type": "integer", "const": 1},
    "about": STR,
    "instrument": obj({"id": STR, "version": STR, "title": STR,
                       "choices": {"type": "array", "items": ref("Choice")}}),
    "taken": obj({"started_at": TIME, "finished_at": TIME}),
    "answers": {"type": "array", "items": obj({
        "item_id": STR, "scale": STR, "reverse_worded": BOOL, "statement": STR, "value": INT,
        "label": nullable(STR)})},
    "follow_up": nullable(obj({
        "instrument": nullable(obj({"id": STR, "version": STR})),
        "status": {"type": "string", "enum": ["not answered yet", "answered", "skipped"]},
        "statements": {"type": "array", "items": obj({
            "item_id": STR, "statement": nullable(STR), "value": nullable(INT),
            "label": nullable(STR)})},
    })),
    "scores": {"type": "array", "items": obj({
        "scale": STR, "label": STR, "score": nullable(NUM), "answered": INT, "n_items": INT,
        "sem": nullable(NUM), "band_90": RANGE, "percentile": nullable(NUM),
        "percentile_band_90": RANGE, "cutoff": nullable(NUM), "near_cutoff": nullable(BOOL),
        "full_form_estimate": nullable(obj({"score": NUM, "low_90": NUM, "high_90": NUM})),
    })},
    "pattern": nullable(obj({
        "closest": PATTERNS, "label": STR, "probability": NUM,
        "probabilities": {"type": "array", "items": obj({"pattern": PATTERNS, "label": STR,
                                                         "probability": NUM})},
        "near_boundary": STR_LIST,
    })),
    "interpretation": obj({
        "triggers": {"type": "array", "items": _FINDING},
        "strengths": {"type": "array", "items": _FINDING},
        "steps": {"type": "array", "items": obj({"rank": INT, "id": STR, "title": STR,
                                                 "summary": STR, "weight": NUM,
                                                 "rules": STR_LIST})},
        "advice": {"type": "array", "items": _SAID},
        "cautions": {"type": "array", "items": _SAID},
        "rules_fired": {"type": "array", "items": obj({"id": STR, "about": nullable(STR)})},
    }),
    "model_outputs": obj({
        "deviations": nullable({"type": "object", "additionalProperties": NUM}),
        "random_answering": nullable(BOOL),
    }),
    "computed_with": obj({"rules_version": STR, "model_version": nullable(STR),
                          "content_version": STR}),
})  # fmt: skip

SUBMITTED = obj({
    "receipt_code": {"type": "string", "pattern": RECEIPT_PATTERN,
                     "description": "Keep it: it is the only way to read or delete the result."},
    "follow_up_pending": {"type": "boolean", "description": "The result is near a boundary: "
                          "answer (or skip) the follow-up statements in result.follow_up."},
    "result": ref("Result"),
})  # fmt: skip


def answers_schema(instrument: Instrument, item_ids: tuple[str, ...] | None = None) -> Schema:
    """Every statement of ``instrument`` (or ``item_ids`` of it) with one of its answers."""
    scale = instrument.response_scale
    value = {"type": "integer", "minimum": scale.min, "maximum": scale.max}
    ids = item_ids if item_ids is not None else instrument.item_ids
    return obj({item_id: value for item_id in ids})


START_TOKEN = {
    "type": "string", "minLength": 1, "maxLength": 400,
    "description": "The start_token given with the questionnaire (GET /api/v1/instruments/{id}): "
                   "it times the answering, as the web form does, and makes a retry safe (a "
                   "token is used once).",
}  # fmt: skip


def submission_schema(bank: dict[str, Instrument]) -> Schema:
    """One branch per instrument: its id, a start token, and an answer to each statement."""
    return {"oneOf": [
        obj({"instrument_id": {"type": "string", "const": i.id}, "start_token": START_TOKEN,
             "answers": answers_schema(i)})
        for i in bank.values()
    ]}  # fmt: skip


FOLLOW_UP = {"oneOf": [
    obj({"answers": {"type": "object", "additionalProperties": ref("Answer"),
                     "minProperties": 1, "maxProperties": 36,
                     "description": "An answer to each statement in result.follow_up."}}),
    obj({"skip": {"type": "boolean", "const": True}}),
]}  # fmt: skip


CLIENT = obj({
    "id": INT, "label": STR, "results": INT, "last_result_at": nullable(TIME),
    "open_invitations": INT, "last_activity_at": TIME,
})  # fmt: skip
PAGE_FIELDS: dict[str, Schema] = {
    "page": {"type": "integer", "minimum": 1},
    "size": INT,
    "pages": INT,
    "total": INT,
}
CLIENT_PAGE = obj({"items": {"type": "array", "items": ref("Client")}, **PAGE_FIELDS})
CLIENT_RESULT = obj({
    "id": INT, "instrument_id": STR, "instrument_version": STR, "finished_at": TIME,
    "result": nullable(ref("Result")),
})  # fmt: skip
RESULT_PAGE = obj({"items": {"type": "array", "items": ref("ClientResult")}, **PAGE_FIELDS})
INVITATION = obj({
    "id": INT, "client_id": INT, "instrument_id": STR,
    "client_sees": {"type": "string", "enum": ["results", "thanks"]},
    "state": {"type": "string", "enum": ["open", "completed", "revoked", "expired"]},
    "created_at": TIME, "expires_at": TIME,
    "link": {"type": "string", "format": "uri",
             "description": "Shown once: give it to the client. Only its hash is stored."},
})  # fmt: skip


def invitation_request(bank: dict[str, Instrument]) -> Schema:
    return obj({
        "instrument_id": {"type": "string", "enum": list(bank)},
        "client_sees": {"type": "string", "enum": ["results", "thanks"], "default": "results"},
        "days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 14},
    }, optional=("client_sees", "days"))  # fmt: skip


def components(bank: dict[str, Instrument]) -> Schema:
    """Every named schema of the document."""
    answer = {"type": "integer", "minimum": 1, "maximum": 7}
    if bank:
        scale = next(iter(bank.values())).response_scale
        answer = {"type": "integer", "minimum": scale.min, "maximum": scale.max}
    return {
        "Problem": PROBLEM, "Licence": LICENCE, "Choice": CHOICE,
        "InstrumentSummary": INSTRUMENT_SUMMARY, "Instrument": INSTRUMENT,
        "Answer": answer,
        "Submission": submission_schema(bank), "Submitted": SUBMITTED, "Result": RESULT,
        "FollowUpAnswers": FOLLOW_UP,
        "Client": CLIENT, "ClientPage": CLIENT_PAGE, "ClientResult": CLIENT_RESULT,
        "ClientResultPage": RESULT_PAGE, "Invitation": INVITATION,
        "InvitationRequest": invitation_request(bank),
    }  # fmt: skip
