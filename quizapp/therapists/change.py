"""Change across repeated administrations: reliable change and the trend chart's geometry.

A therapist may give the questionnaire several times during treatment. Whether a difference is
more than measurement error is judged with the Reliable Change Index of Jacobson & Truax (1991),
J Consult Clin Psychol 59(1), 12-19: RCI = (after - before) / S_diff with
S_diff = sqrt(SEM_before**2 + SEM_after**2), which is sqrt(2) * SEM for the same instrument;
the change is reliable (95%) when |RCI| > 1.96. The SEMs are the scoring engine's (SD *
sqrt(1 - reliability) from the norms, larger for a prorated score). The quick and full forms
score the same dimensions on the same 1..5 metric, but their norms differ a little, so a change
between them is flagged (``same_instrument=False``) for the page to say: compare with care.

Pure like ``charts``: dataclasses and arithmetic, no web and no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from itertools import pairwise
from typing import Literal

from ..scoring.engine import ScaleScore

Z95 = 1.96  # two-sided 95%, as in Jacobson & Truax (1991)
Direction = Literal["up", "down", "none"]

# Trend chart sizes, in SVG user units.
PLOT_W = 480  # plot area
PLOT_H = 240
PAD_LEFT = 56  # y tick labels and the axis title
PAD_RIGHT = 24
PAD_TOP = 40  # the legend
PAD_BOTTOM = 56  # date labels and the axis title
INSET = 28  # keeps the first and last administrations off the plot's left and right edges
MIN_GAP = 20  # least horizontal distance between neighbouring administrations
DODGE = 6  # horizontal distance between the series at one administration (error bars apart)
LABEL_GAP = 72  # least distance between the centres of two date labels ("13 Sep 2026")


@dataclass(frozen=True)
class Administration:
    """One completed questionnaire: when, which instrument, and its scale scores."""

    id: int
    finished_at: datetime  # naive means UTC, as elsewhere in the app
    instrument_id: str
    scales: Mapping[str, ScaleScore]


@dataclass(frozen=True)
class Change:
    """The change in one scale between two administrations (Jacobson & Truax 1991)."""

    scale: str
    label: str
    before: float
    after: float
    diff: float  # after - before
    s_diff: float  # standard error of the difference
    rci: float  # diff / s_diff
    reliable: bool  # |diff| > 1.96 * s_diff, i.e. |rci| > 1.96
    direction: Direction  # of a reliable change; "none" when the change is not reliable
    same_instrument: bool  # False: different forms, compare with care
    smallest_reliable: float  # 1.96 * s_diff, the least |diff| that would count


@dataclass(frozen=True)
class Step:
    """The changes from one administration to a later one, by scale (scales with both)."""

    before: Administration
    after: Administration
    changes: Mapping[str, Change]

    @property
    def same_instrument(self) -> bool:
        return self.before.instrument_id == self.after.instrument_id


@dataclass(frozen=True)
class ChangeSummary:
    steps: tuple[Step, ...]  # each consecutive pair, in time order
    overall: Step | None  # first to latest; None with fewer than two administrations


def _moment(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def in_time_order(administrations: Sequence[Administration]) -> list[Administration]:
    """The administrations sorted by completion time (stable for equal times)."""
    return sorted(administrations, key=lambda a: _moment(a.finished_at))


def reliable_change(
    before: ScaleScore, after: ScaleScore, *, same_instrument: bool = True
) -> Change | None:
    """The RCI for one scale; None when a score or SEM is missing (or both SEMs are 0)."""
    if before.scale != after.scale:
        raise ValueError(f"cannot compare scale {before.scale!r} with {after.scale!r}")
    if before.score is None or after.score is None or before.sem is None or after.sem is None:
        return None
    s_diff = math.sqrt(before.sem**2 + after.sem**2)
    if not (s_diff > 0 and math.isfinite(s_diff)):
        return None
    diff = after.score - before.score
    smallest = Z95 * s_diff
    reliable = abs(diff) > smallest
    direction: Direction = "none" if not reliable else "up" if diff > 0 else "down"
    return Change(
        scale=after.scale, label=after.label, before=before.score, after=after.score,
        diff=diff, s_diff=s_diff, rci=diff / s_diff, reliable=reliable, direction=direction,
        same_instrument=same_instrument, smallest_reliable=smallest,
    )  # fmt: skip


def compare(before: Administration, after: Administration) -> Step:
    """The change in every scale scored (with an SEM) in both administrations."""
    same = before.instrument_id == after.instrument_id
    changes: dict[str, Change] = {}
    for scale, earlier in before.scales.items():
        later = after.scales.get(scale)
        change = None if later is None else reliable_change(earlier, later, same_instrument=same)
        if change is not None:
            changes[scale] = change
    return Step(before, after, changes)


def change_summary(administrations: Sequence[Administration]) -> ChangeSummary:
    """Changes between each consecutive pair and from the first to the latest."""
    ordered = in_time_order(administrations)
    steps = tuple(compare(a, b) for a, b in pairwise(ordered))
    overall = compare(ordered[0], ordered[-1]) if len(ordered) > 1 else None
    return ChangeSummary(steps, overall)


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    score: float
    band: tuple[float, float] | None  # 90% band in score units (low, high)
    band_y: tuple[float, float] | None  # the same in SVG units (top, bottom)
    date: str
    administration_id: int
    instrument_id: str


@dataclass(frozen=True)
class TrendSeries:
    scale: str
    label: str
    points: tuple[TrendPoint, ...]  # administrations without a score are left out
    polyline: str  # "x,y x,y ..." for <polyline points="...">


@dataclass(frozen=True)
class TrendRow:
    """One administration, for the chart's text alternative: (series label, point or None)."""

    administration_id: int
    date: str
    instrument_id: str
    cells: tuple[tuple[str, TrendPoint | None], ...]


@dataclass(frozen=True)
class TrendChart:
    width: int  # viewBox
    height: int
    left: int  # plot area
    top: int
    right: int
    bottom: int
    scale_min: int
    scale_max: int
    series: tuple[TrendSeries, ...]
    rows: tuple[TrendRow, ...]  # one per administration, in time order
    y_ticks: tuple[tuple[float, int], ...]  # (y, response value)
    x_labels: tuple[tuple[float, str], ...]  # (x, date), thinned so they do not overlap
    to_scale: bool  # False when x had to be nudged or evenly spaced instead of by time


def date_label(when: datetime, tz: tzinfo | None = None) -> str:
    """'3 Mar 2026', in ``tz`` when given (naive times are UTC)."""
    moment = _moment(when).astimezone(tz) if tz is not None else when
    return f"{moment.day} {moment:%b %Y}"


def _x_positions(times: Sequence[float]) -> tuple[list[float], bool]:
    """x of each administration (times ascending) and whether it is proportional to time."""
    lo, hi = PAD_LEFT + INSET, PAD_LEFT + PLOT_W - INSET
    n, width = len(times), hi - lo
    if n == 1:
        return [(lo + hi) / 2], True
    span = times[-1] - times[0]
    if span <= 0 or (n - 1) * MIN_GAP > width:
        return [lo + i * width / (n - 1) for i in range(n)], False
    by_time = [lo + (t - times[0]) / span * width for t in times]
    xs = list(by_time)
    for i in range(1, n):  # push right to keep a gap, then pull back inside from the right
        xs[i] = max(xs[i], xs[i - 1] + MIN_GAP)
    xs[-1] = min(xs[-1], hi)
    for i in range(n - 2, -1, -1):
        xs[i] = min(xs[i], xs[i + 1] - MIN_GAP)
    return xs, all(abs(a - b) < 0.05 for a, b in zip(xs, by_time, strict=True))


def _thin(labels: Sequence[tuple[float, str]]) -> tuple[tuple[float, str], ...]:
    """Date labels far enough apart to be read, always keeping the latest."""
    kept: list[tuple[float, str]] = []
    for x, text in reversed(labels):
        if not kept or kept[-1][0] - x >= LABEL_GAP:
            kept.append((x, text))
    return tuple(reversed(kept))


def trend_chart(
    administrations: Sequence[Administration],
    response_scale_min: int = 1,
    response_scale_max: int = 5,
    *,
    scales: Sequence[str] = ("anxiety", "avoidance"),
    tz: tzinfo | None = None,
) -> TrendChart | None:
    """Geometry of the scores over time, one series per scale; None without administrations."""
    if not administrations:
        return None
    lo, hi = response_scale_min, response_scale_max
    if hi <= lo:
        raise ValueError(f"empty response scale {lo}..{hi}")
    ordered = in_time_order(administrations)
    xs, to_scale = _x_positions([_moment(a.finished_at).timestamp() for a in ordered])
    dates = [date_label(a.finished_at, tz) for a in ordered]
    present = [s for s in scales if any(s in a.scales for a in ordered)]

    def to_y(value: float) -> float:
        return round(PAD_TOP + (hi - min(max(value, lo), hi)) / (hi - lo) * PLOT_H, 1)

    series: list[TrendSeries] = []
    grid: list[list[TrendPoint | None]] = [[] for _ in ordered]
    for k, scale in enumerate(present):
        dodge = (k - (len(present) - 1) / 2) * DODGE
        points: list[TrendPoint] = []
        label = next(a.scales[scale].label for a in ordered if scale in a.scales)
        for i, adm in enumerate(ordered):
            s = adm.scales.get(scale)
            if s is None or s.score is None:
                grid[i].append(None)
                continue
            if not lo <= s.score <= hi:
                raise ValueError(f"{scale} score {s.score} is off the {lo}..{hi} scale")
            band_y = None if s.band is None else (to_y(s.band[1]), to_y(s.band[0]))
            point = TrendPoint(
                round(xs[i] + dodge, 1), to_y(s.score), s.score, s.band, band_y,
                dates[i], adm.id, adm.instrument_id,
            )  # fmt: skip
            points.append(point)
            grid[i].append(point)
        polyline = " ".join(f"{p.x},{p.y}" for p in points)
        series.append(TrendSeries(scale, label, tuple(points), polyline))
    labels = [s.label for s in series]
    rows = tuple(
        TrendRow(adm.id, dates[i], adm.instrument_id, tuple(zip(labels, grid[i], strict=True)))
        for i, adm in enumerate(ordered)
    )
    return TrendChart(
        width=PAD_LEFT + PLOT_W + PAD_RIGHT, height=PAD_TOP + PLOT_H + PAD_BOTTOM,
        left=PAD_LEFT, top=PAD_TOP, right=PAD_LEFT + PLOT_W, bottom=PAD_TOP + PLOT_H,
        scale_min=lo, scale_max=hi, series=tuple(series), rows=rows,
        y_ticks=tuple((to_y(v), v) for v in range(lo, hi + 1)),
        x_labels=_thin([(round(x, 1), d) for x, d in zip(xs, dates, strict=True)]),
        to_scale=to_scale,
    )  # fmt: skip
