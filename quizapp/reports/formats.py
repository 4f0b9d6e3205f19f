"""How numbers read in a report; the same functions are the templates' filters."""

from __future__ import annotations


def num(value: float, places: int = 2) -> str:
    """A score with a fixed number of decimals (the same everywhere in a report)."""
    return f"{value:.{places}f}"


def ordinal(value: float) -> str:
    """A percentile as an English ordinal, rounded: 1st, 2nd, 3rd, 11th, 42nd."""
    n = round(value)
    suffix = "th" if 10 < n % 100 < 14 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percent(probability: float) -> str:
    """A probability as a whole percentage: 0.734 -> "73%". Never "100%" or "0%", which a
    model cannot know: "more than 99%" and "less than 1%" instead."""
    whole = round(probability * 100)
    if whole >= 100:
        return "more than 99%"
    if whole <= 0:
        return "less than 1%"
    return f"{whole}%"
