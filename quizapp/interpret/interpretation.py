"""From a person's answers, scores and model outputs to what the product says, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..scoring.engine import AnswerError, ScoreReport, keyed_answers
from ..scoring.instrument import Instrument
from .content import Content, Entry, Step, Text
from .rules import EntryFacts, RuleTable
from .validity import validity_facts


@dataclass(frozen=True)
class ModelOutputs:
    """What the scikit-learn layer says about one person (all None without trained models)."""

    version: str | None = None
    deviations: Mapping[str, float] | None = None  # item id -> standardised deviation
    random_pattern: bool | None = None
    full_estimates: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """One answer behind a finding: "because you answered <label> to <text>"."""

    item_id: str
    text: str
    answer: str
    deviation: float | None


@dataclass(frozen=True)
class Finding:
    entry: Entry
    z: float | None
    mean: float | None
    evidence: tuple[Evidence, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class RankedStep:
    step: Step
    weight: float
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Said:
    """A block of text the rules chose (advice or caution), with the rules that chose it."""

    text: Text
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Interpretation:
    triggers: tuple[Finding, ...]  # every trigger that fired, strongest first
    strengths: tuple[Finding, ...]
    steps: tuple[RankedStep, ...]  # all healing steps, most fitting first
    advice: tuple[Said, ...]
    cautions: tuple[Said, ...]
    full_estimates: Mapping[str, tuple[float, float, float]]
    fired_rules: tuple[str, ...]
    rules_version: str
    model_version: str | None
    content_version: str
    rule_notes: tuple[tuple[str, str], ...] = ()  # (id, what it means) of each fired rule


def _mean(values: list[float]) -> float | None:
    """The mean of a few numbers (a theme has a handful of items): plain Python, which for
    these short lists costs a tenth of numpy's call."""
    return sum(values) / len(values) if values else None


_THEMED: dict[tuple[str, str, tuple[str, ...]], tuple[str, ...]] = {}


def _themed_items(instrument: Instrument, themes: tuple[str, ...]) -> tuple[str, ...]:
    """The ids of the items with any of ``themes``, in order (worked out once per instrument
    version and set of themes)."""
    key = (instrument.id, instrument.version, themes)
    found = _THEMED.get(key)
    if found is None:
        wanted = set(themes)
        found = tuple(i.id for i in instrument.items if wanted.intersection(i.themes))
        _THEMED[key] = found
    return found


def _entry_facts(
    entry: Entry, themed: tuple[str, ...], keyed: Mapping[str, float], models: ModelOutputs
) -> EntryFacts:
    ids = [i for i in themed if i in keyed]
    deviations = models.deviations
    z = _mean([deviations[i] for i in ids]) if deviations is not None else None
    return EntryFacts(entry.id, entry.steps, z, _mean([keyed[i] for i in ids]))


def _facts(
    instrument: Instrument,
    report: ScoreReport,
    keyed: Mapping[str, float],
    raw: list[float | None],
    models: ModelOutputs,
    seconds: float | None,
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for scale in report.scales.values():
        facts[f"{scale.scale}.score"] = scale.score
        facts[f"{scale.scale}.percentile"] = scale.percentile
    if report.pattern is not None:
        facts["pattern"] = report.pattern.closest
        facts["pattern.probability"] = report.pattern.probability
    for theme in instrument.themes:
        ids = [i for i in _themed_items(instrument, (theme,)) if i in keyed]
        facts[f"theme.{theme}.mean"] = _mean([keyed[i] for i in ids])
        if models.deviations is not None:
            facts[f"theme.{theme}.z"] = _mean([models.deviations[i] for i in ids])
    facts |= validity_facts(instrument, raw, seconds=seconds)
    facts["validity.random_pattern"] = models.random_pattern
    return facts


def _evidence(
    entry: Entry, instrument: Instrument, raw: list[float | None], keyed: Mapping[str, float],
    models: ModelOutputs, *, most_insecure: bool,
) -> tuple[Evidence, ...]:  # fmt: skip
    rs = instrument.response_scale
    themed = set(_themed_items(instrument, entry.themes))
    found = []
    for item, value in zip(instrument.items, raw, strict=True):
        if value is not None and item.id in themed:
            dev = models.deviations.get(item.id) if models.deviations is not None else None
            label = rs.labels[int(value) - rs.min]
            found.append((keyed[item.id], Evidence(item.id, item.text, label, dev)))
    found.sort(key=lambda pair: pair[0], reverse=most_insecure)
    return tuple(e for _, e in found[:2])


def interpret(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    report: ScoreReport,
    content: Content,
    rules: RuleTable,
    models: ModelOutputs,
    *,
    seconds: float | None = None,
) -> Interpretation:
    unknown = set(answers).difference(instrument.item_ids)
    if unknown:
        raise AnswerError(f"unknown item id(s) for {instrument.id}: {', '.join(sorted(unknown))}")
    raw: list[float | None] = [
        None if (v := answers.get(item_id)) is None or v != v else float(v)  # NaN: unanswered
        for item_id in instrument.item_ids
    ]
    keyed = keyed_answers(instrument, answers)
    entries = {
        kind: [_entry_facts(e, _themed_items(instrument, e.themes), keyed, models)
               for e in catalogue]
        for kind, catalogue in (("trigger", content.triggers), ("strength", content.strengths))
    }  # fmt: skip
    outcome = rules.evaluate(_facts(instrument, report, keyed, raw, models, seconds), entries)

    def findings(kind: str, catalogue: tuple[Entry, ...], insecure: bool) -> tuple[Finding, ...]:
        facts = {f.id: f for f in entries[kind]}
        fired = [e for e in catalogue if e.id in outcome.entries[kind]]
        sign = -1.0 if insecure else 1.0
        fired.sort(key=lambda e: (sign * (facts[e.id].z or 0.0), sign * (facts[e.id].mean or 0.0)))
        return tuple(
            Finding(e, facts[e.id].z, facts[e.id].mean,
                    _evidence(e, instrument, raw, keyed, models, most_insecure=insecure),
                    tuple(outcome.entries[kind][e.id]))
            for e in fired
        )  # fmt: skip

    steps = sorted(content.steps, key=lambda s: (-outcome.step_weights.get(s.id, 0.0), s.number))
    fired = set(outcome.fired_rules)
    return Interpretation(
        triggers=findings("trigger", content.triggers, insecure=True),
        strengths=findings("strength", content.strengths, insecure=False),
        steps=tuple(
            RankedStep(s, outcome.step_weights.get(s.id, 0.0),
                       tuple(outcome.step_rules.get(s.id, ())))
            for s in steps
        ),
        advice=tuple(Said(content.advice[a], tuple(r)) for a, r in outcome.advice.items()),
        cautions=tuple(Said(content.cautions[c], tuple(r)) for c, r in outcome.cautions.items()),
        full_estimates=models.full_estimates,
        fired_rules=tuple(outcome.fired_rules),
        rule_notes=tuple((r.id, r.about) for r in rules.rules if r.id in fired),
        rules_version=rules.version,
        model_version=models.version,
        content_version=content.version,
    )  # fmt: skip
