"""Facts about how a person answered, for the validity rules (careless or random answering)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..scoring.instrument import Instrument


def _answered(raw: Sequence[float | None]) -> list[float]:
    return [float(v) for v in raw if v is not None and v == v]  # NaN, too, is unanswered


def inconsistency(instrument: Instrument, raw: Sequence[float | None]) -> float | None:
    """Largest gap, over scales, between the keyed means of regular and reverse-keyed items.

    Someone who agrees with "I worry about being left" and equally with "I feel sure people
    will stay" has a large gap; None when no scale has answered items of both kinds.
    ``raw`` is one person's answers in item order (None or NaN: unanswered).
    """
    rs = instrument.response_scale
    keyed: dict[tuple[str, bool], list[float]] = {}
    for item, value in zip(instrument.items, raw, strict=True):
        if value is not None and value == value:
            keyed.setdefault((item.scale, item.reverse), []).append(
                float(rs.reverse(value) if item.reverse else value)
            )
    gaps = [
        abs(sum(regular) / len(regular) - sum(reverse) / len(reverse))
        for scale in instrument.scales
        if (regular := keyed.get((scale, False))) and (reverse := keyed.get((scale, True)))
    ]
    return max(gaps) if gaps else None


def validity_facts(
    instrument: Instrument, raw: Sequence[float | None], *, seconds: float | None
) -> dict[str, Any]:
    """``validity.*`` facts for one respondent's raw answers in item order (None or NaN =
    unanswered)."""
    answered = _answered(raw)
    return {
        "validity.answered": len(answered),
        "validity.same_answer": len(answered) >= 6 and all(v == answered[0] for v in answered),
        "validity.inconsistency": inconsistency(instrument, raw),
        "validity.seconds_per_item": (
            seconds / len(answered) if seconds is not None and answered else None
        ),
    }
