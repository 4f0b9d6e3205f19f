"""Geometry of the quadrant chart (avoidance across, anxiety up), drawn as SVG on the server."""

from __future__ import annotations

from dataclasses import dataclass

from ..scoring.engine import ScoreReport
from ..scoring.instrument import ResponseScale

SIZE = 320  # SVG user units for the plot square
PAD = 44


@dataclass(frozen=True)
class Chart:
    size: int
    pad: int
    x: float  # the person's point
    y: float
    band_x: tuple[float, float]  # 90% band, avoidance, in SVG units (left, right)
    band_y: tuple[float, float]  # 90% band, anxiety (top, bottom)
    cut_x: float
    cut_y: float
    ticks: tuple[tuple[float, float, int], ...]  # (x, y, label) of each response value


def quadrant_chart(report: ScoreReport, scale: ResponseScale) -> Chart | None:
    """Chart geometry when both dimensions have a score, band and cut-off; else None."""
    anx, avo = report.scales.get("anxiety"), report.scales.get("avoidance")
    if anx is None or avo is None or anx.score is None or avo.score is None:
        return None
    if anx.band is None or avo.band is None or anx.cutoff is None or avo.cutoff is None:
        return None
    span = scale.max - scale.min

    def to_x(value: float) -> float:
        return round(PAD + (value - scale.min) / span * SIZE, 1)

    def to_y(value: float) -> float:
        return round(PAD + (scale.max - value) / span * SIZE, 1)

    ticks = tuple((to_x(v), to_y(v), v) for v in scale.values)
    return Chart(
        size=SIZE, pad=PAD, x=to_x(avo.score), y=to_y(anx.score),
        band_x=(to_x(avo.band[0]), to_x(avo.band[1])),
        band_y=(to_y(anx.band[1]), to_y(anx.band[0])),
        cut_x=to_x(avo.cutoff), cut_y=to_y(anx.cutoff), ticks=ticks,
    )  # fmt: skip
