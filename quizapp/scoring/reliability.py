"""Reliability figures: Cronbach's alpha, standard error of measurement, Spearman-Brown."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

Z90 = 1.6448536269514722  # two-sided 90%: the 95th percentile of the standard normal


def cronbach_alpha(responses: ArrayLike) -> float:
    """Cronbach's alpha of a respondents x items matrix (variances with n - 1).

    Rows with any missing value (NaN) are left out (listwise deletion). Raises
    ``ValueError`` with fewer than two items or two complete rows, or zero total variance.
    """
    matrix = np.asarray(responses, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        raise ValueError("alpha needs a matrix with at least two items (columns)")
    complete = matrix[~np.isnan(matrix).any(axis=1)]
    if complete.shape[0] < 2:
        raise ValueError("alpha needs at least two complete rows")
    k = complete.shape[1]
    item_variance = complete.var(axis=0, ddof=1).sum()
    total_variance = complete.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        raise ValueError("alpha is undefined when every total score is the same")
    return float(k / (k - 1) * (1.0 - item_variance / total_variance))


def spearman_brown(reliability: float, length_ratio: float) -> float:
    """Reliability of a test ``length_ratio`` times as long (``< 1`` for a shortened test)."""
    return length_ratio * reliability / (1.0 + (length_ratio - 1.0) * reliability)


def standard_error(sd: float, reliability: float) -> float:
    """Standard error of measurement: ``SD * sqrt(1 - reliability)``."""
    return sd * math.sqrt(1.0 - reliability)
