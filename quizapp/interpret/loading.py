"""Load the content and the rule table together, checked against each other and the bank."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..scoring.instrument import Instrument
from .content import Content, load_content
from .rules import RuleTable, load_rules


@dataclass(frozen=True)
class Interpreter:
    content: Content
    rules: RuleTable


def load_interpreter(
    content_dir: str | Path, rules_file: str | Path, bank: Mapping[str, Instrument]
) -> Interpreter:
    themes = {theme for instrument in bank.values() for theme in instrument.themes}
    content = load_content(content_dir, themes)
    known = {
        "steps": {s.id for s in content.steps},
        "advice": set(content.advice),
        "cautions": set(content.cautions),
        "themes": themes,
    }
    return Interpreter(content, load_rules(rules_file, known))
