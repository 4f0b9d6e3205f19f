"""The four attachment patterns, as the closest quadrant of the anxiety x avoidance plane.

Dimensions come first: a pattern is only a summary of where two continuous scores fall
relative to two cut-offs. Its probability treats each true score as normal around the
observed score with the scale's standard error of measurement, the two independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

# (anxiety high?, avoidance high?) -> pattern id
QUADRANTS: dict[tuple[bool, bool], str] = {
    (False, False): "secure",
    (True, False): "anxious-preoccupied",
    (False, True): "dismissive-avoidant",
    (True, True): "fearful-avoidant",
}

PATTERN_LABELS: dict[str, str] = {
    "secure": "Secure",
    "anxious-preoccupied": "Anxious-preoccupied",
    "dismissive-avoidant": "Dismissive-avoidant",
    "fearful-avoidant": "Fearful-avoidant",
}


@dataclass(frozen=True)
class PatternEstimate:
    """The closest pattern, its probability and the probability of each of the four."""

    closest: str
    probability: float
    probabilities: dict[str, float]
    near_boundary: tuple[str, ...]  # dimensions whose 90% band contains the cut-off

    @property
    def label(self) -> str:
        return PATTERN_LABELS[self.closest]


def probability_above(score: float, cutoff: float, sem: float) -> float:
    """P(true score > cut-off) when the true score ~ Normal(score, sem)."""
    if sem <= 0:
        return 1.0 if score > cutoff else 0.0
    return 1.0 - NormalDist(score, sem).cdf(cutoff)


def closest_pattern(
    anxiety: float,
    avoidance: float,
    *,
    cutoffs: tuple[float, float],
    sems: tuple[float, float],
    near: tuple[bool, bool],
) -> PatternEstimate:
    """Quadrant probabilities for an (anxiety, avoidance) score pair.

    ``cutoffs`` and ``sems`` are (anxiety, avoidance); ``near`` says for each dimension
    whether its 90% band contains the cut-off.
    """
    p_anx = probability_above(anxiety, cutoffs[0], sems[0])
    p_avo = probability_above(avoidance, cutoffs[1], sems[1])
    probabilities = {
        pattern: (p_anx if high_anx else 1 - p_anx) * (p_avo if high_avo else 1 - p_avo)
        for (high_anx, high_avo), pattern in QUADRANTS.items()
    }
    closest = max(probabilities, key=lambda p: probabilities[p])
    dims = tuple(name for name, flag in zip(("anxiety", "avoidance"), near, strict=True) if flag)
    return PatternEstimate(closest, probabilities[closest], probabilities, dims)
