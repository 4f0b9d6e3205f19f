"""From answers to what the report says: the shipped models, content and rules together.

Answer patterns are written as keyed levels (1 = secure end, 5 = insecure end) per scale and
turned into raw answers here, reversing the reverse-keyed items (quick form: q03, q04, q07,
q08, q12), so each pattern means what its name says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quizapp.interpret.interpretation import Interpretation, ModelOutputs, interpret
from quizapp.interpret.loading import Interpreter, load_interpreter
from quizapp.ml.compiled import CompiledModels, load_compiled
from quizapp.ml.predict import model_outputs
from quizapp.pipeline.sample import raw_answers
from quizapp.scoring.engine import score
from quizapp.scoring.instrument import Instrument, load_bank

REPO = Path(__file__).resolve().parents[2]

# Keyed levels, item by item within each scale (cycled), anxiety then avoidance.
PATTERNS: dict[str, tuple[list[int], list[int]]] = {
    "anxious": ([5, 4, 5, 5, 4, 5], [1, 2, 1, 1, 2, 1]),
    "avoidant": ([1, 2, 1, 2, 1, 1], [5, 4, 5, 5, 4, 5]),
    "secure": ([1, 2, 1, 1, 2, 1], [2, 1, 1, 2, 1, 1]),
    "fearful": ([5, 4, 5, 5, 4, 5], [5, 5, 4, 5, 4, 5]),
}
ALWAYS = "therapy-can-help"


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(REPO / "items")


@pytest.fixture(scope="module")
def interpreter(bank: dict[str, Instrument]) -> Interpreter:
    return load_interpreter(REPO / "content", REPO / "rules" / "interpretation.toml", bank)


@pytest.fixture(scope="module")
def models(bank: dict[str, Instrument]) -> dict[str, CompiledModels]:
    loaded = {name: load_compiled(REPO / "models", bank[name]) for name in ("quick", "full")}
    missing = [name for name, m in loaded.items() if m is None]
    assert not missing, f"no shipped models for {missing} in {REPO / 'models'}"
    return {name: m for name, m in loaded.items() if m is not None}


def run(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    interpreter: Interpreter,
    loaded: CompiledModels | None,
    *,
    seconds: float | None = 120.0,
) -> Interpretation:
    report = score(instrument, answers)
    outputs = model_outputs(loaded, instrument, answers, report)
    return interpret(
        instrument,
        answers,
        report,
        interpreter.content,
        interpreter.rules,
        outputs,
        seconds=seconds,
    )


def theme_scales(instrument: Instrument) -> dict[str, str]:
    scales: dict[str, set[str]] = {}
    for item in instrument.items:
        for theme in item.themes:
            scales.setdefault(theme, set()).add(item.scale)
    assert all(len(s) == 1 for s in scales.values()), scales  # each theme is one scale's
    return {theme: s.pop() for theme, s in scales.items()}


@pytest.fixture(scope="module")
def trigger_scale(bank: dict[str, Instrument], interpreter: Interpreter) -> dict[str, str]:
    """Each trigger's scale (anxiety or avoidance), from the full form's item themes."""
    scales = theme_scales(bank["full"])
    result = {}
    for entry in interpreter.content.triggers:
        (scale,) = {scales[t] for t in entry.themes}
        result[entry.id] = scale
    return result


@pytest.fixture(scope="module")
def oriented_steps(interpreter: Interpreter, trigger_scale: dict[str, str]) -> dict[str, set[str]]:
    """Steps the catalogue mostly gives for anxiety triggers, and for avoidance triggers."""
    count = {s.id: {"anxiety": 0, "avoidance": 0} for s in interpreter.content.steps}
    for entry in interpreter.content.triggers:
        for step in entry.steps:
            count[step][trigger_scale[entry.id]] += 1
    anxiety = {s for s, c in count.items() if c["anxiety"] >= 3 and c["avoidance"] <= 1}
    avoidance = {s for s, c in count.items() if c["avoidance"] >= 2 > c["anxiety"]}
    assert anxiety == {
        "know-your-triggers",
        "repair-after-distance",
        "space-that-feels-safe",
        "small-daily-rituals",
    }
    assert avoidance == {"share-small-truths", "small-steps-closer"}
    return {"anxiety": anxiety, "avoidance": avoidance}


def ids(interpretation: Interpretation) -> dict[str, list[str]]:
    return {
        "triggers": [f.entry.id for f in interpretation.triggers],
        "strengths": [f.entry.id for f in interpretation.strengths],
        "steps": [s.step.id for s in interpretation.steps],
        "advice": [a.text.id for a in interpretation.advice],
        "cautions": [c.text.id for c in interpretation.cautions],
    }


def mean_rank(steps: list[str], chosen: set[str]) -> float:
    return float(np.mean([steps.index(s) for s in chosen]))


# --- invariants of any interpretation ----------------------------------------------------------


def check_invariants(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    result: Interpretation,
    interpreter: Interpreter,
) -> None:
    table_ids = {r.id for r in interpreter.rules.rules}
    assert set(result.fired_rules) <= table_ids
    assert len(result.fired_rules) == len(set(result.fired_rules))
    advice = [a.text.id for a in result.advice]
    assert ALWAYS in advice
    assert len(advice) == len(set(advice))
    for said in result.advice + result.cautions:
        assert said.rules and set(said.rules) <= set(result.fired_rules)
    # every healing step once, highest weight first, then by number
    steps = result.steps
    assert sorted(s.step.number for s in steps) == list(range(1, 9))
    assert [(-s.weight, s.step.number) for s in steps] == sorted(
        (-s.weight, s.step.number) for s in steps
    )
    for ranked in steps:
        assert set(ranked.rules) <= set(result.fired_rules)
        assert (ranked.weight != 0) <= bool(ranked.rules)
    labels = instrument.response_scale.labels
    rs = instrument.response_scale
    for finding in result.triggers + result.strengths:
        assert finding.rules and set(finding.rules) <= set(result.fired_rules)
        assert 1 <= len(finding.evidence) <= 2, finding.entry.id
        for evidence in finding.evidence:
            item = instrument.item(evidence.item_id)
            given_answer = answers[evidence.item_id]
            assert given_answer is not None
            assert evidence.answer == labels[given_answer - rs.min]
            assert evidence.text == item.text
            assert set(item.themes) & set(finding.entry.themes), (item.id, finding.entry.id)
    trigger_z = [f.z for f in result.triggers if f.z is not None]
    assert trigger_z == sorted(trigger_z, reverse=True)  # strongest first
    strength_z = [f.z for f in result.strengths if f.z is not None]
    assert strength_z == sorted(strength_z)
    assert result.rules_version == "1.0.0"


# --- the four patterns on the quick form -------------------------------------------------------


@pytest.fixture(scope="module")
def quick_results(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> dict[str, Interpretation]:
    quick = bank["quick"]
    return {
        name: run(quick, raw_answers(quick, *levels), interpreter, models["quick"])
        for name, levels in PATTERNS.items()
    }


def test_patterns_are_written_as_intended(bank: dict[str, Instrument]) -> None:
    quick = bank["quick"]
    assert [i.id for i in quick.items if i.reverse] == ["q03", "q04", "q07", "q08", "q12"]
    anxious = raw_answers(quick, *PATTERNS["anxious"])
    # agrees with anxiety statements, disagrees with their reverse-worded ones
    assert (anxious["q01"], anxious["q03"], anxious["q07"]) == (5, 2, 1)
    # avoidance: disagrees with "I tend to step back", agrees with "relaxed when close"
    assert (anxious["q02"], anxious["q04"], anxious["q12"]) == (1, 4, 5)
    for name, (anxiety, avoidance) in PATTERNS.items():
        report = score(quick, raw_answers(quick, anxiety, avoidance))
        assert report.scales["anxiety"].score == pytest.approx(np.mean(anxiety)), name
        assert report.scales["avoidance"].score == pytest.approx(np.mean(avoidance)), name


def test_the_patterns_give_different_outputs(quick_results: dict[str, Interpretation]) -> None:
    seen = [ids(r) for r in quick_results.values()]
    for key in ("triggers", "strengths", "steps", "advice"):
        values = [tuple(s[key]) for s in seen]
        assert len(set(values)) >= 3, (key, values)
    assert len({tuple(s["triggers"]) for s in seen}) == 4


def test_anxious_pattern(
    quick_results: dict[str, Interpretation],
    trigger_scale: dict[str, str],
    oriented_steps: dict[str, set[str]],
) -> None:
    result = ids(quick_results["anxious"])
    assert "needing-reassurance-often" in result["triggers"]
    assert {trigger_scale[t] for t in result["triggers"]} == {"anxiety"}
    assert result["steps"][0] in oriented_steps["anxiety"]
    assert mean_rank(result["steps"], oriented_steps["anxiety"]) < mean_rank(
        result["steps"], oriented_steps["avoidance"]
    )
    assert "anxiety-focused-help" in result["advice"]
    assert "avoidance-focused-help" not in result["advice"]
    assert result["strengths"]  # secure on avoidance: leaning on others, opening up
    assert result["cautions"] == []


def test_avoidant_pattern(
    quick_results: dict[str, Interpretation],
    trigger_scale: dict[str, str],
    oriented_steps: dict[str, set[str]],
) -> None:
    result = ids(quick_results["avoidant"])
    assert "hard-to-lean-on-anyone" in result["triggers"]
    assert {trigger_scale[t] for t in result["triggers"]} == {"avoidance"}
    assert result["steps"][0] in oriented_steps["avoidance"]
    assert mean_rank(result["steps"], oriented_steps["avoidance"]) < mean_rank(
        result["steps"], oriented_steps["anxiety"]
    )
    assert "avoidance-focused-help" in result["advice"]
    assert "anxiety-focused-help" not in result["advice"]
    assert result["cautions"] == []


def test_secure_pattern(quick_results: dict[str, Interpretation]) -> None:
    result = quick_results["secure"]
    assert result.triggers == ()
    assert len(result.strengths) >= 3
    assert ids(result)["advice"] == [ALWAYS]
    assert result.cautions == ()
    assert result.steps[0].step.id == "small-daily-rituals"  # keep up what works (STP-05)


def test_fearful_pattern(
    quick_results: dict[str, Interpretation], trigger_scale: dict[str, str]
) -> None:
    result = ids(quick_results["fearful"])
    assert {trigger_scale[t] for t in result["triggers"]} == {"anxiety", "avoidance"}
    assert result["strengths"] == []
    assert "both-dimensions-high" in result["advice"]


@pytest.mark.parametrize("name", ["anxious", "avoidant", "fearful"])
def test_high_scores_get_strongly_consider_therapy(
    quick_results: dict[str, Interpretation], name: str
) -> None:
    advice = ids(quick_results[name])["advice"]
    assert advice[:2] == [ALWAYS, "strongly-consider-therapy"]
    said = {a.text.id: a.rules for a in quick_results[name].advice}
    assert said["strongly-consider-therapy"] == ("THR-02",)
    assert said[ALWAYS] == ("THR-01",)


def test_the_patterns_keep_every_invariant(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    quick_results: dict[str, Interpretation],
) -> None:
    quick = bank["quick"]
    for name, result in quick_results.items():
        check_invariants(quick, raw_answers(quick, *PATTERNS[name]), result, interpreter)


def test_evidence_quotes_the_answer_given(
    bank: dict[str, Instrument], quick_results: dict[str, Interpretation]
) -> None:
    quick = bank["quick"]
    (finding,) = [
        f for f in quick_results["anxious"].triggers if f.entry.id == "needing-reassurance-often"
    ]
    (evidence,) = finding.evidence  # q01 is the one reassurance item of the quick form
    assert (evidence.item_id, evidence.answer) == ("q01", "Strongly agree")
    assert evidence.text == quick.item("q01").text
    assert evidence.deviation is not None
    (strength,) = [
        f for f in quick_results["anxious"].strengths if f.entry.id == "able-to-lean-on-others"
    ]
    # q12 "I find it easy to ask a partner to comfort me", reverse-keyed: secure = agree
    assert [(e.item_id, e.answer) for e in strength.evidence] == [("q12", "Strongly agree")]


def test_versions_are_recorded(
    quick_results: dict[str, Interpretation],
    models: dict[str, CompiledModels],
    interpreter: Interpreter,
) -> None:
    card = json.loads((REPO / "models" / "quick.card.json").read_text(encoding="utf-8"))
    for result in quick_results.values():
        assert result.model_version == card["model_version"] == models["quick"].version
        assert result.rules_version == "1.0.0"
        assert result.content_version == interpreter.content.version
    assert card["model_version"].startswith("quick-1.0.0-")


def test_quick_form_estimates_the_full_scales(quick_results: dict[str, Interpretation]) -> None:
    for name, result in quick_results.items():
        assert set(result.full_estimates) == {"anxiety", "avoidance"}, name
        for point, low, high in result.full_estimates.values():
            assert 1.0 <= low <= point <= high <= 5.0
    anxious = quick_results["anxious"].full_estimates
    assert anxious["anxiety"][0] > 4.0 > 2.0 > anxious["avoidance"][0]


# --- validity cautions -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 3, 5])
def test_same_answer_gets_a_caution_and_still_scores(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    models: dict[str, CompiledModels],
    value: int,
) -> None:
    quick = bank["quick"]
    answers: dict[str, int | None] = dict.fromkeys(quick.item_ids, value)
    report = score(quick, answers)
    assert all(s.score is not None for s in report.scales.values())
    result = run(quick, answers, interpreter, models["quick"])
    said = {c.text.id: c.rules for c in result.cautions}
    assert said["same-answer"] == ("VAL-01",)
    assert "VAL-01" in result.fired_rules
    assert set(result.full_estimates) == {"anxiety", "avoidance"}
    assert len(result.steps) == 8
    check_invariants(quick, answers, result, interpreter)


def test_too_fast_gets_a_caution(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> None:
    quick = bank["quick"]
    answers = raw_answers(quick, *PATTERNS["secure"])
    fast = run(quick, answers, interpreter, models["quick"], seconds=10)  # 0.83 s per item
    assert [(c.text.id, c.rules) for c in fast.cautions] == [("too-fast", ("VAL-04",))]
    for seconds in (24.0, 120.0, None):  # 2 s per item is not too fast
        slow = run(quick, answers, interpreter, models["quick"], seconds=seconds)
        assert slow.cautions == (), seconds


def test_contradictory_answers_get_a_caution(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> None:
    quick = bank["quick"]
    # agree with every anxiety statement, regular and reverse-worded alike
    answers: dict[str, int | None] = {
        i.id: 5 if i.scale == "anxiety" else (1 if i.reverse else 5) for i in quick.items
    }
    result = run(quick, answers, interpreter, models["quick"])
    assert "contradictory" in ids(result)["cautions"]


# --- without models ----------------------------------------------------------------------------


def test_without_models_only_mean_based_rules_fire(
    bank: dict[str, Instrument], interpreter: Interpreter
) -> None:
    quick = bank["quick"]
    model_based = {"TRG-01", "STR-01", "VAL-03"}  # entry.z and validity.random_pattern
    for name, levels in PATTERNS.items():
        answers = raw_answers(quick, *levels)
        result = run(quick, answers, interpreter, None)
        assert result.model_version is None
        assert result.full_estimates == {}
        assert not model_based & set(result.fired_rules), name
        for finding in result.triggers + result.strengths:
            assert finding.z is None
            assert all(e.deviation is None for e in finding.evidence)
        assert all(f.mean is not None and f.mean >= 4.5 for f in result.triggers)  # TRG-02
        assert all(f.mean is not None and f.mean <= 1.5 for f in result.strengths)  # STR-02
        check_invariants(quick, answers, result, interpreter)
    result = run(quick, raw_answers(quick, *PATTERNS["anxious"]), interpreter, None)
    assert "needing-reassurance-often" in ids(result)["triggers"]


def test_models_add_triggers_the_means_alone_miss(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> None:
    quick = bank["quick"]
    answers = raw_answers(quick, [4], [2])  # moderate, no theme at the 4.5 mean
    with_models = run(quick, answers, interpreter, models["quick"])
    without = interpret(
        quick,
        answers,
        score(quick, answers),
        interpreter.content,
        interpreter.rules,
        ModelOutputs(),
        seconds=120,
    )
    assert without.triggers == ()
    assert "TRG-01" in with_models.fired_rules
    assert all(f.rules == ("TRG-01",) for f in with_models.triggers)
    assert with_models.triggers


def test_incomplete_answers_fall_back_on_the_answers(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> None:
    quick = bank["quick"]
    answers = raw_answers(quick, *PATTERNS["anxious"])
    answers["q05"] = None
    result = run(quick, answers, interpreter, models["quick"])
    assert result.model_version == models["quick"].version
    assert result.full_estimates == {}
    assert all(f.z is None for f in result.triggers + result.strengths)
    assert "needing-reassurance-often" in ids(result)["triggers"]
    check_invariants(quick, answers, result, interpreter)


# --- the full form with the full models --------------------------------------------------------


@pytest.fixture(scope="module")
def full_results(
    bank: dict[str, Instrument], interpreter: Interpreter, models: dict[str, CompiledModels]
) -> dict[str, Interpretation]:
    full = bank["full"]
    return {
        name: run(full, raw_answers(full, *levels), interpreter, models["full"])
        for name, levels in PATTERNS.items()
    }


def test_full_form_patterns(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    models: dict[str, CompiledModels],
    full_results: dict[str, Interpretation],
    trigger_scale: dict[str, str],
    oriented_steps: dict[str, set[str]],
) -> None:
    full = bank["full"]
    result = {name: ids(r) for name, r in full_results.items()}
    for name, own, other in (
        ("anxious", "anxiety", "avoidance"),
        ("avoidant", "avoidance", "anxiety"),
    ):
        assert result[name]["triggers"], name
        assert {trigger_scale[t] for t in result[name]["triggers"]} == {own}, name
        assert result[name]["steps"][0] in oriented_steps[own], name
        steps = result[name]["steps"]
        assert mean_rank(steps, oriented_steps[own]) < mean_rank(steps, oriented_steps[other])
        assert f"{own}-focused-help" in result[name]["advice"]
        assert f"{other}-focused-help" not in result[name]["advice"]
    assert "fear-of-being-left" in result["anxious"]["triggers"]
    assert "pulling-back-when-close" in result["avoidant"]["triggers"]
    assert result["secure"]["triggers"] == []
    assert len(result["secure"]["strengths"]) >= 3
    assert result["secure"]["advice"] == [ALWAYS]
    assert {trigger_scale[t] for t in result["fearful"]["triggers"]} == {"anxiety", "avoidance"}
    assert "both-dimensions-high" in result["fearful"]["advice"]
    for name, interpretation in full_results.items():
        assert interpretation.model_version == models["full"].version, name
        assert interpretation.full_estimates == {}  # the full form needs no estimate
        assert interpretation.cautions == (), name
        check_invariants(full, raw_answers(full, *PATTERNS[name]), interpretation, interpreter)


def test_full_form_themes_only_the_full_form_has(full_results: dict[str, Interpretation]) -> None:
    # aloneness and rejection-sensitivity are not on the quick form
    anxious = ids(full_results["anxious"])["triggers"]
    assert {"dread-of-being-alone", "stung-by-rejection"} <= set(anxious)
    assert "distress-signals" in ids(full_results["anxious"])["advice"]


# --- properties over every answer vector -------------------------------------------------------


def answer_vectors(n_items: int, *, complete: bool) -> st.SearchStrategy[list[int | None]]:
    value = st.integers(1, 5)
    return st.lists(
        value if complete else st.one_of(st.none(), value), min_size=n_items, max_size=n_items
    )


@settings(max_examples=120, deadline=None)
@given(values=answer_vectors(12, complete=True), seconds=st.one_of(st.none(), st.floats(1, 600)))
def test_any_complete_quick_answers(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    models: dict[str, CompiledModels],
    values: list[int],
    seconds: float | None,
) -> None:
    quick = bank["quick"]
    answers: dict[str, int | None] = dict(zip(quick.item_ids, values, strict=True))
    result = run(quick, answers, interpreter, models["quick"], seconds=seconds)
    check_invariants(quick, answers, result, interpreter)
    assert result.model_version == models["quick"].version
    assert set(result.full_estimates) == {"anxiety", "avoidance"}


@settings(max_examples=40, deadline=None)
@given(values=answer_vectors(36, complete=True))
def test_any_complete_full_answers(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    models: dict[str, CompiledModels],
    values: list[int],
) -> None:
    full = bank["full"]
    answers: dict[str, int | None] = dict(zip(full.item_ids, values, strict=True))
    check_invariants(full, answers, run(full, answers, interpreter, models["full"]), interpreter)


@settings(max_examples=60, deadline=None)
@given(values=answer_vectors(12, complete=False))
def test_any_partial_quick_answers(
    bank: dict[str, Instrument],
    interpreter: Interpreter,
    models: dict[str, CompiledModels],
    values: list[int | None],
) -> None:
    quick = bank["quick"]
    answers = dict(zip(quick.item_ids, values, strict=True))
    check_invariants(quick, answers, run(quick, answers, interpreter, models["quick"]), interpreter)
