"""Reliable change between administrations and the trend chart (geometry and SVG macro).

Golden values are worked out by hand from Jacobson & Truax (1991):
s_diff = sqrt(sem_before**2 + sem_after**2), rci = diff / s_diff, reliable when |rci| > 1.96.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from numpy.testing import assert_allclose

from quizapp.scoring.engine import ScaleScore, score
from quizapp.scoring.instrument import Instrument, load_bank
from quizapp.therapists.change import (
    LABEL_GAP,
    MIN_GAP,
    Z95,
    Administration,
    TrendChart,
    change_summary,
    compare,
    date_label,
    reliable_change,
    trend_chart,
)

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
LABELS = {"anxiety": "Attachment anxiety", "avoidance": "Attachment avoidance"}
T0 = datetime(2026, 3, 3, 10, 30, tzinfo=UTC)


def scale(
    name: str, value: float | None, sem: float | None = 0.4, *, band: bool = True
) -> ScaleScore:
    """A hand-made ScaleScore with a 90% band clipped to 1..5 (as the engine makes them)."""
    b = None
    if band and value is not None and sem is not None:
        b = (max(1.0, value - 1.645 * sem), min(5.0, value + 1.645 * sem))
    return ScaleScore(name, LABELS.get(name, name), value, 6, 6, sem=sem, band=b)


def adm(
    id: int, when: datetime, anxiety: float | None, avoidance: float | None, form: str = "quick"
) -> Administration:
    return Administration(
        id,
        when,
        form,
        {"anxiety": scale("anxiety", anxiety), "avoidance": scale("avoidance", avoidance)},
    )


# --- reliable change, golden values -------------------------------------------------------


def test_drop_of_one_point_on_the_quick_form_is_not_reliable() -> None:
    c = reliable_change(scale("anxiety", 3.0, 0.4), scale("anxiety", 2.0, 0.4))
    assert c is not None
    # s_diff = sqrt(0.16 + 0.16) = 0.565685; rci = -1 / 0.565685 = -1.767767
    assert_allclose([c.diff, c.s_diff, c.rci], [-1.0, 0.5656854, -1.7677670], rtol=1e-6)
    assert_allclose(c.smallest_reliable, 1.1087434, rtol=1e-6)  # 1.96 * 0.565685
    assert (c.reliable, c.direction, c.same_instrument) == (False, "none", True)
    assert (c.scale, c.label, c.before, c.after) == ("anxiety", "Attachment anxiety", 3.0, 2.0)


def test_larger_drop_is_reliable_and_down() -> None:
    c = reliable_change(scale("anxiety", 3.0, 0.4), scale("anxiety", 1.8, 0.4))
    assert c is not None
    assert c.rci == pytest.approx(-2.1213203, rel=1e-6)  # -1.2 / 0.565685
    assert (c.reliable, c.direction) == (True, "down")


def test_rise_across_forms_uses_both_sems() -> None:
    quick, full = scale("avoidance", 2.0, 0.40), scale("avoidance", 3.0, 0.23)
    c = reliable_change(quick, full, same_instrument=False)
    assert c is not None
    # s_diff = sqrt(0.16 + 0.0529) = sqrt(0.2129) = 0.461411; rci = 1 / 0.461411 = 2.167265
    assert_allclose([c.s_diff, c.rci], [0.4614109, 2.1672647], rtol=1e-6)
    assert (c.reliable, c.direction, c.same_instrument) == (True, "up", False)


def test_no_change_is_zero() -> None:
    c = reliable_change(scale("anxiety", 3.5), scale("anxiety", 3.5))
    assert c is not None
    assert (c.diff, c.rci, c.reliable, c.direction) == (0.0, 0.0, False, "none")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (scale("anxiety", None), scale("anxiety", 2.0)),
        (scale("anxiety", 3.0), scale("anxiety", None)),
        (scale("anxiety", 3.0, None), scale("anxiety", 2.0)),
        (scale("anxiety", 3.0), scale("anxiety", 2.0, None)),
        (scale("anxiety", 3.0, 0.0), scale("anxiety", 2.0, 0.0)),
    ],
)
def test_missing_score_or_sem_gives_none(before: ScaleScore, after: ScaleScore) -> None:
    assert reliable_change(before, after) is None


def test_different_scales_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot compare"):
        reliable_change(scale("anxiety", 3.0), scale("avoidance", 2.0))


# --- reliable change, invariants ----------------------------------------------------------

scores = st.floats(min_value=1.0, max_value=5.0)
sems = st.floats(min_value=0.01, max_value=1.5)


@given(scores, sems, scores, sems)
def test_rci_invariants(before: float, sem_b: float, after: float, sem_a: float) -> None:
    c = reliable_change(scale("anxiety", before, sem_b), scale("anxiety", after, sem_a))
    assert c is not None
    assert c.diff == after - before
    assert math.copysign(1, c.rci) == math.copysign(1, c.diff) or c.diff == 0 == c.rci
    assert c.reliable == (abs(c.diff) > Z95 * c.s_diff)
    assert c.s_diff >= max(sem_a, sem_b)
    assert c.smallest_reliable == pytest.approx(Z95 * c.s_diff)
    expected = "none" if not c.reliable else ("up" if c.diff > 0 else "down")
    assert c.direction == expected


# --- changes across a course of administrations -------------------------------------------


def test_summary_has_each_consecutive_pair_and_first_to_latest() -> None:
    a = adm(1, T0, 3.0, 2.0)
    b = adm(2, T0 + timedelta(days=14), 2.5, None)  # avoidance not scored this time
    c = adm(3, T0 + timedelta(days=28), 1.5, 2.2, form="full")
    summary = change_summary([c, a, b])  # out of order on purpose: sorted by time
    assert [(s.before.id, s.after.id) for s in summary.steps] == [(1, 2), (2, 3)]
    assert set(summary.steps[0].changes) == {"anxiety"}
    assert set(summary.steps[1].changes) == {"anxiety"}
    assert summary.overall is not None
    assert (summary.overall.before.id, summary.overall.after.id) == (1, 3)
    assert set(summary.overall.changes) == {"anxiety", "avoidance"}
    assert not summary.overall.same_instrument
    assert not summary.overall.changes["anxiety"].same_instrument
    assert summary.steps[0].changes["anxiety"].same_instrument
    assert summary.overall.changes["anxiety"].diff == pytest.approx(-1.5)


@pytest.mark.parametrize("count", [0, 1])
def test_summary_needs_two(count: int) -> None:
    summary = change_summary([adm(1, T0, 3.0, 2.0)][:count])
    assert summary.steps == ()
    assert summary.overall is None


def respond(instrument: Instrument, anxiety: int, avoidance: int) -> dict[str, int | None]:
    """Answers that key to exactly ``anxiety`` and ``avoidance`` on every item."""
    rs = instrument.response_scale
    answers: dict[str, int | None] = {}
    for item in instrument.items:
        keyed = anxiety if item.scale == "anxiety" else avoidance
        answers[item.id] = rs.min + rs.max - keyed if item.reverse else keyed
    return answers


@pytest.fixture(scope="module")
def quick_then_full() -> list[Administration]:
    bank = load_bank(REPO / "items")
    plan = [("quick", 5, 4), ("quick", 4, 4), ("full", 2, 3)]
    return [
        Administration(
            i + 1,
            T0 + timedelta(days=21 * i),
            form,
            score(bank[form], respond(bank[form], a, v)).scales,
        )
        for i, (form, a, v) in enumerate(plan)
    ]


def test_real_scores_quick_then_full(quick_then_full: list[Administration]) -> None:
    first, second, third = quick_then_full
    assert first.scales["anxiety"].score == 5.0 and third.scales["anxiety"].score == 2.0
    step = compare(second, third)
    c = step.changes["anxiety"]
    sem_quick, sem_full = second.scales["anxiety"].sem, third.scales["anxiety"].sem
    assert sem_quick is not None and sem_full is not None
    assert sem_quick == pytest.approx(0.40, abs=0.01) and sem_full == pytest.approx(0.23, abs=0.01)
    assert_allclose(c.s_diff, math.sqrt(sem_quick**2 + sem_full**2))
    assert_allclose(c.rci, -2.0 / math.sqrt(sem_quick**2 + sem_full**2))
    assert (c.reliable, c.direction, c.same_instrument) == (True, "down", False)
    same_form = compare(first, second).changes["anxiety"]  # 5 -> 4 on the quick form
    assert same_form.same_instrument
    assert_allclose(same_form.s_diff, math.sqrt(2) * sem_quick)
    assert not same_form.reliable  # 1 < 1.96 * sqrt(2) * 0.40 = 1.11


# --- trend chart geometry -----------------------------------------------------------------


def test_no_administrations_no_chart() -> None:
    assert trend_chart([]) is None


def test_single_administration_is_centred() -> None:
    chart = trend_chart([adm(7, T0, 3.0, 2.0)])
    assert chart is not None
    centre = (chart.left + chart.right) / 2
    assert chart.x_labels == ((centre, "3 Mar 2026"),)
    xs = [s.points[0].x for s in chart.series]
    assert sum(xs) / 2 == pytest.approx(centre) and xs[0] != xs[1]  # dodged apart
    assert chart.to_scale


def test_y_runs_from_max_at_top_to_min_at_bottom() -> None:
    chart = trend_chart([adm(1, T0, 5.0, 1.0)])
    assert chart is not None
    anxiety, avoidance = chart.series
    assert (anxiety.scale, avoidance.scale) == ("anxiety", "avoidance")
    assert anxiety.points[0].y == chart.top and avoidance.points[0].y == chart.bottom
    assert [v for _, v in chart.y_ticks] == [1, 2, 3, 4, 5]
    assert [y for y, _ in chart.y_ticks] == [chart.bottom, 220, 160, 100, chart.top]
    band_y = avoidance.points[0].band_y
    assert band_y is not None and band_y[1] == chart.bottom  # band clipped at 1


def test_x_is_proportional_to_time() -> None:
    days = [0, 10, 30]
    chart = trend_chart([adm(i, T0 + timedelta(days=d), 3.0, 2.0) for i, d in enumerate(days)])
    assert chart is not None and chart.to_scale
    xs = [x for x, _ in chart.x_labels]
    assert_allclose((xs[2] - xs[1]) / (xs[1] - xs[0]), 2.0, rtol=1e-3)
    points = chart.series[0].points
    assert chart.series[0].polyline == " ".join(f"{p.x},{p.y}" for p in points)
    assert [p.administration_id for p in points] == [0, 1, 2]


def test_same_day_administrations_do_not_overlap() -> None:
    whens = [T0, T0 + timedelta(hours=1), T0 + timedelta(days=120)]
    chart = trend_chart([adm(i, w, 3.0, 2.0) for i, w in enumerate(whens)])
    assert chart is not None and not chart.to_scale
    xs = [p.x for p in chart.series[0].points]
    assert xs[1] - xs[0] >= MIN_GAP - 0.1  # rounding to 0.1


def test_identical_times_fall_back_to_even_spacing() -> None:
    chart = trend_chart([adm(i, T0, 3.0, 2.0) for i in range(3)])
    assert chart is not None and not chart.to_scale
    xs = [p.x for p in chart.series[0].points]
    assert_allclose(xs[1] - xs[0], xs[2] - xs[1], atol=0.11)
    assert xs[0] < xs[1] < xs[2]


def test_missing_score_leaves_a_gap_in_one_series_only() -> None:
    chart = trend_chart([adm(1, T0, 3.0, 2.0), adm(2, T0 + timedelta(days=7), 2.5, None)])
    assert chart is not None
    assert [len(s.points) for s in chart.series] == [2, 1]
    assert chart.rows[1].cells[1] == ("Attachment avoidance", None)


def test_date_labels() -> None:
    assert date_label(datetime(2026, 3, 3, 23, 30)) == "3 Mar 2026"
    late = datetime(2026, 3, 3, 23, 30, tzinfo=UTC)
    assert date_label(late, timezone(timedelta(hours=2))) == "4 Mar 2026"


def test_score_off_the_scale_is_refused() -> None:
    with pytest.raises(ValueError, match=r"off the 1\.\.5 scale"):
        trend_chart([adm(1, T0, 6.0, 2.0)])


@st.composite
def courses(draw: st.DrawFn) -> list[Administration]:
    """Administrations in time order (possibly at the same moment) with scores on 1..5."""
    gaps = draw(st.lists(st.integers(0, 400 * 24 * 3600), min_size=1, max_size=20))
    out, when = [], T0
    for i, gap in enumerate(gaps):
        when += timedelta(seconds=gap if i else 0)
        form = draw(st.sampled_from(["quick", "full"]))
        out.append(adm(i, when, draw(scores), draw(scores), form))
    return out


@given(courses())
def test_chart_invariants(course: list[Administration]) -> None:
    chart = trend_chart(course)
    assert isinstance(chart, TrendChart)
    for s in chart.series:
        assert len(s.points) == len(course)
        xs = [p.x for p in s.points]
        assert all(a < b for a, b in pairwise(xs)), "x increases with time"
        for p in s.points:
            assert chart.left <= p.x <= chart.right and chart.top <= p.y <= chart.bottom
            assert p.band_y is not None
            assert chart.top <= p.band_y[0] <= p.y <= p.band_y[1] <= chart.bottom
    label_xs = [x for x, _ in chart.x_labels]
    assert all(b - a >= LABEL_GAP for a, b in pairwise(label_xs))
    assert chart.x_labels[-1][1] == chart.rows[-1].date  # the latest date is always labelled


# --- the SVG macro --------------------------------------------------------------------------


def render(chart: TrendChart, **kwargs: str) -> ET.Element:
    env = Environment(
        loader=FileSystemLoader(REPO / "quizapp" / "web" / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    template = env.from_string(
        '{% from "therapist/_trend.html" import trend_svg %}{{ trend_svg(chart, **kwargs) }}'
    )
    return ET.fromstring(template.render(chart=chart, kwargs=kwargs))


def markers(root: ET.Element) -> dict[str, list[ET.Element]]:
    return {
        g.attrib["data-scale"]: [e for e in g.iter() if e.get("class") == "marker"]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "series"
    }


def test_macro_draws_an_accessible_svg(quick_then_full: list[Administration]) -> None:
    chart = trend_chart(quick_then_full)
    assert chart is not None
    root = render(chart)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    title, desc = ids[root.attrib["aria-labelledby"]], ids[root.attrib["aria-describedby"]]
    assert title.tag == f"{SVG}title" and title.text
    assert desc.tag == f"{SVG}desc" and desc.text
    for a in quick_then_full:
        assert date_label(a.finished_at) in desc.text
        for s in a.scales.values():
            assert s.score is not None and s.band is not None
            assert f"{s.score:.2f} (90% range {s.band[0]:.2f} to {s.band[1]:.2f})" in desc.text
    assert "quick form" in desc.text and "full form" in desc.text
    found = markers(root)
    assert {k: len(v) for k, v in found.items()} == {"anxiety": 3, "avoidance": 3}
    # Not colour alone: the series differ in marker shape and line pattern too.
    anxiety, avoidance = found["anxiety"][0], found["avoidance"][0]
    assert anxiety.tag != avoidance.tag and anxiety.get("stroke") != avoidance.get("stroke")
    lines = {g.get("data-scale"): g.find(f"{SVG}polyline") for g in root.iter(f"{SVG}g")}
    dashes = {k: None if v is None else v.get("stroke-dasharray") for k, v in lines.items()}
    assert dashes["anxiety"] != dashes["avoidance"]
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert ["".join(g.itertext()).strip() for g in legend] == list(LABELS.values())
    bands = [g for g in root.iter(f"{SVG}g") if g.get("class") == "band"]
    assert len(bands) == 6


def test_macro_is_safe_under_the_csp() -> None:
    chart = trend_chart([adm(1, T0, 3.0, 2.0), adm(2, T0 + timedelta(days=3), 2.0, 2.5)])
    assert chart is not None
    root = render(chart)
    for e in root.iter():
        assert e.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}image", f"{SVG}use")
        for name in e.attrib:
            assert name != "style" and not name.startswith("on") and "href" not in name


def test_macro_escapes_labels_and_reports_missing_scores() -> None:
    odd = Administration(
        1, T0, "quick", {"anxiety": scale("anxiety", 3.0), "avoidance": scale("avoidance", None)}
    )
    chart = trend_chart([odd])
    assert chart is not None
    root = render(chart, id="t2", title='Scores <for> "Sam" & co')
    assert root.get("aria-labelledby") == "t2-title"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == 'Scores <for> "Sam" & co'
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert "Attachment avoidance not scored" in desc.text
    assert {k: len(v) for k, v in markers(root).items()} == {"anxiety": 1, "avoidance": 0}
