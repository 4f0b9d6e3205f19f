"""One plain object does the work of a submission: the Pipeline analyses answers and renders
reports the same way for the web app, the render jobs and the command line, with no Flask."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quizapp.config import defaults
from quizapp.pipeline.pipeline import OutdatedInstrument, Pipeline
from quizapp.pipeline.sample import PATTERNS, raw_answers, shipped
from quizapp.scoring.engine import AnswerError, keyed_answers, score

FINISHED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def anxious_answers(pipeline: Pipeline) -> dict[str, int]:
    quick = pipeline.bank["quick"]
    return {k: v for k, v in raw_answers(quick, *PATTERNS["anxious"]).items() if v is not None}


def test_it_analyses_a_submission_like_the_engine_and_the_rules() -> None:
    pipeline = shipped()
    quick = pipeline.bank["quick"]
    answers = anxious_answers(pipeline)
    analysis = pipeline.analyse("quick", quick.version, answers,
                                started_at=FINISHED - timedelta(seconds=150),
                                finished_at=FINISHED)  # fmt: skip
    # the scales are the engine's; the pattern is the full form's, estimated from the answers
    assert replace(analysis.report, pattern=None) == replace(score(quick, answers), pattern=None)
    estimate = pipeline.follow_ups["quick"].estimate(keyed_answers(quick, answers))
    assert analysis.report.pattern is not None
    assert analysis.report.pattern.probabilities == estimate.probabilities
    assert analysis.follow_up == (), "a clear result asks nothing more"
    assert analysis.outputs.version == pipeline.models["quick"].version  # type: ignore[union-attr]
    assert analysis.interpretation.fired_rules, "the rules ran"
    assert analysis.report.pattern is not None
    assert analysis.report.pattern.closest == "anxious-preoccupied"
    cautions = [c.text.id for c in analysis.interpretation.cautions]
    assert "too-fast" not in cautions, "150 s for 12 statements is not too fast"
    ten_seconds = FINISHED - timedelta(seconds=10)
    hurried = pipeline.analyse("quick", quick.version, answers, started_at=ten_seconds,
                               finished_at=FINISHED)  # fmt: skip
    assert "too-fast" in [c.text.id for c in hurried.interpretation.cautions]


def test_a_gone_instrument_version_and_bad_answers_are_refused() -> None:
    pipeline = shipped()
    with pytest.raises(OutdatedInstrument):
        pipeline.analyse("quick", "0.0.1", {}, finished_at=FINISHED)
    with pytest.raises(OutdatedInstrument):
        pipeline.analyse("no-such-form", "1.0.0", {}, finished_at=FINISHED)
    assert pipeline.instrument("quick", "0.0.1") is None
    assert pipeline.instrument("quick") is pipeline.bank["quick"]
    with pytest.raises(AnswerError):
        pipeline.analyse("quick", pipeline.bank["quick"].version, {"q01": 9},
                         finished_at=FINISHED)  # fmt: skip


def test_report_data_carries_the_settings_it_was_loaded_with() -> None:
    pipeline = replace(shipped(), base_url="https://clinic.example.net/sb",
                       crisis_contacts=("Clinic line: 0800 000 000",))  # fmt: skip
    quick = pipeline.bank["quick"]
    analysis = pipeline.analyse("quick", quick.version, anxious_answers(pipeline),
                                finished_at=FINISHED)  # fmt: skip
    client = pipeline.report_data(analysis, receipt="ABCD-EFGH", kind="client")
    assert client["receipt"] == "ABCD-EFGH"
    assert all(s["url"].startswith("https://clinic.example.net/sb/steps/") for s in client["steps"])
    assert "Clinic line: 0800 000 000" in str(client["help"])
    therapist = pipeline.report_data(analysis, receipt=None, kind="therapist")
    assert len(therapist["items"]) == len(quick.items) and "items" not in client


def test_loading_refuses_what_would_break_later(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="DEFAULT_INSTRUMENT"):
        Pipeline.load({**defaults(), "DEFAULT_INSTRUMENT": "nope"})
    with pytest.raises(ValueError, match="base_url"):
        Pipeline.load({**defaults(), "BASE_URL": "javascript:alert(1)"})


def test_the_report_version_follows_content_rules_and_templates() -> None:
    pipeline = shipped()
    assert len(pipeline.report_version) == 16
    assert pipeline.report_version == Pipeline.load({**defaults()}).report_version
    other_rules = replace(pipeline.interpreter,
                          rules=replace(pipeline.interpreter.rules, version="test-2"))  # fmt: skip
    assert replace(pipeline, interpreter=other_rules).report_version != pipeline.report_version


def test_it_analyses_and_renders_without_flask() -> None:
    code = """
import sys
from datetime import UTC, datetime
from quizapp.config import defaults
from quizapp.pipeline.pipeline import Pipeline
from quizapp.reports.render import render_pdf
pipeline = Pipeline.load(defaults())
quick = pipeline.bank["quick"]
answers = {item_id: 1 + i % 5 for i, item_id in enumerate(quick.item_ids)}
analysis = pipeline.analyse("quick", quick.version, answers, finished_at=datetime.now(UTC))
data = pipeline.report_data(analysis, receipt=None, kind="client")
pdf = render_pdf(data, "client", page_size="A4", templates_dir=pipeline.templates_dir)
assert pdf.startswith(b"%PDF"), pdf[:20]
loaded = {name.split(".")[0] for name in sys.modules}
print(" ".join(sorted(loaded & {"flask", "werkzeug", "flask_wtf", "sqlalchemy", "weasyprint"})))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["weasyprint"], "no web, no database: only the renderer"
