"""Complete report inputs for two clearly different people, from the shipped items, content,
rules and models: for the tests, the render benchmark and the README images.

Answer patterns are keyed levels (1 = secure end, 5 = insecure end) per scale, turned into
raw answers by reversing the reverse-keyed items, so each pattern means what its name says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from ..config import DEFAULTS
from ..interpret.interpretation import interpret
from ..interpret.loading import Interpreter, load_interpreter
from ..ml.predict import model_outputs
from ..ml.training import LoadedModels, load_bundle
from ..scoring.engine import score
from ..scoring.instrument import Instrument, load_bank
from .data import report_data
from .therapist_content import TherapistContent, load_therapist_content

REPO_ROOT = Path(__file__).resolve().parents[2]

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


@dataclass(frozen=True)
class Shipped:
    bank: dict[str, Instrument]
    interpreter: Interpreter
    models: dict[str, LoadedModels | None]
    therapist: TherapistContent


@cache
def shipped(root: Path = REPO_ROOT) -> Shipped:
    """The shipped item bank, content, rules, models and therapist content (loaded once)."""
    bank = load_bank(root / "items")
    interpreter = load_interpreter(root / "content", root / "rules" / "interpretation.toml", bank)
    models = {i.id: load_bundle(root / "models", i) for i in bank.values()}
    therapist = load_therapist_content(root / "content" / "therapist.toml")
    return Shipped(bank, interpreter, models, therapist)


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
        answers[item.id] = rs.min + rs.max - level if item.reverse else level
    return answers


def sample_inputs(pattern: str = "anxious", instrument_id: str = "quick") -> dict[str, Any]:
    """Keyword arguments for :func:`~quizapp.reports.data.report_data` (all but ``kind``)."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {sorted(PATTERNS)}, not {pattern!r}")
    ship = shipped()
    instrument = ship.bank[instrument_id]
    answers = raw_answers(instrument, *PATTERNS[pattern])
    report = score(instrument, answers)
    outputs = model_outputs(ship.models.get(instrument.id), instrument, answers, report)
    content, rules = ship.interpreter.content, ship.interpreter.rules
    interpretation = interpret(
        instrument, answers, report, content, rules, outputs, seconds=SECONDS
    )
    return {
        "instrument": instrument,
        "answers": answers,
        "report": report,
        "interpretation": interpretation,
        "content": content,
        "therapist_content": ship.therapist,
        "receipt": RECEIPTS[pattern],
        "finished_at": FINISHED_AT,
        "base_url": BASE_URL,
        "crisis_contacts": list(DEFAULTS["CRISIS_CONTACTS"]),
        "outputs": outputs,
        "rules": rules,
    }


def sample_data(pattern: str = "anxious", kind: str = "client", **overrides: Any) -> dict[str, Any]:
    """Plain template data for a sample person; ``overrides`` replace report_data arguments."""
    return report_data(**{**sample_inputs(pattern), **overrides}, kind=kind)
