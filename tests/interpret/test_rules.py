"""The rule engine on small hand-written rule tables, the loader's checks, and the shipped table.

Each table is written to tmp_path as TOML; facts and entries are built by hand, so every
expected outcome can be read off the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from quizapp.interpret.loading import load_interpreter
from quizapp.interpret.rules import EntryFacts, RuleError, RuleTable, load_rules
from quizapp.scoring.instrument import load_bank

REPO = Path(__file__).resolve().parents[2]

KNOWN: dict[str, set[str]] = {
    "steps": {"s1", "s2", "s3"},
    "advice": {"adv-a", "adv-b"},
    "cautions": {"cau-a", "cau-b"},
}

Write = Callable[[str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write the [[rules]] given (TOML text) under a valid header; return the path."""

    def write_rules(rules: str) -> Path:
        path = tmp_path / "rules.toml"
        header = 'schema_version = 1\nversion = "9.9.9"\n\n'
        path.write_text(header + rules, encoding="utf-8")
        return path

    return write_rules


def table(write: Write, rules: str) -> RuleTable:
    return load_rules(write(rules), KNOWN)


def rule(rid: str, then: str, *, when: str = "", any_: str = "", for_each: str = "") -> str:
    lines = ["[[rules]]", f'id = "{rid}"', f'about = "rule {rid}"']
    if for_each:
        lines.append(f'for_each = "{for_each}"')
    if when:
        lines.append(f"when = {when}")
    if any_:
        lines.append(f"any = {any_}")
    lines.append(f"then = {then}")
    return "\n".join(lines) + "\n\n"


def fired(t: RuleTable, facts: Mapping[str, Any]) -> list[str]:
    return t.evaluate(facts, {}).fired_rules


ADVICE = '{ advice = "adv-a" }'
FIRE = "{ fire = true }"
IS_FIRED = '[["entry.fired", "==", true]]'
NOT_FIRED = '[["entry.fired", "==", false]]'
MEAN_35 = '[["entry.mean", ">=", 3.5]]'


# --- conditions --------------------------------------------------------------------------------


def test_a_rule_without_conditions_always_fires(write: Write) -> None:
    t = table(write, rule("AL-01", ADVICE))
    assert fired(t, {}) == ["AL-01"]
    assert t.version == "9.9.9"


def test_when_needs_every_condition(write: Write) -> None:
    t = table(
        write, rule("WH-01", ADVICE, when='[["anxiety.score", ">=", 3], ["pattern", "==", "x"]]')
    )
    assert fired(t, {"anxiety.score": 3.0, "pattern": "x"}) == ["WH-01"]
    assert fired(t, {"anxiety.score": 2.9, "pattern": "x"}) == []
    assert fired(t, {"anxiety.score": 3.0, "pattern": "y"}) == []


def test_any_needs_one_condition(write: Write) -> None:
    t = table(
        write,
        rule("AN-01", ADVICE, any_='[["anxiety.score", ">=", 4], ["avoidance.score", ">=", 4]]'),
    )
    assert fired(t, {"anxiety.score": 4.0, "avoidance.score": 1.0}) == ["AN-01"]
    assert fired(t, {"anxiety.score": 1.0, "avoidance.score": 4.5}) == ["AN-01"]
    assert fired(t, {"anxiety.score": 5.0, "avoidance.score": 5.0}) == ["AN-01"]
    assert fired(t, {"anxiety.score": 3.9, "avoidance.score": 3.9}) == []


def test_when_and_any_together(write: Write) -> None:
    either = '[["anxiety.score", ">=", 4], ["avoidance.score", ">=", 4]]'
    t = table(write, rule("WA-01", ADVICE, when='[["pattern", "==", "x"]]', any_=either))
    assert fired(t, {"pattern": "x", "anxiety.score": 4.0}) == ["WA-01"]
    assert fired(t, {"pattern": "y", "anxiety.score": 4.0}) == []  # when fails
    assert fired(t, {"pattern": "x", "anxiety.score": 1.0, "avoidance.score": 1.0}) == []


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "==", "!=", "in"])
@pytest.mark.parametrize("present", ["missing", "none"])
def test_a_missing_or_none_fact_makes_a_condition_false(
    write: Write, op: str, present: str
) -> None:
    value = '["a", "b"]' if op == "in" else "3"
    t = table(write, rule("MI-01", ADVICE, when=f'[["anxiety.score", "{op}", {value}]]'))
    facts: dict[str, Any] = {} if present == "missing" else {"anxiety.score": None}
    assert fired(t, facts) == []


def test_a_missing_fact_makes_any_false_only_for_that_condition(write: Write) -> None:
    t = table(
        write, rule("MA-01", ADVICE, any_='[["anxiety.score", "!=", 1], ["pattern", "==", "x"]]')
    )
    assert fired(t, {"pattern": "x"}) == ["MA-01"]
    assert fired(t, {"anxiety.score": None, "pattern": "y"}) == []


@pytest.mark.parametrize(
    ("op", "value", "true_for", "false_for"),
    [
        (">=", "3", [3.0, 3.5], [2.99]),
        (">", "3", [3.01, 4.0], [3.0, 2.0]),
        ("<=", "3", [3.0, 1.0], [3.01]),
        ("<", "3", [2.99], [3.0, 4.0]),
        ("==", "3", [3.0, 3], [3.01]),
        ("!=", "3", [2.0, 4.0], [3.0]),
        ("in", "[1, 3, 5]", [1, 3.0, 5], [2, 4.0]),
    ],
)
def test_every_operator(
    write: Write, op: str, value: str, true_for: list[float], false_for: list[float]
) -> None:
    t = table(write, rule("OP-01", ADVICE, when=f'[["anxiety.score", "{op}", {value}]]'))
    for fact in true_for:
        assert fired(t, {"anxiety.score": fact}) == ["OP-01"], (op, fact)
    for fact in false_for:
        assert fired(t, {"anxiety.score": fact}) == [], (op, fact)


def test_equality_with_strings_and_booleans(write: Write) -> None:
    t = table(
        write,
        rule("EQ-01", ADVICE, when='[["pattern", "in", ["secure", "fearful"]]]')
        + rule("EQ-02", '{ caution = "cau-a" }', when='[["validity.same_answer", "==", true]]'),
    )
    assert fired(t, {"pattern": "fearful", "validity.same_answer": True}) == ["EQ-01", "EQ-02"]
    assert fired(t, {"pattern": "preoccupied", "validity.same_answer": False}) == []


# --- for_each and the entry.* facts -------------------------------------------------------------

TRIGGERS = [
    EntryFacts("t-high", ("s1", "s2"), z=0.8, mean=4.6),
    EntryFacts("t-mid", ("s2",), z=0.4, mean=3.6),
    EntryFacts("t-none", ("s3",), z=None, mean=None),
]
STRENGTHS = [EntryFacts("g-low", ("s3",), z=-0.6, mean=1.2)]
ENTRIES = {"trigger": TRIGGERS, "strength": STRENGTHS}


def test_for_each_binds_entry_z_and_mean(write: Write) -> None:
    t = table(
        write,
        rule("FZ-01", FIRE, for_each="trigger", when='[["entry.z", ">=", 0.5]]')
        + rule("FM-01", FIRE, for_each="trigger", when='[["entry.mean", ">=", 3.5]]')
        + rule("FS-01", FIRE, for_each="strength", when='[["entry.mean", "<=", 1.5]]'),
    )
    outcome = t.evaluate({}, ENTRIES)
    assert outcome.entries["trigger"] == {"t-high": ["FZ-01", "FM-01"], "t-mid": ["FM-01"]}
    assert outcome.entries["strength"] == {"g-low": ["FS-01"]}  # t-none: None facts are false
    assert outcome.fired_rules == ["FZ-01", "FM-01", "FS-01"]


def test_entry_facts_combine_with_person_facts(write: Write) -> None:
    both = '[["entry.mean", ">=", 3.5], ["anxiety.percentile", ">=", 50]]'
    t = table(write, rule("FP-01", FIRE, for_each="trigger", when=both))
    assert t.evaluate({"anxiety.percentile": 60.0}, ENTRIES).entries["trigger"] == {
        "t-high": ["FP-01"],
        "t-mid": ["FP-01"],
    }
    assert t.evaluate({"anxiety.percentile": 40.0}, ENTRIES).entries["trigger"] == {}


def test_a_later_rule_sees_an_earlier_fire(write: Write) -> None:
    t = table(
        write,
        rule("LA-01", "{ boost_steps = 5 }", for_each="trigger", when=IS_FIRED)
        + rule("LA-02", FIRE, for_each="trigger", when='[["entry.z", ">=", 0.5]]')
        + rule("LA-03", "{ boost_steps = 2 }", for_each="trigger", when=IS_FIRED)
        + rule("LA-04", "{ boost_steps = 1 }", for_each="trigger", when=NOT_FIRED),
    )
    outcome = t.evaluate({}, ENTRIES)
    # LA-01 runs before anything fired; LA-03 sees t-high fired by LA-02; LA-04 the others.
    assert outcome.fired_rules == ["LA-02", "LA-03", "LA-04"]
    assert dict(outcome.step_weights) == {"s1": 2.0, "s2": 2.0 + 1.0, "s3": 1.0}
    assert outcome.step_rules["s1"] == ["LA-03"]
    assert outcome.step_rules["s2"] == ["LA-03", "LA-04"]
    assert outcome.step_rules["s3"] == ["LA-04"]


def test_entry_fired_is_per_kind(write: Write) -> None:
    t = table(
        write,
        rule("PK-01", FIRE, for_each="trigger", when='[["entry.mean", ">=", 4.5]]')
        + rule("PK-02", FIRE, for_each="strength", when=NOT_FIRED),
    )
    outcome = t.evaluate({}, ENTRIES)
    assert outcome.entries == {"trigger": {"t-high": ["PK-01"]}, "strength": {"g-low": ["PK-02"]}}


def test_for_each_without_entries_of_that_kind_fires_nothing(write: Write) -> None:
    t = table(write, rule("NE-01", FIRE, for_each="strength"))
    outcome = t.evaluate({}, {"trigger": TRIGGERS})
    assert outcome.fired_rules == []
    assert outcome.entries == {"trigger": {}, "strength": {}}


# --- actions -----------------------------------------------------------------------------------


def test_boost_and_boost_steps_weights_add_up(write: Write) -> None:
    t = table(
        write,
        rule("BO-01", '{ boost = { "s1" = 2, "s2" = 0.5 } }')
        + rule("BO-02", '{ boost = { "s1" = 1.25 } }', when='[["anxiety.score", ">=", 3]]')
        + rule("BO-03", "{ boost_steps = 3 }", for_each="trigger", when=MEAN_35)
        + rule("BO-04", '{ boost = { "s3" = -1 } }'),
    )
    outcome = t.evaluate({"anxiety.score": 3.0}, ENTRIES)
    # s1: 2 + 1.25 + 3 (t-high); s2: 0.5 + 3 (t-high) + 3 (t-mid); s3: -1
    assert dict(outcome.step_weights) == {"s1": 6.25, "s2": 6.5, "s3": -1.0}
    assert outcome.step_rules["s1"] == ["BO-01", "BO-02", "BO-03"]
    assert outcome.step_rules["s2"] == ["BO-01", "BO-03"]  # each rule once per step
    assert outcome.step_rules["s3"] == ["BO-04"]
    assert outcome.entries == {"trigger": {}, "strength": {}}  # boosting is not firing
    assert t.evaluate({"anxiety.score": 2.0}, ENTRIES).step_weights["s1"] == 5.0


def test_advice_and_cautions_record_the_rule_ids(write: Write) -> None:
    t = table(
        write,
        rule("AD-01", '{ advice = "adv-b" }')
        + rule("AD-02", '{ advice = "adv-a" }', when='[["anxiety.score", ">=", 3]]')
        + rule("AD-03", '{ advice = "adv-b" }', when='[["anxiety.score", ">=", 4]]')
        + rule("CA-01", '{ caution = "cau-a" }', when='[["validity.same_answer", "==", true]]')
        + rule("CA-02", '{ caution = "cau-a" }', when='[["validity.seconds_per_item", "<", 2]]')
        + rule("CA-03", '{ caution = "cau-b" }', when='[["validity.random_pattern", "==", true]]'),
    )
    facts = {
        "anxiety.score": 4.0,
        "validity.same_answer": True,
        "validity.seconds_per_item": 1.0,
        "validity.random_pattern": None,
    }
    outcome = t.evaluate(facts, {})
    assert outcome.advice == {"adv-b": ["AD-01", "AD-03"], "adv-a": ["AD-02"]}
    assert list(outcome.advice) == ["adv-b", "adv-a"]  # in the order first chosen
    assert outcome.cautions == {"cau-a": ["CA-01", "CA-02"]}
    assert t.cautions(facts) == ["cau-a", "cau-a"]
    assert t.cautions({"validity.random_pattern": True}) == ["cau-b"]


def test_fired_rules_in_table_order_each_once(write: Write) -> None:
    t = table(
        write,
        rule("OR-03", '{ advice = "adv-a" }', when='[["anxiety.score", ">=", 1]]')
        + rule("OR-01", FIRE, for_each="trigger", when='[["entry.mean", ">=", 3]]')
        + rule("OR-02", '{ caution = "cau-a" }', when='[["anxiety.score", ">=", 5]]')
        + rule("OR-00", '{ boost = { "s1" = 1 } }'),
    )
    outcome = t.evaluate({"anxiety.score": 2.0}, ENTRIES)
    assert outcome.fired_rules == ["OR-03", "OR-01", "OR-00"]  # OR-01 fired twice, listed once
    assert outcome.entries["trigger"] == {"t-high": ["OR-01"], "t-mid": ["OR-01"]}


def test_each_evaluation_starts_afresh(write: Write) -> None:
    t = table(write, rule("SH-01", "{ boost_steps = 1 }", for_each="trigger"))
    first = t.evaluate({}, ENTRIES)
    second = t.evaluate({}, ENTRIES)
    assert dict(first.step_weights) == dict(second.step_weights) == {"s1": 1, "s2": 2, "s3": 1}


# --- the loader's checks -----------------------------------------------------------------------


def problems(write: Write, rules: str, known: Mapping[str, set[str]] = KNOWN) -> list[str]:
    path = write(rules)
    with pytest.raises(RuleError) as caught:
        load_rules(path, known)
    message = str(caught.value)
    assert message.startswith(f"{path}: {len(caught.value.problems)} problem(s)")
    for problem in caught.value.problems:
        assert f"\n  - {problem}" in message
    return caught.value.problems


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (rule("UA-01", '{ advice = "adv-z" }'), "UA-01: unknown advice 'adv-z'"),
        (rule("UC-01", '{ caution = "cau-z" }'), "UC-01: unknown caution 'cau-z'"),
        (rule("US-01", '{ boost = { "s1" = 1, "s9" = 2 } }'), "US-01: unknown step 's9'"),
        (rule("EN-01", ADVICE, when='[["entry.z", ">=", 1]]'), "EN-01: 'entry.z' needs for_each"),
        (
            rule("EN-02", ADVICE, any_='[["entry.fired", "==", true]]'),
            "EN-02: 'entry.fired' needs for_each",
        ),
        (rule("FI-01", FIRE), "FI-01: fire and boost_steps need for_each"),
        (rule("FI-02", "{ boost_steps = 1 }"), "FI-02: fire and boost_steps need for_each"),
        (
            rule("UF-01", ADVICE, when='[["score.anxiety", ">=", 1]]'),
            "UF-01: unknown fact 'score.anxiety'",
        ),
        (
            rule("UF-02", ADVICE, any_='[["anxiety.score", ">=", 1], ["mood", "==", 1]]'),
            "UF-02: unknown fact 'mood'",
        ),
        (
            rule("DU-01", ADVICE) + rule("DU-02", ADVICE) + rule("DU-01", ADVICE),
            "DU-01: id is used twice",
        ),
    ],
)
def test_load_rules_names_a_wrong_reference(write: Write, rules: str, expected: str) -> None:
    assert problems(write, rules) == [expected]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('["anxiety.score", ">="]', "rules/0/when/0: ['anxiety.score', '>='] is too short"),
        ('["pattern", ">=", 1, 2]', "rules/0/when/0: ['pattern', '>=', 1, 2] is too long"),
        ('["anxiety.score", "=~", 1]', "rules/0/when/0/1: '=~' is not one of"),
        ('[3, ">=", 1]', "rules/0/when/0/0: 3 is not of type 'string'"),
        ('"anxiety.score >= 1"', "rules/0/when/0: 'anxiety.score >= 1' is not of type 'array'"),
    ],
)
def test_load_rules_names_a_malformed_condition(
    write: Write, condition: str, expected: str
) -> None:
    found = problems(write, rule("MC-01", ADVICE, when=f"[{condition}]"))
    assert len(found) == 1
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("condition", "facts"),
    [
        ('["pattern", "in", 3]', {"pattern": "secure"}),  # `in` needs a list
        ('["anxiety.percentile", ">=", "80"]', {"anxiety.percentile": 85.0}),  # a number
    ],
)
def test_a_table_that_loads_can_be_evaluated(
    write: Write, condition: str, facts: dict[str, Any]
) -> None:
    # The schema lets these conditions through. A loader that accepts them must evaluate
    # them; otherwise every person whose fact is present gets a TypeError, not a report.
    path = write(rule("TY-01", ADVICE, when=f"[{condition}]"))
    try:
        t = load_rules(path, KNOWN)
    except RuleError as exc:
        assert any("TY-01" in p or "when/0" in p for p in exc.problems), exc.problems
        return
    t.evaluate(facts, {})


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            '[[rules]]\nid = "XX-01"\nthen = { advice = "adv-a" }\n',
            "rules/0: 'about' is a required property",
        ),
        (rule("bad-id", ADVICE), "rules/0/id: 'bad-id' does not match"),
        (rule("TH-01", '{ advice = "adv-a", caution = "cau-a" }'), "rules/0/then: "),
        (rule("TH-02", "{ fire = false }"), "rules/0/then/fire: True was expected"),
        (rule("TH-03", '{ shout = "x" }'), "rules/0/then: Additional properties"),
        (rule("FE-01", FIRE, for_each="step"), "rules/0/for_each: 'step' is not one of"),
    ],
)
def test_load_rules_names_a_malformed_rule(write: Write, rules: str, expected: str) -> None:
    found = problems(write, rules)
    assert any(p.startswith(expected) for p in found), found


def test_several_reference_problems_are_all_listed(write: Write) -> None:
    rules = (
        rule("MU-01", '{ advice = "adv-z" }', when='[["entry.mean", ">=", 1], ["mood", "==", 1]]')
        + rule("MU-02", FIRE)
        + rule("MU-01", '{ caution = "cau-z" }')
    )
    assert problems(write, rules) == [
        "MU-01: 'entry.mean' needs for_each",
        "MU-01: unknown fact 'mood'",
        "MU-01: unknown advice 'adv-z'",
        "MU-02: fire and boost_steps need for_each",
        "MU-01: id is used twice",
        "MU-01: unknown caution 'cau-z'",
    ]


def test_a_malformed_rule_does_not_hide_the_other_rules_problems(write: Write) -> None:
    # The project rule: loading collects every problem and raises one error listing them all.
    # One rule's misspelt operator must not hide another rule's unknown advice id.
    rules = rule("MX-01", ADVICE, when='[["anxiety.score", "=>", 1]]') + rule(
        "MX-02", '{ advice = "adv-z" }'
    )
    found = problems(write, rules)
    assert any(p.startswith("rules/0/when/0/1: '=>' is not one of") for p in found), found
    assert "MX-02: unknown advice 'adv-z'" in found


def test_a_table_that_cannot_be_read(tmp_path: Path, write: Write) -> None:
    with pytest.raises(RuleError, match="cannot be read"):
        load_rules(tmp_path / "nowhere.toml", KNOWN)
    path = write("[[rules]\n")
    with pytest.raises(RuleError, match="cannot be read"):
        load_rules(path, KNOWN)


def test_a_wrong_schema_version_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('schema_version = 2\nversion = "1"\nrules = []\n', encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(path, KNOWN)
    assert caught.value.problems == ["schema_version: 1 was expected"]


# --- the shipped table -------------------------------------------------------------------------


def test_the_shipped_rules_load_with_the_shipped_content() -> None:
    bank = load_bank(REPO / "items")
    interpreter = load_interpreter(REPO / "content", REPO / "rules" / "interpretation.toml", bank)
    rules, content = interpreter.rules, interpreter.content
    assert rules.version == "1.0.0"
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids)) == 20
    assert ids[:2] == ["TRG-01", "TRG-02"]
    assert ids[-4:] == ["VAL-01", "VAL-02", "VAL-03", "VAL-04"]
    # every advice block and every caution of the content can be chosen by some rule
    assert {r.then["advice"] for r in rules.rules if "advice" in r.then} == set(content.advice)
    assert {r.then["caution"] for r in rules.rules if "caution" in r.then} == set(content.cautions)
    # the one rule every person meets: no conditions, therapy-can-help
    always = [r for r in rules.rules if not r.when and not r.any and r.for_each is None]
    assert [(r.id, dict(r.then)) for r in always] == [("THR-01", {"advice": "therapy-can-help"})]
