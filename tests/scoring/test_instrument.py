"""Loading and validating instrument files: shipped files load, broken ones list every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from numpy.testing import assert_allclose

from quizapp.scoring.engine import score
from quizapp.scoring.instrument import (
    Instrument,
    InstrumentError,
    load_bank,
    load_instrument,
    parse_instrument,
)

from .conftest import ITEMS, TINY_ITEMS, WriteInstrument, tiny_data, tiny_norms

SHIPPED = [*sorted(ITEMS.glob("*.toml")), ITEMS / "reference" / "ecr.toml"]


def test_there_are_shipped_instruments() -> None:
    assert [p.name for p in SHIPPED] == ["full.toml", "quick.toml", "ecr.toml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_instrument_loads(path: Path) -> None:
    instrument = load_instrument(path)
    assert set(instrument.scales) == {"anxiety", "avoidance"}
    assert len(set(instrument.item_ids)) == len(instrument.items)
    for scale in instrument.scales.values():
        assert 1 <= scale.min_answered <= len(scale.item_ids)


def test_item_bank_holds_the_administered_forms() -> None:
    bank = load_bank(ITEMS)
    assert sorted(bank) == ["full", "quick"]
    assert len(bank["quick"].items) == 12
    assert len(bank["full"].items) == 36
    for instrument in bank.values():
        assert instrument.norms is not None
        assert set(instrument.norms.scales) == {"anxiety", "avoidance"}


def test_ecr_reference_key_matches_the_published_key() -> None:
    """The README's key: odd items avoidance, even items anxiety; R = 3 15 19 25 ... 35, 22."""
    ecr = load_instrument(ITEMS / "reference" / "ecr.toml")
    assert ecr.item_ids == tuple(f"Q{i}" for i in range(1, 37))
    assert (ecr.response_scale.min, ecr.response_scale.max) == (1, 5)
    assert ecr.scales["avoidance"].item_ids == tuple(f"Q{i}" for i in range(1, 37, 2))
    assert ecr.scales["anxiety"].item_ids == tuple(f"Q{i}" for i in range(2, 37, 2))
    reverse = {int(item.id[1:]) for item in ecr.items if item.reverse}
    assert reverse == {3, 15, 19, 25, 27, 29, 31, 33, 35, 22}
    assert ecr.norms is None


# --- broken files: one error that lists every problem ---------------------------------------


def _problems(path: Path) -> list[str]:
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    assert caught.value.source == str(path)
    # The message lists every problem too (it is what `quizapp items validate` prints).
    for problem in caught.value.problems:
        assert problem in str(caught.value)
    return caught.value.problems


def _duplicate_id(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["items"][2]["id"] = "a1"


def _unknown_scale(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["items"][0]["scale"] = "jealousy"


def _undeclared_theme(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["items"][1]["themes"] = ["distance", "ghosts"]


def _too_few_labels(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["response_scale"]["labels"] = data["response_scale"]["labels"][:4]


def _min_answered_too_big(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["scales"]["avoidance"]["min_answered"] = 5


def _norms_for_other_version(data: dict[str, Any], norms: dict[str, Any]) -> None:
    norms["instrument_version"] = "2.0.0"


def _norms_schema_version(data: dict[str, Any], norms: dict[str, Any]) -> None:
    norms["schema_version"] = 2


def _unknown_top_level_key(data: dict[str, Any], norms: dict[str, Any]) -> None:
    data["colour"] = "blue"


BROKEN = {
    "duplicate item id": (_duplicate_id, ["items/2 (a1): duplicate item id"]),
    "unknown scale": (_unknown_scale, ["items/0 (a1): unknown scale 'jealousy'"]),
    "undeclared theme": (
        _undeclared_theme,
        ["items/1 (v1): theme 'ghosts' is not declared in [themes]"],
    ),
    "too few labels": (_too_few_labels, ["response_scale: 4 labels for 5 points"]),
    "min_answered > items": (
        _min_answered_too_big,
        ["scales/avoidance: min_answered 5 exceeds 4 items"],
    ),
    "norms for another version": (
        _norms_for_other_version,
        ["norms norms/tiny.json: norms are for tiny 2.0.0, not tiny 1.0.0"],
    ),
    "norms schema version": (_norms_schema_version, ["norms norms/tiny.json: schema_version:"]),
    "unknown top-level key": (_unknown_top_level_key, ["'colour' was unexpected"]),
}


@pytest.mark.parametrize("case", BROKEN, ids=str)
def test_broken_file_names_its_one_problem(case: str, write_instrument: WriteInstrument) -> None:
    breaker, expected = BROKEN[case]
    data, norms = tiny_data(), tiny_norms()
    breaker(data, norms)
    problems = _problems(write_instrument(data, norms))
    assert len(problems) == 1, problems
    assert expected[0] in problems[0]


def test_several_problems_are_all_listed_in_one_error(write_instrument: WriteInstrument) -> None:
    data, norms = tiny_data(), tiny_norms()
    for breaker in (
        _duplicate_id,
        _unknown_scale,
        _undeclared_theme,
        _too_few_labels,
        _min_answered_too_big,
        _norms_for_other_version,
    ):
        breaker(data, norms)
    problems = _problems(write_instrument(data, norms))
    expected = [
        "response_scale: 4 labels for 5 points",
        "items/0 (a1): unknown scale 'jealousy'",
        "items/1 (v1): theme 'ghosts' is not declared in [themes]",
        "items/2 (a1): duplicate item id",
        "scales/avoidance: min_answered 5 exceeds 4 items",
        "norms norms/tiny.json: norms are for tiny 2.0.0, not tiny 1.0.0",
    ]
    assert sorted(problems) == sorted(expected)


def test_several_schema_problems_are_all_listed(write_instrument: WriteInstrument) -> None:
    data = tiny_data(norms=None)
    data["colour"] = "blue"
    data["version"] = "1.0"
    del data["items"][3]["text"]
    problems = _problems(write_instrument(data))
    assert len(problems) == 3, problems
    assert any("'colour' was unexpected" in p for p in problems)
    assert any(p.startswith("version:") and "'1.0'" in p for p in problems)
    assert any(p.startswith("items/3:") and "'text' is a required property" in p for p in problems)


def test_schema_and_cross_field_problems_are_listed_together(
    write_instrument: WriteInstrument,
) -> None:
    """The loader promises every problem in one error, not one kind of problem per run."""
    data = tiny_data(norms=None)
    data["colour"] = "blue"  # schema problem
    data["items"][2]["id"] = "a1"  # cross-field problem (duplicate id)
    problems = _problems(write_instrument(data))
    assert any("'colour' was unexpected" in p for p in problems), problems
    assert any("duplicate item id" in p for p in problems), problems


def test_missing_norms_file_is_a_problem(write_instrument: WriteInstrument) -> None:
    problems = _problems(write_instrument(tiny_data()))  # norms file not written
    assert len(problems) == 1
    assert problems[0].startswith("norms file ") and "cannot be read" in problems[0]


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    assert "cannot be read" in _problems(tmp_path / "absent.toml")[0]
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x\n', encoding="utf-8")
    assert "not valid TOML" in _problems(bad)[0]


def test_bank_lists_problems_of_every_file(
    tmp_path: Path, write_instrument: WriteInstrument
) -> None:
    one, two = tiny_data(norms=None), tiny_data(norms=None)
    _duplicate_id(one, {})
    _too_few_labels(two, {})
    write_instrument(one, name="one")
    write_instrument(two, name="two")
    with pytest.raises(InstrumentError) as caught:
        load_bank(tmp_path)
    assert sorted(caught.value.problems) == [
        "one.toml: items/2 (a1): duplicate item id",
        "two.toml: response_scale: 4 labels for 5 points",
    ]


def test_tiny_instrument_loads_with_its_norms(tiny_path: Path) -> None:
    instrument = load_instrument(tiny_path)
    assert instrument.item_ids == tuple(item_id for item_id, _, _ in TINY_ITEMS)
    assert instrument.scales["anxiety"].item_ids == ("a1", "a2", "a3", "a4")
    assert instrument.scales["avoidance"].item_ids == ("v1", "v2", "v3", "v4")
    assert instrument.norms is not None
    # SEM = SD * sqrt(1 - r): 0.8 * sqrt(0.16) = 0.32; 1.0 * sqrt(0.25) = 0.5
    assert_allclose(instrument.norms.scales["anxiety"].sem, 0.32, rtol=1e-12)
    assert_allclose(instrument.norms.scales["avoidance"].sem, 0.5, rtol=1e-12)


# --- an ECR-R-style instrument: 36 items on a 7-point scale, no norms -----------------------

# ECR-R layout: items 1-18 anxiety, 19-36 avoidance; reverse-keyed 9, 11 (anxiety) and
# 20, 22, 26, 27, 28, 29, 30, 31, 33, 34, 35, 36 (avoidance). Keying on 1..7 is 8 - x.
ECRR_REVERSE = {9, 11, 20, 22, 26, 27, 28, 29, 30, 31, 33, 34, 35, 36}


def _ecrr_data() -> dict[str, Any]:
    data = tiny_data(norms=None)
    data["id"] = "ecr-r-style"
    data["response_scale"] = {"min": 1, "max": 7, "labels": [f"point {i}" for i in range(1, 8)]}
    data["scales"]["anxiety"]["min_answered"] = 14
    data["scales"]["avoidance"]["min_answered"] = 14
    data["items"] = [
        {
            "id": f"R{i}",
            "scale": "anxiety" if i <= 18 else "avoidance",
            "reverse": i in ECRR_REVERSE,
            "text": f"Statement {i}",
        }
        for i in range(1, 37)
    ]
    return data


@pytest.fixture
def ecrr(write_instrument: WriteInstrument) -> Instrument:
    return load_instrument(write_instrument(_ecrr_data(), name="ecrr"))


def test_ecrr_style_instrument_loads(ecrr: Instrument) -> None:
    assert len(ecrr.items) == 36
    assert ecrr.response_scale.values == (1, 2, 3, 4, 5, 6, 7)
    assert ecrr.norms is None
    assert len(ecrr.scales["anxiety"].item_ids) == 18
    assert len(ecrr.scales["avoidance"].item_ids) == 18
    assert ecrr.response_scale.reverse(7) == 1
    assert ecrr.response_scale.reverse(2) == 6


def test_ecrr_style_all_sevens(ecrr: Instrument) -> None:
    report = score(ecrr, {f"R{i}": 7 for i in range(1, 37)})
    # anxiety: 16 forward items at 7, 2 reverse items at 8 - 7 = 1: (16*7 + 2*1)/18 = 114/18
    # avoidance: 6 forward at 7, 12 reverse at 1: (6*7 + 12*1)/18 = 54/18 = 3
    assert_allclose(report.scales["anxiety"].score, 114 / 18, rtol=1e-12)
    assert_allclose(report.scales["avoidance"].score, 3.0, rtol=1e-12)
    # No norms: no error band, no percentile, no pattern.
    assert report.scales["anxiety"].sem is None
    assert report.scales["anxiety"].band is None
    assert report.scales["anxiety"].percentile is None
    assert report.pattern is None


def _cycling() -> dict[str, int | None]:
    """Item i answered ((i - 1) mod 7) + 1: 1, 2, ..., 7, 1, 2, ..."""
    return {f"R{i}": (i - 1) % 7 + 1 for i in range(1, 37)}


def test_ecrr_style_cycling_answers(ecrr: Instrument) -> None:
    report = score(ecrr, _cycling())
    # anxiety raw 1..7, 1..7, 1 2 3 4: 28 + 28 + 10 = 66; item 9 (raw 2) keys to 6 (+4),
    #   item 11 (raw 4) keys to 4 (+0): 70 / 18
    # avoidance, items 19..36 raw 5 6 7 1 2 3 4 5 6 7 1 2 3 4 5 6 7 1:
    #   forward 19, 21, 23, 24, 25, 32 -> 5 + 7 + 2 + 3 + 4 + 4 = 25
    #   reverse 20, 22, 26, 27, 28, 29, 30, 31, 33, 34, 35, 36 (raw 6 1 5 6 7 1 2 3 5 6 7 1)
    #     -> 2 + 7 + 3 + 2 + 1 + 7 + 6 + 5 + 3 + 2 + 1 + 7 = 46;  (25 + 46) / 18 = 71 / 18
    assert_allclose(report.scales["anxiety"].score, 70 / 18, rtol=1e-12)
    assert_allclose(report.scales["avoidance"].score, 71 / 18, rtol=1e-12)
    assert report.scales["anxiety"].answered == 18
    assert not report.scales["anxiety"].prorated


def test_ecrr_style_prorated_and_too_few(ecrr: Instrument) -> None:
    answers = _cycling()
    for i in range(1, 5):  # items 1-4 (raw 1 2 3 4) unanswered: 70 - 10 = 60 over 14 items
        answers[f"R{i}"] = None
    report = score(ecrr, answers)
    assert_allclose(report.scales["anxiety"].score, 60 / 14, rtol=1e-12)
    assert report.scales["anxiety"].answered == 14
    assert report.scales["anxiety"].prorated
    answers["R5"] = None  # 13 answered < min_answered 14
    report = score(ecrr, answers)
    assert report.scales["anxiety"].score is None
    assert report.scales["anxiety"].answered == 13
    assert not report.scales["anxiety"].prorated
    assert_allclose(report.scales["avoidance"].score, 71 / 18, rtol=1e-12)


def test_parse_instrument_without_a_file() -> None:
    instrument = parse_instrument(_ecrr_data(), source="inline")
    assert instrument.id == "ecr-r-style"
    with pytest.raises(InstrumentError) as caught:
        parse_instrument({"schema_version": 1}, source="inline")
    assert caught.value.source == "inline"
    assert len(caught.value.problems) >= 2  # every missing required key is listed
