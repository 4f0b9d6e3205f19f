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
    gaps = []
    for scale in instrument.scales.values():
        regular: list[float] = []
        reverse: list[float] = []
        for item in instrument.items:
            value = raw[instrument.item_ids.index(item.id)]
            if item.scale != scale.id or np.isnan(value):
                continue
            (reverse if item.reverse else regular).append(
                rs.reverse(value) if item.reverse else value
            )
        if regular and reverse:
            gaps.append(abs(float(np.mean(regular)) - float(np.mean(reverse))))
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
