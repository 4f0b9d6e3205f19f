"""scikit-learn estimators of the interpretation layer, following scikit-learn's conventions:
``__init__`` only stores arguments, ``fit`` validates and sets attributes ending in ``_``.

- :class:`ShortFormRegressor`: full-scale scores from short-form answers, with split-conformal
  prediction intervals (calibrated separately within bins of the prediction).
- :class:`ExpectedAnswers`: the expected keyed answer to each item given a person's levels, and
  the residual SD per item, to standardise a person's deviations.
- :class:`RandomResponderDetector`: an outlier detector for random answering, learned by
  telling real answer patterns from uniformly random ones (outlier detection as
  classification against a uniform background; Hastie, Tibshirani & Friedman 2009, 14.2.4).
- :class:`ConsistencyDetector`: the same, for the quick form's answers together with the
  follow-up statements asked of a borderline case: do they fit together as real answers do?
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, RegressorMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data


def _split(n: int, fraction: float, random_state: Any) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a random (1 - fraction, fraction) split of ``n`` rows (``n`` >= 2)."""
    if n < 2:
        raise ValueError(f"n_samples = {n}, but a fit needs at least 2 samples to split")
    order = check_random_state(random_state).permutation(n)
    cut = n - max(1, round(n * fraction))
    return order[:cut], order[cut:]


def _conformal_quantile(residuals: np.ndarray, coverage: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) * coverage)-th smallest residual."""
    n = residuals.size
    rank = min(n, int(np.ceil((n + 1) * coverage)))
    return float(np.sort(residuals)[rank - 1])


def _binned_half_widths(
    predicted: np.ndarray, residuals: np.ndarray, edges: np.ndarray, coverage: float
) -> list[float]:
    """A conformal half-width per bin of predicted value (the overall one for sparse bins)."""
    bin_of = np.searchsorted(edges, predicted)
    overall = _conformal_quantile(residuals, coverage)
    return [
        _conformal_quantile(residuals[bin_of == b], coverage)
        if (bin_of == b).sum() >= 10
        else overall
        for b in range(len(edges) + 1)
    ]


class ShortFormRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """Full-scale scores from short-form answers, with a ``coverage`` prediction interval.

    Answers are one-hot encoded (each answer category gets its own weight) and fitted with
    ridge regression on a ``1 - calibration_fraction`` part of the data; the held-out part
    gives conformal half-widths of the interval, one per bin of predicted value, so the
    interval is narrower where scores are bounded by the end of the scale.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        coverage: float = 0.9,
        calibration_fraction: float = 0.25,
        n_bins: int = 4,
        random_state: int | None = 0,
    ) -> None:
        self.alpha = alpha
        self.coverage = coverage
        self.calibration_fraction = calibration_fraction
        self.n_bins = n_bins
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> ShortFormRegressor:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        y2 = y.reshape(len(y), -1)
        fit_rows, cal_rows = _split(len(X), self.calibration_fraction, self.random_state)
        self.pipeline_: Pipeline = make_pipeline(
            OneHotEncoder(handle_unknown="ignore", sparse_output=False), Ridge(alpha=self.alpha)
        )
        self.pipeline_.fit(X[fit_rows], y2[fit_rows])
        predicted = self.pipeline_.predict(X[cal_rows]).reshape(len(cal_rows), -1)
        residuals = np.abs(y2[cal_rows] - predicted)
        bins = max(1, min(self.n_bins, len(cal_rows) // 20))
        self.bin_edges_ = np.array(
            [
                np.quantile(predicted[:, j], np.linspace(0, 1, bins + 1)[1:-1])
                for j in range(y2.shape[1])
            ]
        ).reshape(y2.shape[1], bins - 1)
        self.half_width_ = np.array(
            [
                _binned_half_widths(predicted[:, j], residuals[:, j], edges, self.coverage)
                for j, edges in enumerate(self.bin_edges_)
            ]
        )
        self.y_range_ = np.vstack([y2.min(axis=0), y2.max(axis=0)])
        self.n_outputs_ = y2.shape[1]
        self._single_output = y.ndim == 1
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        predicted: np.ndarray = self.pipeline_.predict(X).reshape(len(X), -1)
        return predicted[:, 0] if self._single_output else predicted

    def predict_interval(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper ends of the ``coverage`` interval, clipped to the target range."""
        predicted = self.predict(X).reshape(len(X), -1)
        width = np.column_stack(
            [
                self.half_width_[j][np.searchsorted(self.bin_edges_[j], predicted[:, j])]
                for j in range(self.n_outputs_)
            ]
        )
        low = np.clip(predicted - width, self.y_range_[0], self.y_range_[1])
        high = np.clip(predicted + width, self.y_range_[0], self.y_range_[1])
        if self._single_output:
            return low[:, 0], high[:, 0]
        return low, high


class ExpectedAnswers(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """Expected answer to each item from a person's levels (polynomial ridge regression).

    ``residual_sd_`` holds each item's residual SD, so that ``standardised_deviations``
    says how much more (positive) or less (negative) activated an answer is than the
    person's levels predict, in SD units.
    """

    def __init__(self, degree: int = 2, alpha: float = 1.0) -> None:
        self.degree = degree
        self.alpha = alpha

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> ExpectedAnswers:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        self.pipeline_: Pipeline = make_pipeline(
            PolynomialFeatures(self.degree), Ridge(alpha=self.alpha)
        )
        self.pipeline_.fit(X, y)
        residuals = np.asarray(y, dtype=float) - self.pipeline_.predict(X)
        sd = residuals.std(axis=0, ddof=1) if len(X) > 1 else np.ones(residuals.shape[1:])
        self.residual_sd_ = np.where(np.asarray(sd) > 0, sd, 1.0)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        result: np.ndarray = self.pipeline_.predict(X)
        return result

    def standardised_deviations(self, X: Any, y: Any) -> np.ndarray:
        """(answer - expected) / residual SD, per person and item."""
        deviations: np.ndarray = (np.asarray(y, dtype=float) - self.predict(X)) / self.residual_sd_
        return deviations


class RandomResponderDetector(OutlierMixin, BaseEstimator):  # type: ignore[misc]  # untyped bases
    """Flags answer patterns that look careless (-1) rather than real (1).

    A gradient-boosting classifier learns to tell the real rows from as many careless rows on
    ``low..high``: a ``uniform_share`` of them uniformly random, the rest drawn in equal parts
    from the other noise families of :mod:`.visitor` (midpoint- and extremes-biased,
    straight-lining with one or two answers changed, alternating, diagonal), all with this
    estimator's own seed. The threshold on its probability of "careless" is set so that a
    ``false_positive_rate`` share of held-out real rows would be flagged.
    """

    def __init__(
        self,
        low: int = 1,
        high: int = 5,
        false_positive_rate: float = 0.04,
        holdout_fraction: float = 0.2,
        max_iter: int = 200,
        random_state: int | None = 0,
        uniform_share: float = 1.0,
    ) -> None:
        self.low = low
        self.high = high
        self.uniform_share = uniform_share
        self.false_positive_rate = false_positive_rate
        self.holdout_fraction = holdout_fraction
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> RandomResponderDetector:
        X = validate_data(self, X)
        rng = check_random_state(self.random_state)
        fit_rows, held_rows = _split(len(X), self.holdout_fraction, rng)
        background = self._background(rng, len(fit_rows), X.shape[1])
        self.classifier_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, random_state=rng.randint(2**31 - 1)
        )
        self.classifier_.fit(
            np.vstack([X[fit_rows], background]),
            np.r_[np.zeros(len(fit_rows)), np.ones(len(background))],
        )
        self.n_iter_ = self.classifier_.n_iter_
        held_scores = self.score_samples(X[held_rows])
        self.offset_ = float(np.quantile(held_scores, self.false_positive_rate))
        return self

    def _background(self, rng: Any, n: int, k: int) -> np.ndarray:
        uniform = round(n * self.uniform_share)
        rows = [rng.randint(self.low, self.high + 1, size=(uniform, k)).astype(float)]
        if uniform < n:
            from .visitor import NOISE_FAMILIES

            others = [draw for name, draw in NOISE_FAMILIES.items() if name != "uniform"]
            each = -(-(n - uniform) // len(others))  # rounded up
            generator = np.random.default_rng(rng.randint(2**31 - 1))
            values = np.arange(self.low, self.high + 1)
            rows += [draw(generator, each, k, values) for draw in others]
        return np.vstack(rows)[:n]

    def score_samples(self, X: Any) -> np.ndarray:
        """Higher is more like a real answer pattern: minus the probability of "random"."""
        check_is_fitted(self, "classifier_")
        X = validate_data(self, X, reset=False)
        result: np.ndarray = -self.classifier_.predict_proba(X)[:, 1]
        return result

    def decision_function(self, X: Any) -> np.ndarray:
        """Negative for patterns flagged as random."""
        check_is_fitted(self)
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        return np.where(self.decision_function(X) < 0, -1, 1)


class ConsistencyDetector(RandomResponderDetector):
    """Flags the quick form's answers together with a follow-up's that look careless (-1).

    A row holds answers to the full bank's statements (``items``; NaN: not asked): the quick
    form's answers stand for their full-form twins, and the follow-up's are the statements
    asked. ``fit`` takes real rows (``y`` 0) and careless rows (``y`` 1) asked what the
    service would ask them; a gradient-boosting classifier, which routes unasked statements
    as missing values, learns to tell them apart. The threshold is set on held-out real rows
    so that a ``false_positive_rate`` share of all of them is flagged among those the check
    applies to (``suspect``: the quick form's detector found them borderline);
    ``suspect_below`` is that borderline, on the quick detector's score, kept for the service.
    Flags as :class:`RandomResponderDetector` does (``decision_function``, ``predict``).
    """

    def __init__(
        self,
        items: tuple[str, ...] = (),
        suspect_below: float = 0.0,
        follow_up_version: str = "",
        false_positive_rate: float = 0.04,
        holdout_fraction: float = 0.2,
        max_iter: int = 200,
        random_state: int | None = 0,
    ) -> None:
        self.items = items
        self.suspect_below = suspect_below
        self.follow_up_version = follow_up_version
        self.false_positive_rate = false_positive_rate
        self.holdout_fraction = holdout_fraction
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None, suspect: Any = None) -> ConsistencyDetector:
        X = validate_data(self, X, ensure_all_finite="allow-nan")
        y = np.asarray(y, dtype=int)
        real = np.flatnonzero(y == 0)
        suspect = np.ones(len(X), bool) if suspect is None else np.asarray(suspect, bool)
        rng = check_random_state(self.random_state)
        fit_rows, held_rows = _split(len(real), self.holdout_fraction, rng)
        used = np.r_[real[fit_rows], np.flatnonzero(y == 1)]
        self.classifier_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, random_state=rng.randint(2**31 - 1)
        )
        self.classifier_.fit(X[used], y[used])
        self.n_iter_ = self.classifier_.n_iter_
        held = real[held_rows]
        scores = np.sort(self.score_samples(X[held][suspect[held]]))
        flagged = round(self.false_positive_rate * len(held))
        self.offset_ = float(scores[flagged]) if flagged < len(scores) else 0.0
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Higher is more like a real answer pattern: minus the probability of "careless"."""
        check_is_fitted(self, "classifier_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        result: np.ndarray = -self.classifier_.predict_proba(X)[:, 1]
        return result
