"""Facts about how a person answered, for the validity rules (careless or random answering)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..scoring.instrument import Instrument


def inconsistency(instrument: Instrument, raw: NDArray[np.float64]) -> float | None:
    """Largest gap, over scales, between the keyed means of regular and reverse-keyed items.

    Someone who agrees with "I worry about being left" and equally with "I feel sure people
    will stay" has a large gap; None when no scale has answered items of both kinds.
    """
    rs = instrument.response_scale
    keyed: dict[tuple[str, bool], list[float]] = {}
    for item, value in zip(instrument.items, raw.tolist(), strict=True):
        if value == value:  # not NaN
            keyed.setdefault((item.scale, item.reverse), []).append(
                rs.reverse(value) if item.reverse else value
            )
    gaps = [
        abs(sum(regular) / len(regular) - sum(reverse) / len(reverse))
        for scale in instrument.scales
        if (regular := keyed.get((scale, False))) and (reverse := keyed.get((scale, True)))
    ]
    return max(gaps) if gaps else None


def validity_facts(
    instrument: Instrument, raw: NDArray[np.float64], *, seconds: float | None
) -> dict[str, Any]:
    """``validity.*`` facts for one respondent's raw answers (NaN = unanswered)."""
    answered = raw[~np.isnan(raw)]
    return {
        "validity.answered": int(answered.size),
        "validity.same_answer": bool(answered.size >= 6 and np.all(answered == answered[0])),
        "validity.inconsistency": inconsistency(instrument, raw),
        "validity.seconds_per_item": (
            seconds / answered.size if seconds is not None and answered.size else None
        ),
    }
