"""Plain data for a report template: what the person answered, scored, and what we say.

Everything returned is made of dicts, lists, strings, numbers, booleans and None, so a
template can never reach an ORM object or a domain method, and the data can be stored or
sent as JSON. The therapist-only parts are built in :mod:`quizapp.reports.clinical`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ..interpret.content import Content, Text
from ..interpret.interpretation import Finding, Interpretation, ModelOutputs
from ..scoring.engine import ScoreReport
from ..scoring.instrument import Instrument
from ..scoring.patterns import PATTERN_LABELS
from ..scoring.reliability import Z90
from .charts import quadrant_chart
from .clinical import approaches, audit, items, validity
from .options import KINDS
from .therapist_content import TherapistContent

CLIENT_FINDINGS = 3  # triggers and strengths shown to the client, as on the results page
TOP_STEPS = 3  # steps marked as "start here"
_SAFE_URL = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]+$")

Data = dict[str, Any]


def check_base_url(base_url: str) -> str:
    """The service URL without a trailing slash; only absolute http(s) URLs are accepted.

    Step links are built from it, so a ``file:`` or ``javascript:`` URL, or one with quotes
    or spaces, is refused here rather than printed as a link in a PDF.
    """
    url = base_url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not _SAFE_URL.match(url):
        raise ValueError(f"base_url must be an absolute http(s) URL, not {base_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not have a query or fragment: {base_url!r}")
    return url


def _scales(report: ScoreReport, instrument: Instrument, interp: Interpretation) -> list[Data]:
    scales = []
    for s in report.scales.values():
        est = interp.full_estimates.get(s.scale)
        scales.append({
            "id": s.scale, "label": s.label,
            "description": instrument.scales[s.scale].description,
            "score": s.score, "answered": s.answered, "n_items": s.n_items,
            "prorated": s.prorated, "sem": s.sem,
            "margin": None if s.sem is None else Z90 * s.sem,
            "band": None if s.band is None else list(s.band),
            "percentile": s.percentile,
            "percentile_band": None if s.percentile_band is None else list(s.percentile_band),
            "cutoff": s.cutoff, "near_cutoff": s.near_cutoff,
            "full_estimate": None if not est else
                {"score": est[0], "low": est[1], "high": est[2]},
        })  # fmt: skip
    return scales


def _chart(report: ScoreReport, instrument: Instrument) -> Data | None:
    chart = quadrant_chart(report, instrument.response_scale)
    if chart is None:
        return None
    return {
        "size": chart.size, "pad": chart.pad, "x": chart.x, "y": chart.y,
        "band_x": list(chart.band_x), "band_y": list(chart.band_y),
        "cut_x": chart.cut_x, "cut_y": chart.cut_y,
        "ticks": [list(t) for t in chart.ticks],
    }  # fmt: skip


def _pattern(report: ScoreReport) -> Data | None:
    pattern = report.pattern
    if pattern is None:
        return None
    ranked = sorted(pattern.probabilities.items(), key=lambda kv: -kv[1])
    return {
        "id": pattern.closest,
        "label": pattern.label,
        "probability": pattern.probability,
        "near_boundary": [report.scales[d].label for d in pattern.near_boundary],
        "probabilities": [
            {"id": key, "label": PATTERN_LABELS[key], "probability": p} for key, p in ranked
        ],
    }


def evidence_sentence(answer: str, text: str) -> str:
    """The trace behind a trigger or strength, as the results page words it."""
    return f"Because you answered \u201c{answer}\u201d to \u201c{text}\u201d"


def _finding(f: Finding) -> Data:
    return {
        "id": f.entry.id, "title": f.entry.title, "description": f.entry.description,
        "z": f.z, "mean": f.mean, "rules": list(f.rules),
        "evidence": [
            {"item_id": e.item_id, "text": e.text, "answer": e.answer, "deviation": e.deviation,
             "sentence": evidence_sentence(e.answer, e.text)}
            for e in f.evidence
        ],
    }  # fmt: skip


def _steps(interp: Interpretation, content: Content, base_url: str) -> list[Data]:
    return [
        {
            "id": r.step.id, "number": r.step.number, "rank": rank, "top": rank <= TOP_STEPS,
            "title": r.step.title, "summary": r.step.summary, "why": r.step.why,
            "actions": list(r.step.actions),
            "strategies": [content.strategies[s].title for s in r.step.strategies],
            "url": f"{base_url}/steps/{r.step.id}", "anchor": f"step-{r.step.id}",
            "weight": r.weight, "rules": list(r.rules),
        }
        for rank, r in enumerate(interp.steps, start=1)
    ]  # fmt: skip


def _strategies(interp: Interpretation, content: Content) -> list[Data]:
    """Every strategy, those of the person's first steps first."""
    order = dict.fromkeys(
        [*(s for r in interp.steps for s in r.step.strategies), *content.strategies]
    )
    return [_text(content.strategies[s]) for s in order]


def _text(text: Text, rules: Sequence[str] = ()) -> Data:
    return {"id": text.id, "title": text.title, "text": text.text, "rules": list(rules)}


def _about_client(caution: Data, therapist_content: TherapistContent) -> Data:
    """A validity caution in the therapist's words (a caution without them keeps its own)."""
    title, text = therapist_content.cautions.get(caution["id"], (caution["title"], caution["text"]))
    return {**caution, "title": title, "text": text}


def _help(interp: Interpretation, content: Content, crisis_contacts: Sequence[str]) -> Data:
    refs = dict.fromkeys(ref for a in interp.advice for ref in a.text.refs)
    return {
        "advice": [
            {**_text(a.text, a.rules),
             "approaches": [_text(content.approaches[ref]) for ref in a.text.refs]}
            for a in interp.advice
        ],
        "approaches": [_text(content.approaches[ref]) for ref in refs],
        "signs": list(content.signs),
        "crisis": content.crisis,
        "crisis_contacts": [str(c) for c in crisis_contacts],
        "disclaimer": content.disclaimer,
    }  # fmt: skip


def _when(finished_at: datetime) -> Data:
    """The completion time as a W3C date (for the PDF metadata) and as words; naive = UTC."""
    moment = finished_at.replace(microsecond=0, tzinfo=finished_at.tzinfo or UTC)
    return {"iso": moment.isoformat(), "date": f"{moment:%-d %B %Y}"}


def _instrument(instrument: Instrument) -> Data:
    rs = instrument.response_scale
    norms = instrument.norms
    return {
        "id": instrument.id, "version": instrument.version, "title": instrument.title,
        "language": instrument.language, "n_items": len(instrument.items),
        "min": rs.min, "max": rs.max, "labels": list(rs.labels),
        "licence": instrument.licence.name, "licence_holder": instrument.licence.holder,
        "norms_source": None if norms is None else norms.source,
        "norms_n": None if norms is None else norms.n,
    }  # fmt: skip


def report_data(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    report: ScoreReport,
    interpretation: Interpretation,
    content: Content,
    therapist_content: TherapistContent,
    *,
    receipt: str | None,
    finished_at: datetime,
    base_url: str,
    crisis_contacts: Sequence[str],
    kind: str,
    outputs: ModelOutputs | None = None,
    client_label: str | None = None,
) -> Data:
    """Everything a ``kind`` ("client" or "therapist") report template shows, as plain data.

    ``outputs`` (the model outputs the interpretation used) adds each item's standardised
    deviation to the therapist's item table (optional). ``client_label`` names the client in
    a therapist report; its validity cautions speak about the client, not to them.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    url = check_base_url(base_url)
    data: Data = {
        "kind": kind,
        "lang": instrument.language,
        "receipt": receipt,
        "finished": _when(finished_at),
        "base_url": url,
        "instrument": _instrument(instrument),
        "scales": _scales(report, instrument, interpretation),
        "chart": _chart(report, instrument),
        "pattern": _pattern(report),
        "triggers": [_finding(f) for f in interpretation.triggers],
        "strengths": [_finding(f) for f in interpretation.strengths],
        "steps": _steps(interpretation, content, url),
        "strategies": _strategies(interpretation, content),
        "help": _help(interpretation, content, crisis_contacts),
        "cautions": [_text(c.text, c.rules) for c in interpretation.cautions],
        "versions": {
            "instrument": f"{instrument.id} {instrument.version}",
            "rules": interpretation.rules_version,
            "model": interpretation.model_version,
            "content": interpretation.content_version,
            "therapist_content": therapist_content.version,
        },
        "fired_rules": list(interpretation.fired_rules),
    }
    if kind == "client":
        data["triggers"] = data["triggers"][:CLIENT_FINDINGS]
        data["strengths"] = data["strengths"][:CLIENT_FINDINGS]
        return data
    data["client_label"] = client_label
    data["cautions"] = [_about_client(c, therapist_content) for c in data["cautions"]]
    data["items"] = items(instrument, answers, interpretation, outputs)
    data["validity"] = validity(instrument, answers, interpretation, outputs)
    data["approaches"] = approaches(therapist_content, data["scales"])
    data["audit"] = audit(data, interpretation)
    data["rule_notes"] = [{"id": i, "about": about} for i, about in interpretation.rule_notes]
    return data
