"""Report content as data: triggers and strengths, healing steps, strategies, help advice.

Three TOML files in the content folder (``catalogue.toml``, ``steps.toml``, ``help.toml``),
each with a schema version. Loading validates all three and their cross-references and
raises one :class:`ContentError` listing every problem.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from ..scoring.problems import ProblemsError, duplicate_ids

_ID = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,59}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 1200}
_IDS = {"type": "array", "items": _ID, "uniqueItems": True}


def _table(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": {**required, **(optional or {})},
    }


def _file(**sections: Any) -> dict[str, Any]:
    return _table({"schema_version": {"const": 1}, "version": {"type": "string"}, **sections})


_ENTRY = _table(
    {"id": _ID, "title": _TEXT, "description": _TEXT, "themes": {**_IDS, "minItems": 1},
     "steps": {**_IDS, "minItems": 1}}
)  # fmt: skip
SCHEMAS = {
    "catalogue.toml": _file(
        triggers={"type": "array", "minItems": 1, "items": _ENTRY},
        strengths={"type": "array", "minItems": 1, "items": _ENTRY},
    ),
    "steps.toml": _file(
        steps={"type": "array", "minItems": 1, "items": _table({
            "id": _ID, "number": {"type": "integer", "minimum": 1}, "title": _TEXT,
            "summary": _TEXT, "why": _TEXT,
            "actions": {"type": "array", "minItems": 3, "maxItems": 3, "items": _TEXT},
            "strategies": _IDS, "themes": _IDS})},
        strategies={"type": "array", "minItems": 1,
                    "items": _table({"id": _ID, "title": _TEXT, "text": _TEXT})},
    ),
    "help.toml": _file(
        disclaimer=_TEXT,
        advice={"type": "array", "minItems": 1, "items": _table(
            {"id": _ID, "title": _TEXT, "text": _TEXT, "approaches": _IDS})},
        approaches={"type": "array", "items": _table(
            {"id": _ID, "name": _TEXT, "description": _TEXT})},
        signs={"type": "array", "items": _table({"text": _TEXT})},
        crisis=_table({"text": _TEXT}),
        cautions={"type": "array", "items": _table({"id": _ID, "title": _TEXT, "text": _TEXT})},
    ),
}  # fmt: skip


class ContentError(ProblemsError):
    """A content file is invalid; ``problems`` lists every problem found."""


@dataclass(frozen=True)
class Entry:
    """A trigger or a strength, and the item themes that evidence it."""

    id: str
    kind: str  # "trigger" or "strength"
    title: str
    description: str
    themes: tuple[str, ...]
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    id: str
    number: int
    title: str
    summary: str
    why: str
    actions: tuple[str, ...]
    strategies: tuple[str, ...]
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Text:
    """A titled block of text: a strategy, an advice block, an approach or a caution."""

    id: str
    title: str
    text: str
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Content:
    version: str
    triggers: tuple[Entry, ...]
    strengths: tuple[Entry, ...]
    steps: tuple[Step, ...]
    strategies: Mapping[str, Text]
    advice: Mapping[str, Text]
    approaches: Mapping[str, Text]
    cautions: Mapping[str, Text]
    signs: tuple[str, ...]
    disclaimer: str
    crisis: str
    # The parsed files it was built from (file name -> data), kept so that a result can be
    # shown later with the very content it was computed with (see content_from_source).
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def _cross_problems(data: Mapping[str, Any], themes: set[str] | None) -> list[str]:
    cat, steps, help_ = data["catalogue.toml"], data["steps.toml"], data["help.toml"]
    step_ids = {s["id"] for s in steps["steps"]}
    strategy_ids = {s["id"] for s in steps["strategies"]}
    approach_ids = {a["id"] for a in help_.get("approaches", [])}
    problems = duplicate_ids("steps", (s["id"] for s in steps["steps"]))
    problems += duplicate_ids("strategies", (s["id"] for s in steps["strategies"]))
    problems += duplicate_ids("triggers and strengths",
                            (e["id"] for e in cat["triggers"] + cat["strengths"]))  # fmt: skip
    problems += duplicate_ids("advice", (a["id"] for a in help_["advice"]))
    problems += duplicate_ids("cautions", (c["id"] for c in help_.get("cautions", [])))
    numbers = sorted(s["number"] for s in steps["steps"])
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"steps: numbers must run 1..{len(numbers)}, found {numbers}")
    for kind in ("triggers", "strengths"):
        for entry in cat[kind]:
            problems += [f"{kind}/{entry['id']}: unknown step {s!r}"
                         for s in entry["steps"] if s not in step_ids]  # fmt: skip
            if themes is not None:
                problems += [f"{kind}/{entry['id']}: theme {t!r} is in no instrument"
                             for t in entry["themes"] if t not in themes]  # fmt: skip
    for step in steps["steps"]:
        problems += [f"steps/{step['id']}: unknown strategy {s!r}"
                     for s in step["strategies"] if s not in strategy_ids]  # fmt: skip
        if themes is not None:
            problems += [f"steps/{step['id']}: theme {t!r} is in no instrument"
                         for t in step["themes"] if t not in themes]  # fmt: skip
    for advice in help_["advice"]:
        problems += [f"advice/{advice['id']}: unknown approach {a!r}"
                     for a in advice["approaches"] if a not in approach_ids]  # fmt: skip
    return problems


def _text(raw: Mapping[str, Any], title: str = "title", text: str = "text") -> Text:
    return Text(raw["id"], raw[title], raw[text], tuple(raw.get("approaches", ())))


def _build(data: Mapping[str, Any]) -> Content:
    cat, steps, help_ = data["catalogue.toml"], data["steps.toml"], data["help.toml"]

    def entries(kind: str) -> tuple[Entry, ...]:
        return tuple(
            Entry(
                e["id"], kind, e["title"], e["description"], tuple(e["themes"]), tuple(e["steps"])
            )
            for e in cat[kind + "s"]
        )

    return Content(
        version=f"catalogue {cat['version']}, steps {steps['version']}, help {help_['version']}",
        triggers=entries("trigger"),
        strengths=entries("strength"),
        steps=tuple(sorted(
            (Step(s["id"], s["number"], s["title"], s["summary"], s["why"], tuple(s["actions"]),
                  tuple(s["strategies"]), tuple(s["themes"])) for s in steps["steps"]),
            key=lambda s: s.number)),
        strategies={s["id"]: _text(s) for s in steps["strategies"]},
        advice={a["id"]: _text(a) for a in help_["advice"]},
        approaches={a["id"]: _text(a, "name", "description") for a in help_.get("approaches", [])},
        cautions={c["id"]: _text(c) for c in help_.get("cautions", [])},
        signs=tuple(s["text"] for s in help_.get("signs", [])),
        disclaimer=help_["disclaimer"],
        crisis=help_["crisis"]["text"],
        source=dict(data),
    )  # fmt: skip


def _problems(data: Mapping[str, Any], themes: set[str] | None) -> list[str]:
    """Every schema and cross-reference problem of the parsed files present in ``data``."""
    problems = []
    for name, schema in SCHEMAS.items():
        if name not in data:
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in validator.iter_errors(data[name]):
            where = "/".join(map(str, error.absolute_path)) or "(top level)"
            problems.append(f"{name}: {where}: {error.message}")
    if len(data) == len(SCHEMAS):
        # cross-references wherever the structure allows; schema problems say the rest
        with contextlib.suppress(KeyError, TypeError, AttributeError):
            problems += _cross_problems(data, themes)
    return problems


def load_content(folder: str | Path, themes: set[str] | None = None) -> Content:
    """Load and check the content folder; ``themes`` are the item themes the bank knows."""
    folder = Path(folder)
    data: dict[str, Any] = {}
    problems: list[str] = []
    for name in SCHEMAS:
        try:
            data[name] = tomllib.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{name}: cannot be read ({exc})")
    problems += _problems(data, themes)
    if problems:
        raise ContentError(str(folder), problems)
    return _build(data)


def content_from_source(source: Mapping[str, Any], where: str = "stored content") -> Content:
    """Content built again from its ``source`` (as kept with a result), checked as on load."""
    missing = [f"{name}: missing" for name in SCHEMAS if name not in source]
    problems = missing + _problems(source, None)
    if problems:
        raise ContentError(where, problems)
    return _build(source)
