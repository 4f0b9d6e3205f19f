"""The therapist report's extra data: every answer, validity flags, session approaches in
order of fit, and an audit of the rules and model version behind each statement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..interpret.interpretation import Interpretation, ModelOutputs
from ..interpret.validity import validity_facts
from ..scoring.instrument import Instrument
from .formats import num, ordinal, percent
from .therapist_content import TherapistContent

Data = dict[str, Any]

# A dimension counts as high for the approach order from the 60th percentile, the threshold
# of the anxiety- and avoidance-focused advice rules (THR-04, THR-05).
HIGH_PERCENTILE = 60.0
_HINT_WEIGHT = {"both": 3, "high-anxiety": 2, "high-avoidance": 2, "any": 1}


def _deviations(interp: Interpretation, outputs: ModelOutputs | None) -> dict[str, float]:
    """Each item's standardised deviation: from the model outputs, else from the evidence."""
    if outputs is not None and outputs.deviations is not None:
        return dict(outputs.deviations)
    found: dict[str, float] = {}
    for finding in (*interp.triggers, *interp.strengths):
        for e in finding.evidence:
            if e.deviation is not None:
                found[e.item_id] = e.deviation
    return found


def items(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    interp: Interpretation,
    outputs: ModelOutputs | None,
) -> list[Data]:
    """Every item in order with its text, answer, keyed value and deviation (None if unknown)."""
    rs = instrument.response_scale
    deviations = _deviations(interp, outputs)
    rows = []
    for number, item in enumerate(instrument.items, start=1):
        value = answers.get(item.id)
        rows.append({
            "number": number, "id": item.id, "scale": instrument.scales[item.scale].label,
            "text": item.text, "reverse": item.reverse, "value": value,
            "label": None if value is None else rs.labels[value - rs.min],
            "keyed": None if value is None else (rs.reverse(value) if item.reverse else value),
            "deviation": deviations.get(item.id),
            "themes": [instrument.themes.get(t, t) for t in item.themes],
        })  # fmt: skip
    return rows


def _caution_rules(interp: Interpretation, caution_id: str) -> list[str]:
    return next((list(c.rules) for c in interp.cautions if c.text.id == caution_id), [])


def validity(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    interp: Interpretation,
    outputs: ModelOutputs | None,
) -> list[Data]:
    """The validity checks, each with its value, whether it is flagged, and the rules that fired."""
    facts = validity_facts(instrument, [answers.get(i) for i in instrument.item_ids], seconds=None)
    n = len(instrument.items)
    gap = facts["validity.inconsistency"]
    random_rules = _caution_rules(interp, "random-pattern")
    if outputs is not None and outputs.random_pattern is not None:
        random_value = "flagged" if outputs.random_pattern else "not flagged"
    elif interp.model_version is None:
        random_value = "no model"
    else:
        random_value = "flagged" if random_rules else "not flagged"
    rows = [
        ("Statements answered", f"{facts['validity.answered']} of {n}",
         facts["validity.answered"] < n, []),
        ("Same answer to every statement", "yes" if facts["validity.same_answer"] else "no",
         bool(facts["validity.same_answer"]), _caution_rules(interp, "same-answer")),
        ("Largest gap between regular and reverse-worded statements (keyed)",
         "n/a" if gap is None else num(gap), bool(_caution_rules(interp, "contradictory")),
         _caution_rules(interp, "contradictory")),
        ("Outlier model: closer to random answering than to real answers", random_value,
         bool(random_rules), random_rules),
        ("Answering speed under 2 seconds per statement",
         "flagged" if _caution_rules(interp, "too-fast") else "not flagged",
         bool(_caution_rules(interp, "too-fast")), _caution_rules(interp, "too-fast")),
    ]  # fmt: skip
    return [{"check": c, "value": v, "flagged": f, "rules": r} for c, v, f, r in rows]


def _high(scale: Data | None) -> bool:
    if scale is None or scale["score"] is None:
        return False
    if scale["percentile"] is not None:
        return bool(scale["percentile"] >= HIGH_PERCENTILE)
    return scale["cutoff"] is not None and scale["score"] > scale["cutoff"]


def approaches(content: TherapistContent, scales: list[Data]) -> list[Data]:
    """The session approaches, best fit first: both-high, then one high dimension, then any.

    Ties keep the file's order. ``reason`` says in words why an approach is where it is.
    """
    by_id = {s["id"]: s for s in scales}
    anxiety, avoidance = by_id.get("anxiety"), by_id.get("avoidance")
    profile = {"any"}
    reasons = {"any": "suits any client"}
    if _high(anxiety) and anxiety is not None:
        profile.add("high-anxiety")
        reasons["high-anxiety"] = f"anxiety at the {ordinal(anxiety['percentile'] or 0)} percentile"
    if _high(avoidance) and avoidance is not None:
        profile.add("high-avoidance")
        reasons["high-avoidance"] = (
            f"avoidance at the {ordinal(avoidance['percentile'] or 0)} percentile"
        )
    if {"high-anxiety", "high-avoidance"} <= profile:
        profile.add("both")
        reasons["both"] = "high on both dimensions"
    ranked = []
    for index, a in enumerate(content.approaches):
        matched = sorted((h for h in a.when if h in profile), key=lambda h: -_HINT_WEIGHT[h])
        relevance = max((_HINT_WEIGHT[h] for h in matched), default=0)
        ranked.append((-relevance, index, {
            "id": a.id, "title": a.title, "summary": a.summary,
            "in_session": list(a.in_session), "measure": a.measure, "when": list(a.when),
            "relevance": relevance, "matched": matched,
            "reason": "; ".join(reasons[h] for h in matched) or "less specific to this profile",
        }))  # fmt: skip
    return [row for _, _, row in sorted(ranked, key=lambda t: (t[0], t[1]))]


def audit(data: Data, interp: Interpretation) -> list[Data]:
    """Each statement of the report with the rules and model version behind it."""
    model = interp.model_version
    norms = f"scoring engine, {data['instrument']['id']} {data['instrument']['version']} norms"
    rows: list[Data] = []

    def add(section: str, statement: str, rules: list[str], basis: str, uses_model: bool) -> None:
        rows.append({"section": section, "statement": statement, "rules": rules,
                     "basis": basis, "model": model if uses_model else None})  # fmt: skip

    for s in data["scales"]:
        if s["score"] is None:
            add("Scores", f"{s['label']}: too few answers for a score", [], norms, False)
            continue
        text = f"{s['label']} {num(s['score'])}"
        if s["band"] is not None:
            text += f" (90% band {num(s['band'][0])}-{num(s['band'][1])})"
        if s["percentile"] is not None:
            text += f", {ordinal(s['percentile'])} percentile"
        add("Scores", text, [], norms, False)
        if s["full_estimate"] is not None:
            e = s["full_estimate"]
            add("Scores", f"{s['label']} full-form estimate {num(e['score'])} "
                f"({num(e['low'])}-{num(e['high'])})", [], "short-form model", True)  # fmt: skip
    if data["pattern"] is not None:
        p = data["pattern"]
        add("Pattern", f"Closest pattern: {p['label']} ({percent(p['probability'])})", [],
            "scores, cut-offs and standard errors", False)  # fmt: skip
    for section, findings in (("Triggers", data["triggers"]), ("Strengths", data["strengths"])):
        for f in findings:
            add(section, f["title"], f["rules"], "answers to its themes' statements",
                f["z"] is not None)  # fmt: skip
    for step in data["steps"]:
        add("Healing steps", f"{step['rank']}. {step['title']} (weight {step['weight']:g})",
            step["rules"], "rule weights, then step number", model is not None)  # fmt: skip
    for a in data["help"]["advice"]:
        add("Professional help", a["title"], a["rules"], "rules only", False)
    for c in data["cautions"]:
        add("Validity", c["title"], c["rules"], "validity rules",
            "VAL-03" in c["rules"])  # fmt: skip
    return rows
