"""Suggested session approaches for the therapist report, as data (``content/therapist.toml``).

Loading checks the file against its schema and that ids are unique, and raises one
:class:`~quizapp.interpret.content.ContentError` listing every problem, as the rest of the
content does.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from ..interpret.content import ContentError
from ..scoring.problems import duplicate_ids

HINTS = ("high-avoidance", "high-anxiety", "both", "any")

_ID = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,59}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 1200}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema_version", "version", "approaches"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "version": {"type": "string", "minLength": 1},
        "cautions": {  # the validity cautions as a therapist reads them: about the client
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "text"],
                "additionalProperties": False,
                "properties": {"id": _ID, "title": _TEXT, "text": _TEXT},
            },
        },
        "approaches": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "title", "summary", "in_session", "measure", "when"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID,
                    "title": _TEXT,
                    "summary": _TEXT,
                    "in_session": {"type": "array", "minItems": 2, "maxItems": 3, "items": _TEXT},
                    "measure": _TEXT,
                    "when": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": list(HINTS)},
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Approach:
    """One suggested session approach; ``when`` says which clients it fits best."""

    id: str
    title: str
    summary: str
    in_session: tuple[str, ...]
    measure: str
    when: tuple[str, ...]


@dataclass(frozen=True)
class TherapistContent:
    version: str
    approaches: tuple[Approach, ...]
    # Caution id -> (title, text) in the third person, for the therapist report.
    cautions: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def load_therapist_content(path: str | Path) -> TherapistContent:
    """Load and check the therapist content file; one error lists every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ContentError(str(path), [f"cannot be read ({exc})"]) from exc
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]
    if not problems:
        problems = duplicate_ids("approaches", (a["id"] for a in data["approaches"]))
        problems += duplicate_ids("cautions", (c["id"] for c in data.get("cautions", [])))
    if problems:
        raise ContentError(str(path), problems)
    return TherapistContent(
        version=data["version"],
        approaches=tuple(
            Approach(a["id"], a["title"], a["summary"], tuple(a["in_session"]), a["measure"],
                     tuple(a["when"]))
            for a in data["approaches"]
        ),
        cautions={c["id"]: (c["title"], c["text"]) for c in data.get("cautions", [])},
    )  # fmt: skip
