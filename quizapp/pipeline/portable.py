"""A person's own result as one documented JSON object, to take away (GDPR Art. 20).

Everything in it is read from what is stored with the result: the answers, the times, the
follow-up answers, and the analysis computed once at submission (scores, pattern, model
outputs, interpretation and their versions), with the words of the content version it was
computed with. Nothing is computed again, nothing else is added about the person, and nothing
about anyone else. The receipt code is not in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..interpret.interpretation import Finding, Interpretation, Said
from ..scoring.engine import ScaleScore
from ..scoring.instrument import ResponseScale
from ..scoring.patterns import PATTERN_LABELS, PatternEstimate
from ..storage.submissions import Answered
from ..storage.tables import Submission, aware
from .pipeline import Analysis, Pipeline

SCHEMA_VERSION = 1
Document = dict[str, Any]

ABOUT = (
    "Your result from Secure Base, as the service stores it: the answers you gave and what it "
    "worked out from them once, when you sent them. It is a reflection aid, not a diagnosis. "
    "instrument: the questionnaire you took. taken: when you started and finished it (UTC). "
    "answers: each statement as you saw it, with your answer (value and label). follow_up: "
    "the extra statements offered when your result was close to a boundary, with your answers "
    "(null when none were offered). scores: each scale's score (the mean of its statements, "
    "reverse-worded ones turned round) with its standard error of measurement (sem), the 90% "
    "range your score most likely lies in, your percentile in the reference sample and, where "
    "there is one, the estimate for the 36-statement form. pattern: the closest of four "
    "patterns and the probability of each, given the margins of error. interpretation: what "
    "stood out in your answers, the healing steps in the order that fits you, advice and "
    "cautions, each with the ids of the rules that chose it. model_outputs: for each statement, "
    "how far your answer was from what people with your scores usually answer (in standard "
    "deviations; what stood out comes from these), and whether your answers looked random. "
    "computed_with: the versions of the rules, models and content used. Your receipt code is "
    "not in this file: keep it to reopen or delete your result."
)


def _time(moment: datetime) -> str:
    return aware(moment).isoformat()


def _choice(scale: ResponseScale, value: int) -> str | None:
    """The label of an answer value (None for a value the scale does not have)."""
    return scale.labels[value - scale.min] if scale.min <= value <= scale.max else None


def _range(pair: tuple[float, float] | None) -> dict[str, float] | None:
    return None if pair is None else {"low": pair[0], "high": pair[1]}


def _score(s: ScaleScore, estimate: tuple[float, float, float] | None) -> Document:
    return {
        "scale": s.scale, "label": s.label, "score": s.score, "answered": s.answered,
        "n_items": s.n_items, "sem": s.sem, "band_90": _range(s.band),
        "percentile": s.percentile, "percentile_band_90": _range(s.percentile_band),
        "cutoff": s.cutoff, "near_cutoff": s.near_cutoff,
        "full_form_estimate": None if estimate is None else {
            "score": estimate[0], "low_90": estimate[1], "high_90": estimate[2]},
    }  # fmt: skip


def _finding(f: Finding) -> Document:
    return {
        "id": f.entry.id, "title": f.entry.title, "description": f.entry.description,
        "z": f.z, "mean": f.mean, "rules": list(f.rules),
        "evidence": [{"item_id": e.item_id, "statement": e.text, "answer": e.answer,
                      "deviation": e.deviation} for e in f.evidence],
    }  # fmt: skip


def _said(s: Said) -> Document:
    return {"id": s.text.id, "title": s.text.title, "text": s.text.text, "rules": list(s.rules)}


def _follow_up(pipeline: Pipeline, instrument_id: str, stored: Mapping[str, Any] | None) -> (
    Document | None
):  # fmt: skip
    """The follow-up statements offered and the answers given (None when none were offered)."""
    if stored is None:
        return None
    given: Mapping[str, int] | None = stored.get("answers")
    status = "not answered yet" if given is None else "answered" if given else "skipped"
    model = pipeline.follow_ups.get(instrument_id)
    bank = None if model is None else pipeline.bank.get(model.bank)
    items = pipeline.follow_up_items(instrument_id)

    def statement(item_id: str) -> Document:
        value = None if given is None else given.get(item_id)
        item = items.get(item_id)
        label = None if value is None or bank is None else _choice(bank.response_scale, value)
        return {"item_id": item_id, "statement": None if item is None else item.text,
                "value": value, "label": label}  # fmt: skip

    return {
        "instrument": None if bank is None else {"id": bank.id, "version": bank.version},
        "status": status,
        "statements": [statement(i) for i in stored.get("asked", [])],
    }


def _answers(analysis: Analysis) -> list[Document]:
    """Each statement as the person saw it, with their answer, in the questionnaire's order."""
    scale, given = analysis.instrument.response_scale, analysis.answers
    return [
        {"item_id": item.id, "scale": item.scale, "reverse_worded": item.reverse,
         "statement": item.text, "value": given[item.id], "label": _choice(scale, given[item.id])}
        for item in analysis.instrument.items
        if item.id in given
    ]  # fmt: skip


def _pattern(pattern: PatternEstimate | None) -> Document | None:
    if pattern is None:
        return None
    return {
        "closest": pattern.closest, "label": PATTERN_LABELS[pattern.closest],
        "probability": pattern.probability,
        "probabilities": [{"pattern": key, "label": PATTERN_LABELS[key], "probability": p}
                          for key, p in pattern.probabilities.items()],
        "near_boundary": list(pattern.near_boundary),
    }  # fmt: skip


def _interpretation(interp: Interpretation) -> Document:
    notes = dict(interp.rule_notes)
    return {
        "triggers": [_finding(f) for f in interp.triggers],
        "strengths": [_finding(f) for f in interp.strengths],
        "steps": [{"rank": n, "id": r.step.id, "title": r.step.title, "summary": r.step.summary,
                   "weight": r.weight, "rules": list(r.rules)}
                  for n, r in enumerate(interp.steps, start=1)],
        "advice": [_said(a) for a in interp.advice],
        "cautions": [_said(c) for c in interp.cautions],
        "rules_fired": [{"id": rule, "about": notes.get(rule)} for rule in interp.fired_rules],
    }  # fmt: skip


def portable_data(
    pipeline: Pipeline, submission: Submission | Answered, analysis: Analysis
) -> Document:
    """Everything stored with one result, as plain JSON data (see :data:`ABOUT`).

    ``analysis`` is the submission's stored analysis as ``read_analysis`` gives it back.
    """
    instrument, interp, outputs = analysis.instrument, analysis.interpretation, analysis.outputs
    scale = instrument.response_scale
    choices = [{"value": v, "label": t} for v, t in zip(scale.values, scale.labels, strict=True)]
    scales = analysis.report.scales.values()
    return {
        "schema_version": SCHEMA_VERSION,
        "about": ABOUT,
        "instrument": {"id": instrument.id, "version": instrument.version,
                       "title": instrument.title, "choices": choices},
        "taken": {"started_at": _time(submission.started_at),
                  "finished_at": _time(submission.finished_at)},
        "answers": _answers(analysis),
        "follow_up": _follow_up(pipeline, instrument.id, submission.follow_up),
        "scores": [_score(s, interp.full_estimates.get(s.scale)) for s in scales],
        "pattern": _pattern(analysis.report.pattern),
        "interpretation": _interpretation(interp),
        "model_outputs": {
            "deviations": None if outputs.deviations is None else dict(outputs.deviations),
            "random_answering": outputs.random_pattern,
        },
        "computed_with": {"rules_version": interp.rules_version,
                          "model_version": interp.model_version,
                          "content_version": interp.content_version},
    }  # fmt: skip
