"""Complete report inputs for two clearly different people, from the shipped items, content,
rules and models: for the tests, the render benchmark and the README images.

Answer patterns are keyed levels (1 = secure end, 5 = insecure end) per scale, turned into
raw answers by reversing the reverse-keyed items, so each pattern means what its name says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from ..config import defaults
from ..reports.data import report_data
from ..scoring.instrument import Instrument
from .pipeline import Pipeline

# Keyed levels, cycled over each scale's items in order: (anxiety, avoidance).
PATTERNS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "anxious": ((5, 4, 5, 5, 4, 5), (1, 2, 1, 1, 2, 1)),
    "avoidant": ((1, 2, 1, 2, 1, 1), (5, 4, 5, 5, 4, 5)),
}
RECEIPTS = {  # display form of made-up receipt codes (Crockford base32, 28 characters)
    "anxious": "4F7Q-M2KD-9XHB-P3TR-6WNC-J8AE-V5YS",
    "avoidant": "H9TC-3RWA-7QMZ-K2XP-5DBN-E4GJ-8VFS",
}
BASE_URL = "https://securebase.example.org"
FINISHED_AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
SECONDS = 150.0  # time taken: well above the too-fast caution


@cache
def shipped() -> Pipeline:
    """The pipeline of the shipped items, content, rules, models and templates (loaded once)."""
    return Pipeline.load({**defaults(), "BASE_URL": BASE_URL})


def raw_answers(
    instrument: Instrument, anxiety: Sequence[int], avoidance: Sequence[int]
) -> dict[str, int | None]:
    """Raw answers giving these keyed levels (cycled over each scale's items in order)."""
    rs = instrument.response_scale
    levels = {"anxiety": list(anxiety), "avoidance": list(avoidance)}
    seen = {"anxiety": 0, "avoidance": 0}
    answers: dict[str, int | None] = {}
    for item in instrument.items:
        level = levels[item.scale][seen[item.scale] % len(levels[item.scale])]
        seen[item.scale] += 1
        answers[item.id] = int(rs.reverse(level)) if item.reverse else level
    return answers


def sample_inputs(pattern: str = "anxious", instrument_id: str = "quick") -> dict[str, Any]:
    """Keyword arguments for :func:`~quizapp.reports.data.report_data` (all but ``kind``)."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {sorted(PATTERNS)}, not {pattern!r}")
    pipeline = shipped()
    instrument = pipeline.bank[instrument_id]
    answers = raw_answers(instrument, *PATTERNS[pattern])
    analysis = pipeline.analyse(
        instrument.id, instrument.version, {k: v for k, v in answers.items() if v is not None},
        started_at=FINISHED_AT - timedelta(seconds=SECONDS), finished_at=FINISHED_AT,
    )  # fmt: skip
    return {
        "instrument": instrument,
        "answers": answers,
        "report": analysis.report,
        "interpretation": analysis.interpretation,
        "content": pipeline.interpreter.content,
        "therapist_content": pipeline.therapist_content,
        "receipt": RECEIPTS[pattern],
        "finished_at": FINISHED_AT,
        "base_url": BASE_URL,
        "crisis_contacts": list(pipeline.crisis_contacts),
        "outputs": analysis.outputs,
    }


def sample_data(pattern: str = "anxious", kind: str = "client", **overrides: Any) -> dict[str, Any]:
    """Plain template data for a sample person; ``overrides`` replace report_data arguments."""
    return report_data(**{**sample_inputs(pattern), **overrides}, kind=kind)
