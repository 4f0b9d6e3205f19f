"""An analysis as a stored record: plain JSON data, and back.

What a result says is computed once, at submission, and stored: the scores with their bands
and percentiles, the closest pattern, the model outputs, and the interpretation (which
triggers, strengths, steps, advice and cautions, why, and the rule, model and content
versions). The texts are not copied into every record: findings, steps and advice are stored
by id and read back from the content of the version the result was computed with (kept once
per version, see ``quizapp.storage.results``), so an old result says what it said then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..interpret.content import Content
from ..interpret.interpretation import (
    Evidence,
    Finding,
    Interpretation,
    ModelOutputs,
    RankedStep,
    Said,
)
from ..scoring.engine import ScaleScore, ScoreReport
from ..scoring.instrument import Instrument
from ..scoring.patterns import PatternEstimate
from .pipeline import Analysis

SCHEMA = 1
Record = dict[str, Any]


def _pair(values: tuple[float, float] | None) -> list[float] | None:
    return None if values is None else [values[0], values[1]]


def _scale(s: ScaleScore) -> Record:
    return {
        "scale": s.scale, "label": s.label, "score": s.score, "answered": s.answered,
        "n_items": s.n_items, "sem": s.sem, "band": _pair(s.band), "percentile": s.percentile,
        "percentile_band": _pair(s.percentile_band), "cutoff": s.cutoff,
        "near_cutoff": s.near_cutoff,
    }  # fmt: skip


def _finding(f: Finding) -> Record:
    return {
        "id": f.entry.id, "z": f.z, "mean": f.mean, "rules": list(f.rules),
        "evidence": [[e.item_id, e.text, e.answer, e.deviation] for e in f.evidence],
    }  # fmt: skip


def to_record(analysis: Analysis) -> Record:
    """The stored form of an analysis (everything but the answers and the time, which the
    submission holds)."""
    report, outputs, interp = analysis.report, analysis.outputs, analysis.interpretation
    pattern = report.pattern
    return {
        "schema": SCHEMA,
        "scales": [_scale(s) for s in report.scales.values()],
        "pattern": None if pattern is None else {
            "closest": pattern.closest, "probability": pattern.probability,
            "probabilities": dict(pattern.probabilities),
            "near_boundary": list(pattern.near_boundary),
        },
        "outputs": {
            "version": outputs.version,
            "deviations": None if outputs.deviations is None else dict(outputs.deviations),
            "random_pattern": outputs.random_pattern,
            "full_estimates": {k: list(v) for k, v in outputs.full_estimates.items()},
        },
        "triggers": [_finding(f) for f in interp.triggers],
        "strengths": [_finding(f) for f in interp.strengths],
        "steps": [[r.step.id, r.weight, list(r.rules)] for r in interp.steps],
        "advice": [[a.text.id, list(a.rules)] for a in interp.advice],
        "cautions": [[c.text.id, list(c.rules)] for c in interp.cautions],
        "fired_rules": list(interp.fired_rules),
        "rule_notes": [list(note) for note in interp.rule_notes],
    }  # fmt: skip


def _scale_back(r: Mapping[str, Any]) -> ScaleScore:
    def pair(v: list[float] | None) -> tuple[float, float] | None:
        return None if v is None else (v[0], v[1])

    return ScaleScore(
        r["scale"], r["label"], r["score"], r["answered"], r["n_items"], sem=r["sem"],
        band=pair(r["band"]), percentile=r["percentile"],
        percentile_band=pair(r["percentile_band"]), cutoff=r["cutoff"],
        near_cutoff=r["near_cutoff"],
    )  # fmt: skip


def report_from_record(record: Mapping[str, Any], instrument: Instrument) -> ScoreReport:
    """Only the scores and the pattern of a record (what exports and the trend chart need)."""
    if record.get("schema") != SCHEMA:
        raise ValueError(f"analysis record schema {record.get('schema')!r}, not {SCHEMA}")
    scales = {r["scale"]: _scale_back(r) for r in record["scales"]}
    p = record["pattern"]
    pattern = None if p is None else PatternEstimate(
        p["closest"], p["probability"], dict(p["probabilities"]), tuple(p["near_boundary"])
    )  # fmt: skip
    return ScoreReport(instrument.id, instrument.version, scales, pattern)


def from_record(
    record: Mapping[str, Any],
    *,
    instrument: Instrument,
    answers: Mapping[str, int],
    finished_at: datetime,
    content: Content,
    rules_version: str,
) -> Analysis:
    """The analysis a record holds, with ``content`` of the version it was computed with."""
    report = report_from_record(record, instrument)
    o = record["outputs"]
    outputs = ModelOutputs(
        version=o["version"], deviations=o["deviations"], random_pattern=o["random_pattern"],
        full_estimates={k: (v[0], v[1], v[2]) for k, v in o["full_estimates"].items()},
    )  # fmt: skip
    entries = {e.id: e for e in (*content.triggers, *content.strengths)}

    def findings(rows: list[Record]) -> tuple[Finding, ...]:
        return tuple(
            Finding(entries[f["id"]], f["z"], f["mean"],
                    tuple(Evidence(*e) for e in f["evidence"]), tuple(f["rules"]))
            for f in rows
        )  # fmt: skip

    interpretation = Interpretation(
        triggers=findings(record["triggers"]),
        strengths=findings(record["strengths"]),
        steps=tuple(RankedStep(content.step(i), w, tuple(r)) for i, w, r in record["steps"]),
        advice=tuple(Said(content.advice[i], tuple(r)) for i, r in record["advice"]),
        cautions=tuple(Said(content.cautions[i], tuple(r)) for i, r in record["cautions"]),
        full_estimates=outputs.full_estimates,
        fired_rules=tuple(record["fired_rules"]),
        rules_version=rules_version,
        model_version=outputs.version,
        content_version=content.version,
        rule_notes=tuple((i, about) for i, about in record["rule_notes"]),
    )
    return Analysis(instrument, answers, report, interpretation, outputs, finished_at, content)
