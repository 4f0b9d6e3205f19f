"""The scoring engine: golden cases worked out by hand, and invariants checked by hypothesis.

The tiny instrument (see conftest): 1..5; anxiety a1 a2(R) a3 a4, avoidance v1 v2(R) v3(R) v4,
min_answered 3 each; norms anxiety SD 0.8 r 0.84 cut-off 3.0, avoidance SD 1.0 r 0.75
cut-off 2.5; percentile tables anxiety (1, 0.5) (2, 10) (3, 50) (4, 90) (5, 99.5),
avoidance (1, 2) (2, 30) (3, 70) (5, 98).
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from quizapp.scoring.engine import (
    AnswerError,
    answers_to_row,
    keyed_matrix,
    percentile,
    scale_scores,
    score,
)
from quizapp.scoring.instrument import (
    Instrument,
    ResponseScale,
    ScaleNorms,
    load_bank,
    parse_instrument,
)
from quizapp.scoring.patterns import QUADRANTS, closest_pattern

REPO = Path(__file__).resolve().parents[2]
Z90 = NormalDist().inv_cdf(0.95)  # 1.6449, computed here rather than taken from the code

# a1=4, a2=2 (keyed 6-2=4), a3=3, a4=4; v1=2, v2=5 (keyed 1), v3=4 (keyed 2), v4=1
FULL = {"a1": 4, "a2": 2, "a3": 3, "a4": 4, "v1": 2, "v2": 5, "v3": 4, "v4": 1}


def p_above(score_: float, cutoff: float, sem: float) -> float:
    """P(Normal(score, sem) > cutoff) = 1 - Phi((cutoff - score) / sem), with math.erf."""
    return 0.5 * (1.0 + math.erf((score_ - cutoff) / (sem * math.sqrt(2.0))))


# --- golden cases ----------------------------------------------------------------------------


def test_keying(tiny: Instrument) -> None:
    # columns a1 v1 a2 v2 a3 v3 a4 v4; reversed a2, v2, v3: 6 - x
    row = np.array([[4, 2, 2, 5, 3, 4, 4, 1]], dtype=float)
    assert_allclose(keyed_matrix(tiny, row), [[4, 2, 4, 1, 3, 2, 4, 1]])
    with_gap = np.array([[np.nan, 1, 5, np.nan, 1, 1, 5, 5]])
    assert_allclose(keyed_matrix(tiny, with_gap), [[np.nan, 1, 1, np.nan, 1, 5, 5, 5]])


def test_full_answers(tiny: Instrument) -> None:
    report = score(tiny, FULL)
    assert (report.instrument, report.version) == ("tiny", "1.0.0")
    anx, avo = report.scales["anxiety"], report.scales["avoidance"]
    # anxiety (4 + 4 + 3 + 4) / 4 = 3.75; avoidance (2 + 1 + 2 + 1) / 4 = 1.5
    assert_allclose([anx.score, avo.score], [3.75, 1.5], rtol=1e-12)
    assert (anx.answered, anx.n_items, anx.prorated) == (4, 4, False)
    # SEM = SD * sqrt(1 - r): 0.8 * sqrt(0.16) = 0.32 and 1.0 * sqrt(0.25) = 0.5
    assert_allclose([anx.sem, avo.sem], [0.32, 0.5], rtol=1e-12)
    # 90% band 3.75 +/- 1.6449 * 0.32 = (3.2236, 4.2764), inside 1..5
    assert_allclose(anx.band, (3.75 - Z90 * 0.32, 3.75 + Z90 * 0.32), rtol=1e-12)
    # 1.5 - 1.6449 * 0.5 = 0.678 is below the scale: clipped to 1; top 1.5 + 0.8224 = 2.3224
    assert_allclose(avo.band, (1.0, 1.5 + Z90 * 0.5), rtol=1e-12)
    # percentiles, linear between table points:
    #   anxiety 3.75 between (3, 50) and (4, 90): 50 + 0.75 * 40 = 80
    #   avoidance 1.5 between (1, 2) and (2, 30): 2 + 0.5 * 28 = 16
    assert_allclose([anx.percentile, avo.percentile], [80.0, 16.0], rtol=1e-12)
    #   anxiety band ends 3.2236 -> 50 + 0.2236 * 40; 4.2764 -> 90 + 0.2764 * 9.5
    assert_allclose(
        anx.percentile_band,
        (50 + (0.75 - Z90 * 0.32) * 40, 90 + (Z90 * 0.32 - 0.25) * 9.5),
        rtol=1e-12,
    )
    #   avoidance band ends 1.0 -> 2; 2.3224 -> 30 + 0.3224 * 40
    assert_allclose(avo.percentile_band, (2.0, 30 + (Z90 * 0.5 - 0.5) * 40), rtol=1e-12)
    # cut-offs 3.0 and 2.5 lie outside both bands
    assert (anx.cutoff, avo.cutoff) == (3.0, 2.5)
    assert anx.near_cutoff is False
    assert avo.near_cutoff is False


def test_pattern_probabilities(tiny: Instrument) -> None:
    pattern = score(tiny, FULL).pattern
    assert pattern is not None
    # P(anxiety high) = P(N(3.75, 0.32) > 3.0) = Phi(2.34375) ~ 0.99045
    # P(avoidance high) = P(N(1.5, 0.5) > 2.5) = 1 - Phi(2) ~ 0.02275
    # anxious-preoccupied = 0.99045 * (1 - 0.02275) = 0.99045 * 0.97725 ~ 0.96792
    anx, avo = p_above(3.75, 3.0, 0.32), p_above(1.5, 2.5, 0.5)
    expected = {
        "secure": (1 - anx) * (1 - avo),
        "anxious-preoccupied": anx * (1 - avo),
        "dismissive-avoidant": (1 - anx) * avo,
        "fearful-avoidant": anx * avo,
    }
    assert set(pattern.probabilities) == set(expected)
    for name, value in expected.items():
        assert_allclose(pattern.probabilities[name], value, rtol=1e-9, atol=1e-15)
    assert_allclose(expected["anxious-preoccupied"], 0.96792, atol=1e-5)  # the hand figure
    assert pattern.closest == "anxious-preoccupied"
    assert pattern.label == "Anxious-preoccupied"
    assert_allclose(pattern.probability, expected["anxious-preoccupied"], rtol=1e-9)
    assert pattern.near_boundary == ()


def test_near_cutoff(tiny: Instrument) -> None:
    # anxiety a1=3, a2=3 (keyed 3), a3=3, a4=4: 13/4 = 3.25; band 3.25 +/- 0.5264 holds 3.0
    # avoidance v1=3, v2=3 (3), v3=3 (3), v4=2: 11/4 = 2.75; band 2.75 +/- 0.8224 holds 2.5
    report = score(tiny, {"a1": 3, "a2": 3, "a3": 3, "a4": 4, "v1": 3, "v2": 3, "v3": 3, "v4": 2})
    anx, avo = report.scales["anxiety"], report.scales["avoidance"]
    assert_allclose([anx.score, avo.score], [3.25, 2.75], rtol=1e-12)
    assert anx.near_cutoff is True
    assert avo.near_cutoff is True
    assert report.pattern is not None
    assert report.pattern.near_boundary == ("anxiety", "avoidance")
    # one step further from the cut-off: a4=5 -> 3.5, band 3.5 - 0.5264 = 2.9736 still holds 3.0;
    # a3=4 as well -> 3.75, band from 3.2236: no longer near
    report = score(tiny, {**FULL, "a1": 3, "a2": 3, "a3": 3, "a4": 5})
    assert report.scales["anxiety"].near_cutoff is True
    report = score(tiny, {**FULL, "a1": 3, "a2": 3, "a3": 4, "a4": 5})
    assert_allclose(report.scales["anxiety"].score, 3.75)
    assert report.scales["anxiety"].near_cutoff is False


def test_prorated_score_and_shortened_sem(tiny: Instrument) -> None:
    report = score(tiny, {**FULL, "a4": None})
    anx = report.scales["anxiety"]
    # 3 of 4 answered: (4 + 4 + 3) / 3 = 11/3
    assert_allclose(anx.score, 11 / 3, rtol=1e-12)
    assert (anx.answered, anx.n_items, anx.prorated) == (3, 4, True)
    # Spearman-Brown for 3/4 of the length: r' = 0.75 * 0.84 / (1 - 0.25 * 0.84) = 0.63 / 0.79
    # SEM = 0.8 * sqrt(1 - 0.63/0.79) = 0.8 * sqrt(0.16/0.79) = 0.32 / sqrt(0.79) ~ 0.3600
    sem = 0.32 / math.sqrt(0.79)
    assert_allclose(anx.sem, sem, rtol=1e-12)
    assert_allclose(anx.sem, 0.36003, atol=5e-6)
    assert_allclose(anx.band, (11 / 3 - Z90 * sem, 11 / 3 + Z90 * sem), rtol=1e-12)
    # the avoidance scale is untouched
    assert_allclose(report.scales["avoidance"].sem, 0.5, rtol=1e-12)


def test_unanswered_keys_are_the_same_as_missing_keys(tiny: Instrument) -> None:
    with_none = score(tiny, {**FULL, "a4": None})
    without = score(tiny, {k: v for k, v in FULL.items() if k != "a4"})
    assert with_none == without


def test_too_few_answered_gives_no_score(tiny: Instrument) -> None:
    report = score(tiny, {**FULL, "a3": None, "a4": None})  # 2 answered < min_answered 3
    anx = report.scales["anxiety"]
    assert anx.score is None
    assert (anx.answered, anx.prorated) == (2, False)
    assert anx.sem is anx.band is anx.percentile is anx.near_cutoff is None
    assert report.pattern is None  # no pattern without both scales
    assert_allclose(report.scales["avoidance"].score, 1.5)
    empty = score(tiny, {})
    assert all(s.score is None and s.answered == 0 for s in empty.scales.values())


def test_band_clipped_at_the_top(tiny: Instrument) -> None:
    # all anxiety keyed 5 (a2 = 1): score 5, band (5 - 0.5264, 5 -> not 5.5264)
    report = score(tiny, {**FULL, "a1": 5, "a2": 1, "a3": 5, "a4": 5})
    anx = report.scales["anxiety"]
    assert_allclose(anx.score, 5.0)
    assert_allclose(anx.band, (5 - Z90 * 0.32, 5.0), rtol=1e-12)
    assert_allclose(anx.percentile, 99.5)
    # band bottom 4.4736 -> 90 + 0.4736 * 9.5
    assert_allclose(anx.percentile_band, (90 + (1 - Z90 * 0.32) * 9.5, 99.5), rtol=1e-12)


def test_percentile_interpolation() -> None:
    norms = ScaleNorms(mean=0, sd=1, reliability=0.5, percentiles=((1, 5), (2, 25), (4, 85)))
    # 1.5 -> 5 + 0.5 * 20 = 15; 3 -> 25 + 0.5 * 60 = 55; 3.5 -> 25 + 0.75 * 60 = 70
    assert_allclose(
        [percentile(norms, s) for s in (1.0, 1.5, 2.0, 3.0, 3.5, 4.0)],
        [5, 15, 25, 55, 70, 85],
        rtol=1e-12,
    )
    # outside the table the end values hold
    assert percentile(norms, 0.5) == 5
    assert percentile(norms, 4.5) == 85
    assert percentile(ScaleNorms(mean=0, sd=1, reliability=0.5), 3.0) is None


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"zz": 3}, "zz"),
        ({**FULL, "A1": 3, "b9": None}, "A1, b9"),
        ({**FULL, "a1": 6}, "6 is not a response on the 1..5 scale"),
        ({**FULL, "v4": 0}, "0 is not a response on the 1..5 scale"),
        ({**FULL, "a3": 2.5}, "2.5 is not a response on the 1..5 scale"),
        ({**FULL, "v2": -1}, "-1 is not a response"),
    ],
)
def test_answer_errors(tiny: Instrument, answers: dict[str, Any], message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        score(tiny, answers)


def test_scale_scores_rejects_off_scale_values(tiny: Instrument) -> None:
    with pytest.raises(AnswerError):
        scale_scores(tiny, np.array([[1, 2, 3, 4, 5, 1, 2, 9]], dtype=float))


# --- invariants ------------------------------------------------------------------------------


@given(
    low=st.integers(-1000, 1000),
    span=st.integers(1, 1000),
    data=st.data(),
)
def test_reverse_twice_is_identity_and_stays_in_range(low: int, span: int, data: Any) -> None:
    scale = ResponseScale(low, low + span, ("x",) * (span + 1))
    value = data.draw(st.integers(low, low + span))
    keyed = scale.reverse(value)
    assert low <= keyed <= low + span
    assert scale.reverse(keyed) == value
    assert keyed - low == low + span - value  # the distance from the ends swaps


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    """Any valid two-scale instrument: response scale, items, reverse flags, min_answered."""
    low = draw(st.integers(0, 10))
    high = draw(st.integers(low + 1, min(low + 10, 11)))  # the schema allows 11 labels at most
    items = []
    scales = {}
    for scale in ("anxiety", "avoidance"):
        n = draw(st.integers(1, 6))
        scales[scale] = {"label": scale, "min_answered": draw(st.integers(1, n))}
        items += [
            {"id": f"{scale[:2]}{i}", "scale": scale, "reverse": draw(st.booleans()), "text": "t"}
            for i in range(n)
        ]
    data = {
        "schema_version": 1,
        "id": "gen",
        "version": "1.0.0",
        "title": "generated",
        "language": "en",
        "licence": {"name": "x", "holder": "x", "permissions": []},
        "response_scale": {"min": low, "max": high, "labels": ["l"] * (high - low + 1)},
        "scales": scales,
        "items": draw(st.permutations(items)),
    }
    return parse_instrument(data)


@st.composite
def instrument_and_answers(draw: st.DrawFn) -> tuple[Instrument, dict[str, int | None]]:
    instrument = draw(instruments())
    rs = instrument.response_scale
    value = st.none() | st.integers(rs.min, rs.max)
    return instrument, {item_id: draw(value) for item_id in instrument.item_ids}


@settings(max_examples=150, deadline=None)
@given(instrument_and_answers())
def test_prorated_mean_of_answered_keyed_items(
    case: tuple[Instrument, dict[str, int | None]],
) -> None:
    instrument, answers = case
    rs = instrument.response_scale
    report = score(instrument, answers)
    for scale in instrument.scales.values():
        keyed = [
            rs.min + rs.max - answers[item.id] if item.reverse else answers[item.id]
            for item in instrument.items
            if item.scale == scale.id and answers[item.id] is not None
        ]
        result = report.scales[scale.id]
        assert result.answered == len(keyed)
        if len(keyed) >= scale.min_answered:
            assert result.score is not None
            assert_allclose(result.score, sum(keyed) / len(keyed), rtol=1e-12)
            assert rs.min <= result.score <= rs.max
            assert result.prorated == (len(keyed) < len(scale.item_ids))
        else:
            assert result.score is None


@settings(max_examples=50, deadline=None)
@given(instruments(), st.data())
def test_keyed_matrix_stays_in_range_and_is_an_involution(
    instrument: Instrument, data: Any
) -> None:
    rs = instrument.response_scale
    n = len(instrument.items)
    rows = data.draw(
        st.lists(st.lists(st.integers(rs.min, rs.max), min_size=n, max_size=n), min_size=1)
    )
    matrix = np.array(rows, dtype=float)
    keyed = keyed_matrix(instrument, matrix)
    assert ((keyed >= rs.min) & (keyed <= rs.max)).all()
    assert_allclose(keyed_matrix(instrument, keyed), matrix)
    forward = [not item.reverse for item in instrument.items]
    assert_allclose(keyed[:, forward], matrix[:, forward])


answers_1_to_5 = st.fixed_dictionaries(
    {item: st.none() | st.integers(1, 5) for item in ("a1", "a2", "a3", "a4")},
    optional={item: st.none() | st.integers(1, 5) for item in ("v1", "v2", "v3", "v4")},
)


@settings(max_examples=200)
@given(answers=answers_1_to_5)
def test_band_contains_the_score(tiny: Instrument, answers: dict[str, int | None]) -> None:
    report = score(tiny, answers)
    for result in report.scales.values():
        if result.score is None:
            assert result.band is None
            continue
        assert result.band is not None and result.percentile_band is not None
        assert result.sem is not None and result.percentile is not None
        low, high = result.band
        assert 1 <= low <= result.score <= high <= 5
        assert result.percentile_band[0] <= result.percentile <= result.percentile_band[1]
        assert result.near_cutoff == (low <= result.cutoff <= high)  # type: ignore[operator]
        # a prorated score is less reliable, so its SEM is at least the full scale's
        assert tiny.norms is not None
        assert result.sem >= tiny.norms.scales[result.scale].sem - 1e-12


scores = st.floats(0, 11, allow_nan=False)
sems = st.floats(0.01, 3, allow_nan=False)


@given(anx=scores, avo=scores, cut_anx=scores, cut_avo=scores, sem_anx=sems, sem_avo=sems)
def test_pattern_probabilities_sum_to_one_and_closest_is_max(
    anx: float, avo: float, cut_anx: float, cut_avo: float, sem_anx: float, sem_avo: float
) -> None:
    estimate = closest_pattern(
        anx, avo, cutoffs=(cut_anx, cut_avo), sems=(sem_anx, sem_avo), near=(False, True)
    )
    probabilities = estimate.probabilities
    assert set(probabilities) == set(QUADRANTS.values())
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert_allclose(sum(probabilities.values()), 1.0, rtol=1e-12)
    assert estimate.probability == probabilities[estimate.closest] == max(probabilities.values())
    assert estimate.near_boundary == ("avoidance",)
    # each quadrant is the product of the two normal tail probabilities
    p_anx, p_avo = p_above(anx, cut_anx, sem_anx), p_above(avo, cut_avo, sem_avo)
    assert_allclose(probabilities["fearful-avoidant"], p_anx * p_avo, atol=1e-9)
    assert_allclose(probabilities["secure"], (1 - p_anx) * (1 - p_avo), atol=1e-9)


# --- one person in plain Python, the same as the matrix path ------------------------------


def test_one_person_is_scored_as_the_matrix_path_scores_them() -> None:
    """``score`` (one row, plain Python: every submission) gives the means and counts that
    ``scale_scores`` (the batch path) gives, bit for bit, with answers left out at random."""
    bank = load_bank(REPO / "items")
    rng = np.random.default_rng(11)
    for instrument in bank.values():
        rs = instrument.response_scale
        for _ in range(2000):
            values = rng.integers(rs.min, rs.max + 1, len(instrument.items))
            missing = rng.random(len(instrument.items)) < 0.2
            answers = {
                item_id: None if gone else int(value)
                for item_id, value, gone in zip(instrument.item_ids, values, missing, strict=True)
            }
            columns = scale_scores(instrument, answers_to_row(instrument, answers))
            for scale_id, scale in score(instrument, answers).scales.items():
                mean = float(columns.means[scale_id][0])
                assert scale.score == (None if math.isnan(mean) else mean)
                assert scale.answered == int(columns.answered[scale_id][0])


@given(st.floats(0.0, 8.0))
def test_percentile_is_what_numpy_interpolates(value: float) -> None:
    bank = load_bank(REPO / "items")
    for instrument in bank.values():
        assert instrument.norms is not None
        for norms in instrument.norms.scales.values():
            scores, ranks = norms.percentile_table
            for x in (value, *scores[:3], *scores[-2:]):
                assert percentile(norms, float(x)) == float(np.interp(float(x), scores, ranks))
