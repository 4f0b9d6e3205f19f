"""Rule tables and the rule engine.

A rule table (TOML, schema version 1) is a list of rules, evaluated in file order. Each rule
has a stable ``id``, a plain ``about``, conditions and one action::

    [[rules]]
    id = "TRG-01"
    about = "A trigger whose items are answered more insecurely than the levels predict"
    for_each = "trigger"                       # optional: "trigger" or "strength"
    when = [["entry.z", ">=", 0.4], ["entry.mean", ">=", 3.5]]   # all must hold
    any = [["anxiety.percentile", ">=", 80]]   # optional: at least one must hold
    then = { fire = true }                     # or boost, boost_steps, advice, caution

A condition is ``[fact, operator, value]``; a fact that is missing or None makes it false.
Actions: ``fire`` marks the current trigger or strength; ``boost_steps = w`` adds ``w`` to
the current entry's healing steps; ``boost = {step = w}`` adds weights to named steps;
``advice = "id"`` adds a therapy-advice block; ``caution = "id"`` adds a validity caution.
"""

from __future__ import annotations

import contextlib
import operator
import tomllib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

from ..scoring.problems import ProblemsError

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne, "in": lambda a, b: a in b,
}  # fmt: skip
FACT_PREFIXES = ("anxiety.", "avoidance.", "pattern", "theme.", "validity.", "entry.")
_CONDITIONS = {"type": "array", "items": {
    "type": "array", "prefixItems": [{"type": "string"}, {"enum": list(OPERATORS)}, {}],
    "minItems": 3, "maxItems": 3}}  # fmt: skip
SCHEMA = {
    "type": "object",
    "required": ["schema_version", "version", "rules"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "version": {"type": "string"},
        "description": {"type": "string"},
        "rules": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "about", "then"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": "^[A-Z]{2,4}-[0-9]{2,3}$"},
                "about": {"type": "string", "minLength": 1},
                "for_each": {"enum": ["trigger", "strength"]},
                "when": _CONDITIONS,
                "any": _CONDITIONS,
                "then": {"type": "object", "minProperties": 1, "maxProperties": 1,
                         "additionalProperties": False, "properties": {
                    "fire": {"const": True},
                    "boost_steps": {"type": "number"},
                    "boost": {"type": "object", "additionalProperties": {"type": "number"}},
                    "advice": {"type": "string"},
                    "caution": {"type": "string"}}},
            }}},
    },
}  # fmt: skip


class RuleError(ProblemsError):
    """A rule table is invalid; ``problems`` lists every problem found."""


@dataclass(frozen=True)
class Rule:
    id: str
    about: str
    then: Mapping[str, Any]
    when: tuple[tuple[str, str, Any], ...] = ()
    any: tuple[tuple[str, str, Any], ...] = ()
    for_each: str | None = None

    def holds(self, facts: Mapping[str, Any], entry: Mapping[str, Any] | None = None) -> bool:
        """Whether the rule's conditions hold for ``facts`` (and, in a ``for_each`` rule, the
        ``entry.*`` facts of one trigger or strength)."""
        return self.holds_overall(facts) and self.holds_for(facts, entry)

    def holds_overall(self, facts: Mapping[str, Any]) -> bool:
        """Whether the ``when`` conditions on the person's facts (not on an ``entry.*``) hold:
        in a ``for_each`` rule they are tested once, not once per trigger or strength."""
        for fact, test, value in self._overall:
            present = facts.get(fact)
            if present is None or not test(present, value):
                return False
        return True

    def holds_for(self, facts: Mapping[str, Any], entry: Mapping[str, Any] | None) -> bool:
        """Whether the rest holds: the ``when`` conditions on ``entry.*`` facts, and ``any``."""
        for fact, test, value in self._per_entry:
            if not _test(facts, entry, fact, test, value):
                return False
        return not self.any or any(_test(facts, entry, f, OPERATORS[o], v) for f, o, v in self.any)

    @cached_property
    def _overall(self) -> tuple[tuple[str, Callable[[Any, Any], bool], Any], ...]:
        return tuple((f, OPERATORS[o], v) for f, o, v in self.when if not f.startswith("entry."))

    @cached_property
    def _per_entry(self) -> tuple[tuple[str, Callable[[Any, Any], bool], Any], ...]:
        return tuple((f, OPERATORS[o], v) for f, o, v in self.when if f.startswith("entry."))


def _test(
    facts: Mapping[str, Any],
    entry: Mapping[str, Any] | None,
    fact: str,
    test: Callable[[Any, Any], bool],
    value: Any,
) -> bool:
    present = entry[fact] if entry is not None and fact in entry else facts.get(fact)
    return present is not None and test(present, value)


@dataclass(frozen=True)
class EntryFacts:
    """A trigger or strength with the person's evidence for it."""

    id: str
    steps: tuple[str, ...]
    z: float | None  # mean standardised deviation of its items (positive = more insecure)
    mean: float | None  # mean keyed answer of its items


@dataclass
class Outcome:
    """What the rules concluded, and which rules fired for each conclusion."""

    fired_rules: list[str] = field(default_factory=list)
    entries: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: {"trigger": {}, "strength": {}}
    )
    step_weights: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    step_rules: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    advice: dict[str, list[str]] = field(default_factory=dict)
    cautions: dict[str, list[str]] = field(default_factory=dict)

    def _note(self, rule_id: str) -> None:
        if rule_id not in self.fired_rules:
            self.fired_rules.append(rule_id)


@dataclass(frozen=True)
class RuleTable:
    version: str
    rules: tuple[Rule, ...]

    def evaluate(
        self, facts: Mapping[str, Any], entries: Mapping[str, Sequence[EntryFacts]]
    ) -> Outcome:
        outcome = Outcome()
        for rule in self.rules:
            if rule.for_each is None:
                if rule.holds(facts):
                    _apply(rule, outcome, None)
                continue
            if not rule.holds_overall(facts):
                continue
            fired = outcome.entries[rule.for_each]
            for entry in entries.get(rule.for_each, ()):
                local = {"entry.z": entry.z, "entry.mean": entry.mean,
                         "entry.fired": entry.id in fired}  # fmt: skip
                if rule.holds_for(facts, local):
                    _apply(rule, outcome, (rule.for_each, entry))
        return outcome

    def cautions(self, facts: Mapping[str, Any]) -> list[str]:
        """Only the validity cautions that fire for ``facts``."""
        return [r.then["caution"] for r in self.rules
                if "caution" in r.then and r.for_each is None and r.holds(facts)]  # fmt: skip


def _apply(rule: Rule, outcome: Outcome, bound: tuple[str, EntryFacts] | None) -> None:
    then = rule.then
    outcome._note(rule.id)
    if "fire" in then and bound:
        outcome.entries[bound[0]].setdefault(bound[1].id, []).append(rule.id)
    if "boost_steps" in then and bound:
        for step in bound[1].steps:
            outcome.step_weights[step] += then["boost_steps"]
            if rule.id not in outcome.step_rules[step]:
                outcome.step_rules[step].append(rule.id)
    for step, weight in then.get("boost", {}).items():
        outcome.step_weights[step] += weight
        if rule.id not in outcome.step_rules[step]:
            outcome.step_rules[step].append(rule.id)
    if "advice" in then:
        outcome.advice.setdefault(then["advice"], []).append(rule.id)
    if "caution" in then:
        outcome.cautions.setdefault(then["caution"], []).append(rule.id)


def _reference_problems(raw: Mapping[str, Any], known: Mapping[str, set[str]]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for rule in raw["rules"]:
        rid = rule["id"]
        if rid in seen:
            problems.append(f"{rid}: id is used twice")
        seen.add(rid)
        for fact, op, value in [*rule.get("when", []), *rule.get("any", [])]:
            if not fact.startswith(FACT_PREFIXES):
                problems.append(f"{rid}: unknown fact {fact!r}")
            if fact.startswith("theme.") and fact.split(".")[1] not in known.get(
                "themes", {fact.split(".")[1]}
            ):
                problems.append(f"{rid}: {fact!r} names a theme no instrument has")
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if op in ("<", "<=", ">", ">=") and not numeric:
                problems.append(f"{rid}: {fact} {op} needs a number, not {value!r}")
            if op == "in" and not isinstance(value, list):
                problems.append(f"{rid}: {fact} in needs a list, not {value!r}")
            if fact.startswith("entry.") and "for_each" not in rule:
                problems.append(f"{rid}: {fact!r} needs for_each")
        then = rule["then"]
        for key, kind in (("advice", "advice"), ("caution", "cautions")):
            if key in then and then[key] not in known[kind]:
                problems.append(f"{rid}: unknown {key} {then[key]!r}")
        problems += [f"{rid}: unknown step {s!r}" for s in then.get("boost", {})
                     if s not in known["steps"]]  # fmt: skip
        if ("fire" in then or "boost_steps" in then) and "for_each" not in rule:
            problems.append(f"{rid}: fire and boost_steps need for_each")
    return problems


def load_rules(path: str | Path, known: Mapping[str, set[str]]) -> RuleTable:
    """Load and check a rule table.

    ``known`` gives the valid ``steps``, ``advice`` and ``cautions`` ids and, optionally, the
    ``themes`` that ``theme.*`` facts may name.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(str(path), [f"cannot be read ({exc})"]) from exc
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
                for e in validator.iter_errors(raw)]  # fmt: skip
    # references wherever the structure allows; schema problems say the rest
    with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError):
        problems += _reference_problems(raw, known)
    if problems:
        raise RuleError(str(path), problems)
    rules = tuple(
        Rule(id=r["id"], about=r["about"], then=r["then"], for_each=r.get("for_each"),
             when=tuple(tuple(c) for c in r.get("when", [])),
             any=tuple(tuple(c) for c in r.get("any", [])))
        for r in raw["rules"]
    )  # fmt: skip
    return RuleTable(raw["version"], rules)
