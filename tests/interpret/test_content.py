"""Report content as data: the shipped content/ folder, and broken copies of it.

Every broken variant is the shipped folder copied to tmp_path with one edit, so each test
shows that one specific mistake is caught, named, and listed with any other mistakes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from quizapp.interpret.content import Content, ContentError, load_content
from quizapp.scoring.instrument import Instrument, load_bank, load_instrument

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
ITEMS = REPO / "items"

ADVICE = {
    "therapy-can-help",
    "strongly-consider-therapy",
    "both-dimensions-high",
    "anxiety-focused-help",
    "avoidance-focused-help",
    "distress-signals",
    "couples-work",
}
CAUTIONS = {"same-answer", "contradictory", "random-pattern", "too-fast"}


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(ITEMS)


@pytest.fixture(scope="module")
def themes(bank: dict[str, Instrument]) -> set[str]:
    return {theme for instrument in bank.values() for theme in instrument.themes}


@pytest.fixture(scope="module")
def content(themes: set[str]) -> Content:
    return load_content(CONTENT, themes)


# --- the shipped content -----------------------------------------------------------------------


def test_eight_steps_numbered_one_to_eight_with_three_actions(content: Content) -> None:
    assert [s.number for s in content.steps] == list(range(1, 9))
    assert len({s.id for s in content.steps}) == 8
    for step in content.steps:
        assert len(step.actions) == 3, step.id
        assert all(action.strip() for action in step.actions), step.id
        assert step.strategies, step.id
        assert set(step.strategies) <= set(content.strategies), step.id


def test_six_strategies(content: Content) -> None:
    assert len(content.strategies) == 6
    assert all(s.id == key for key, s in content.strategies.items())


def test_every_theme_of_the_full_form_has_a_trigger_and_a_strength(content: Content) -> None:
    full = load_instrument(ITEMS / "full.toml")
    assert len(full.themes) == 17
    trigger_themes = {t for e in content.triggers for t in e.themes}
    strength_themes = {t for e in content.strengths for t in e.themes}
    assert set(full.themes) - trigger_themes == set()
    assert set(full.themes) - strength_themes == set()
    assert {e.kind for e in content.triggers} == {"trigger"}
    assert {e.kind for e in content.strengths} == {"strength"}


def test_catalogue_points_at_real_steps(content: Content) -> None:
    step_ids = {s.id for s in content.steps}
    for entry in content.triggers + content.strengths:
        assert entry.steps, entry.id
        assert set(entry.steps) <= step_ids, entry.id


def test_advice_cautions_and_help(content: Content) -> None:
    assert set(content.advice) == ADVICE
    assert set(content.cautions) == CAUTIONS
    for advice in content.advice.values():
        assert set(advice.refs) <= set(content.approaches), advice.id
    assert content.disclaimer.startswith("Secure Base is a self-reflection tool")
    assert "not a diagnosis" in content.disclaimer
    assert content.crisis
    assert content.signs
    assert content.version == "catalogue 1.0.0, steps 1.0.0, help 1.0.0"


def test_step_lookup(content: Content) -> None:
    assert content.step("notice-your-moves").number == 1
    assert content.step("small-daily-rituals").number == 8


def test_without_a_bank_themes_are_not_checked(tmp_path: Path) -> None:
    folder = copied(tmp_path)
    unknown_theme_in_trigger(folder)
    assert len(load_content(folder).triggers) == 12


# --- broken copies -----------------------------------------------------------------------------

Edit = Callable[[Path], str]  # edits a copied content folder, returns the problem expected


def copied(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    return folder


def edit_block(path: Path, block_id: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the [[...]] block whose id is ``block_id``."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f'id = "{block_id}"')
    end = text.find("[[", start)
    end = len(text) if end == -1 else end
    block = text[start:end]
    assert block.count(old) == 1, f"{old!r} should occur once in {block_id}"
    path.write_text(text[:start] + block.replace(old, new) + text[end:], encoding="utf-8")


def unknown_step_in_trigger(folder: Path) -> str:
    edit_block(
        folder / "catalogue.toml", "fear-of-being-left", '"repair-after-distance"', '"no-such-step"'
    )
    return "triggers/fear-of-being-left: unknown step 'no-such-step'"


def duplicate_trigger_id(folder: Path) -> str:
    edit_block(
        folder / "catalogue.toml",
        "dread-of-being-alone",
        '"dread-of-being-alone"',
        '"fear-of-being-left"',
    )
    return "triggers and strengths: id 'fear-of-being-left' is used twice"


def duplicate_step_id(folder: Path) -> str:
    edit_block(
        folder / "steps.toml",
        "small-daily-rituals",
        '"small-daily-rituals"',
        '"stay-through-conflict"',
    )
    return "steps: id 'stay-through-conflict' is used twice"


def duplicate_strategy_id(folder: Path) -> str:
    edit_block(
        folder / "steps.toml", "regular-check-ins", '"regular-check-ins"', '"pause-not-exit"'
    )
    return "strategies: id 'pause-not-exit' is used twice"


def duplicate_advice_id(folder: Path) -> str:
    edit_block(folder / "help.toml", "couples-work", '"couples-work"', '"distress-signals"')
    return "'distress-signals' is used twice"


def duplicate_caution_id(folder: Path) -> str:
    edit_block(folder / "help.toml", "too-fast", '"too-fast"', '"contradictory"')
    return "'contradictory' is used twice"


def two_actions(folder: Path) -> str:
    last = '    "Finish with one line: I felt ___, and what I wanted was ___.",\n'
    edit_block(folder / "steps.toml", "notice-your-moves", last, "")
    return "steps.toml: steps/0/actions: "


def missing_disclaimer(folder: Path) -> str:
    path = folder / "help.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("disclaimer =")]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")
    return "help.toml: (top level): 'disclaimer' is a required property"


def unknown_theme_in_trigger(folder: Path) -> str:
    edit_block(folder / "catalogue.toml", "wanting-closeness-fast", '"merging"', '"mergeing"')
    return "triggers/wanting-closeness-fast: theme 'mergeing' is in no instrument"


def unknown_theme_in_strength(folder: Path) -> str:
    edit_block(
        folder / "catalogue.toml", "independent-and-open", '"independence"', '"independance"'
    )
    return "strengths/independent-and-open: theme 'independance' is in no instrument"


def unknown_theme_in_step(folder: Path) -> str:
    # steps.toml: its themes "are the item theme tags defined in items/full.toml [themes]"
    edit_block(folder / "steps.toml", "space-that-feels-safe", '"reassurance"', '"reasurance"')
    return "'reasurance'"


def problems_of(folder: Path, themes: set[str]) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(folder, themes)
    message = str(caught.value)
    assert message.startswith(f"{folder}: {len(caught.value.problems)} problem(s)")
    for problem in caught.value.problems:
        assert f"\n  - {problem}" in message
    return caught.value.problems


def listed(expected: str, problems: list[str]) -> bool:
    return any(expected in p for p in problems)


def test_the_copy_itself_loads(tmp_path: Path, themes: set[str]) -> None:
    load_content(copied(tmp_path), themes)


@pytest.mark.parametrize(
    "edit",
    [
        unknown_step_in_trigger,
        duplicate_trigger_id,
        duplicate_step_id,
        duplicate_strategy_id,
        two_actions,
        missing_disclaimer,
        unknown_theme_in_trigger,
        unknown_theme_in_strength,
    ],
)
def test_a_broken_copy_names_its_problem(tmp_path: Path, themes: set[str], edit: Edit) -> None:
    folder = copied(tmp_path)
    expected = edit(folder)
    problems = problems_of(folder, themes)
    assert listed(expected, problems), problems


def test_two_actions_is_reported_as_too_short(tmp_path: Path, themes: set[str]) -> None:
    folder = copied(tmp_path)
    two_actions(folder)
    problems = problems_of(folder, themes)
    assert len(problems) == 1
    assert problems[0].endswith("is too short")


@pytest.mark.parametrize("edit", [duplicate_advice_id, duplicate_caution_id])
def test_duplicate_advice_or_caution_id_is_caught(
    tmp_path: Path, themes: set[str], edit: Edit
) -> None:
    # Rules choose advice and cautions by id; a second block with the same id silently
    # replaces the first in the loaded mapping, so one of the two texts could never be shown.
    folder = copied(tmp_path)
    expected = edit(folder)
    assert listed(expected, problems_of(folder, themes))


def test_unknown_theme_in_a_step_is_caught(tmp_path: Path, themes: set[str]) -> None:
    folder = copied(tmp_path)
    expected = unknown_theme_in_step(folder)
    assert listed(expected, problems_of(folder, themes))


def test_several_cross_reference_problems_are_all_listed(tmp_path: Path, themes: set[str]) -> None:
    folder = copied(tmp_path)
    edits = [unknown_step_in_trigger, duplicate_trigger_id, unknown_theme_in_trigger]
    expected = [edit(folder) for edit in edits]
    problems = problems_of(folder, themes)
    assert len(problems) == 3
    assert all(listed(want, problems) for want in expected), problems


def test_several_schema_problems_in_different_files_are_all_listed(
    tmp_path: Path, themes: set[str]
) -> None:
    folder = copied(tmp_path)
    expected = [two_actions(folder), missing_disclaimer(folder)]
    problems = problems_of(folder, themes)
    assert len(problems) == 2
    assert all(listed(want, problems) for want in expected), problems


def test_every_kind_of_problem_at_once_is_listed(tmp_path: Path, themes: set[str]) -> None:
    # The project rule: loading collects every problem and raises one error listing them all
    # (the instrument loader lists schema and cross-reference problems together). A short
    # action list in steps.toml must not hide an unknown step in catalogue.toml.
    folder = copied(tmp_path)
    edits = [
        unknown_step_in_trigger,
        duplicate_trigger_id,
        two_actions,
        missing_disclaimer,
        unknown_theme_in_trigger,
    ]
    expected = [edit(folder) for edit in edits]
    problems = problems_of(folder, themes)
    missing = [want for want in expected if not listed(want, problems)]
    assert missing == [], f"not listed: {missing}; listed: {problems}"


@pytest.mark.parametrize("name", ["catalogue.toml", "steps.toml", "help.toml"])
def test_a_missing_file_is_a_problem(tmp_path: Path, themes: set[str], name: str) -> None:
    folder = copied(tmp_path)
    (folder / name).unlink()
    problems = problems_of(folder, themes)
    assert len(problems) == 1
    assert problems[0].startswith(f"{name}: cannot be read")


def test_invalid_toml_is_a_problem(tmp_path: Path, themes: set[str]) -> None:
    folder = copied(tmp_path)
    (folder / "help.toml").write_text("schema_version = = 1\n", encoding="utf-8")
    problems = problems_of(folder, themes)
    assert len(problems) == 1
    assert problems[0].startswith("help.toml: cannot be read")
