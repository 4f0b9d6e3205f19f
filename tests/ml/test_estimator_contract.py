"""scikit-learn's own estimator checks on every estimator of the interpretation layer."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from quizapp.ml.estimators import ExpectedAnswers, RandomResponderDetector, ShortFormRegressor


@parametrize_with_checks(
    [ShortFormRegressor(), ExpectedAnswers(), RandomResponderDetector(max_iter=20)]
)
def test_sklearn_compatible_estimator(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)
