"""Reliability figures: Cronbach's alpha, Spearman-Brown and the standard error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from quizapp.scoring.reliability import Z90, cronbach_alpha, spearman_brown, standard_error

# 4 respondents x 3 items
MATRIX = [
    [1, 1, 2],
    [2, 3, 2],
    [3, 3, 4],
    [4, 5, 4],
]
# item variances (n - 1): col 1 mean 2.5, SS 2.25+0.25+0.25+2.25 = 5 -> 5/3
#                         col 2 mean 3,   SS 4+0+0+4 = 8           -> 8/3
#                         col 3 mean 3,   SS 1+1+1+1 = 4           -> 4/3;  sum 17/3
# totals 4, 7, 10, 13: mean 8.5, SS 20.25+2.25+2.25+20.25 = 45 -> 15
# alpha = 3/2 * (1 - (17/3)/15) = 1.5 * 28/45 = 42/45 = 0.9333
ALPHA = 42 / 45


def test_alpha_by_hand() -> None:
    assert_allclose(cronbach_alpha(MATRIX), ALPHA, rtol=1e-12)
    assert_allclose(cronbach_alpha(np.array(MATRIX, dtype=float)), ALPHA, rtol=1e-12)


def test_alpha_two_items_by_hand() -> None:
    # columns 1, 2, 3 and 1, 3, 2: variances 1 and 1; totals 2, 5, 5: mean 4, SS 4+1+1 = 6 -> 3
    # alpha = 2/1 * (1 - 2/3) = 2/3
    assert_allclose(cronbach_alpha([[1, 1], [2, 3], [3, 2]]), 2 / 3, rtol=1e-12)


def test_alpha_leaves_out_rows_with_missing_values() -> None:
    with_gaps = [*MATRIX, [1, np.nan, 5], [np.nan, np.nan, np.nan], [5, 5, np.nan]]
    assert_allclose(cronbach_alpha(with_gaps), ALPHA, rtol=1e-12)


def test_alpha_can_be_negative() -> None:
    # items that disagree: [1, 3], [2, 1], [3, 2]: item variances 1 and 1;
    # totals 4, 3, 5: variance 1; alpha = 2/1 * (1 - 2/1) = -2
    assert_allclose(cronbach_alpha([[1, 3], [2, 1], [3, 2]]), -2.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1], [2], [3]], "at least two items"),
        ([1, 2, 3], "at least two items"),
        ([[1, 2]], "at least two complete rows"),
        ([[1, 2], [np.nan, 3], [4, np.nan]], "at least two complete rows"),
        ([[1, 2], [2, 1], [3, 0]], "every total score is the same"),
        ([[3, 3], [3, 3]], "every total score is the same"),
    ],
)
def test_alpha_errors(matrix: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cronbach_alpha(matrix)  # type: ignore[arg-type]


def test_spearman_brown_known_values() -> None:
    # doubling r = .5: 2 * .5 / (1 + .5) = 2/3; halving r = .8: .4 / (1 - .4) = 2/3
    assert_allclose(spearman_brown(0.5, 2.0), 2 / 3, rtol=1e-12)
    assert_allclose(spearman_brown(0.8, 0.5), 2 / 3, rtol=1e-12)
    # three quarters of r = .84: .63 / .79
    assert_allclose(spearman_brown(0.84, 0.75), 0.63 / 0.79, rtol=1e-12)


@given(r=st.floats(0.01, 0.99), k=st.floats(0.05, 20))
def test_spearman_brown_identities(r: float, k: float) -> None:
    assert_allclose(spearman_brown(r, 1.0), r, rtol=1e-12)
    shortened = spearman_brown(r, k)
    assert 0 < shortened < 1
    assert_allclose(spearman_brown(shortened, 1 / k), r, rtol=1e-9)  # and back again
    if k < 0.99:
        assert shortened < r
    elif k > 1.01:
        assert shortened > r
    # lengthening by a then b is lengthening by a * b
    assert_allclose(spearman_brown(spearman_brown(r, k), 2.0), spearman_brown(r, 2 * k), rtol=1e-9)


def test_standard_error_and_z90() -> None:
    assert_allclose(standard_error(0.8, 0.84), 0.32, rtol=1e-12)
    assert_allclose(standard_error(2.0, 0.0), 2.0, rtol=1e-12)
    assert standard_error(1.0, 1.0) == 0.0
    # the 95th percentile of the standard normal: 0.5 * (1 + erf(z / sqrt 2)) = 0.95
    assert_allclose(0.5 * (1 + math.erf(Z90 / math.sqrt(2))), 0.95, rtol=1e-12)
