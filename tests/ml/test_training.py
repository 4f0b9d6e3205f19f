"""Training, evaluating, saving and loading the scikit-learn layer on the ECR calibration data.

The data are read once per module from QUIZAPP_CALIBRATION_CSV, else
../shared/data/ecr/calibration.csv next to the repository. Missing data is a failure, not a
skip: these tests are the evidence that the shipped models meet their targets and come from
the data their cards name.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_limits

from quizapp.cli import cli
from quizapp.interpret.loading import Interpreter, load_interpreter
from quizapp.ml.compiled import load_compiled
from quizapp.ml.evaluation import TARGETS, evaluate, verdicts
from quizapp.ml.training import (
    SPLIT_SEED,
    Features,
    LoadedModels,
    Split,
    features,
    fit_bundle,
    load_bundle,
    save_bundle,
    split_rows,
)
from quizapp.scoring.calibration import EcrData, read_ecr
from quizapp.scoring.instrument import Instrument, load_bank, load_instrument

from ..conftest import calibration_missing, calibration_path

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
N_COMPLETE = 37286  # rows answering all 36 items (../shared/data/ecr/README.md)
N_TEST = 7457  # round(0.2 * 37286)

# The fast fit: fewer rows and boosting iterations than `model train` (29829 rows, 200).
# With the first 12000 rows the full form's false positive rate on real rows is 0.053: the
# detector's 4% threshold, set on a held-out fifth of only 2400 rows, lands at 4.4% on the
# test rows, and the rule cautions add 0.9%. 20000 rows (0.044) leave some margin.
N_FAST = 20000
FAST_MAX_ITER = 60


def _calibration_path() -> Path:
    return calibration_path()


def _not_found(path: Path) -> str:
    return calibration_missing(path, "model")


def test_calibration_data_is_present() -> None:
    path = _calibration_path()
    assert path.is_file(), _not_found(path)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Run OpenMP and BLAS on one thread: the same results, without the stalls.

    On a small shared machine the gradient-boosting fits sometimes stall for 10-40 s in
    OpenMP's thread pool; with one thread they take about a second, with equal predictions.
    """
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def calibration_csv() -> Path:
    path = _calibration_path()
    if not path.is_file():
        pytest.fail(_not_found(path), pytrace=False)
    return path


@pytest.fixture(scope="module")
def ecr(calibration_csv: Path) -> EcrData:
    return read_ecr(calibration_csv)


@pytest.fixture(scope="module")
def split(ecr: EcrData) -> Split:
    return split_rows(ecr)


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(REPO / "items")


@pytest.fixture(scope="module")
def reference() -> Instrument:
    return load_instrument(REPO / "items" / "reference" / "ecr.toml")


@pytest.fixture(scope="module")
def interpreter(bank: dict[str, Instrument]) -> Interpreter:
    return load_interpreter(REPO / "content", REPO / "rules" / "interpretation.toml", bank)


@pytest.fixture(scope="module")
def test_features(
    bank: dict[str, Instrument], reference: Instrument, split: Split
) -> dict[str, Features]:
    return {name: features(bank[name], reference, split.test) for name in ("quick", "full")}


# --- the split ---------------------------------------------------------------------------------


def _sorted_rows(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort(rows.T[::-1])]


def test_split_rows_is_deterministic_and_disjoint(ecr: EcrData, split: Split) -> None:
    again = split_rows(ecr)
    assert np.array_equal(split.train, again.train)
    assert np.array_equal(split.test, again.test)
    assert (len(split.train), len(split.test)) == (N_COMPLETE - N_TEST, N_TEST)
    # together the two parts are the complete rows, each exactly once
    assert_allclose(
        _sorted_rows(np.vstack([split.train, split.test])), _sorted_rows(ecr.complete), rtol=0
    )
    assert not np.isnan(split.train).any() and not np.isnan(split.test).any()
    # shuffled, not the last fifth of the file
    assert not np.array_equal(split.test, ecr.complete[-N_TEST:])
    assert SPLIT_SEED == 20_261_124


def test_split_fraction(ecr: EcrData) -> None:
    half = split_rows(ecr, test_fraction=0.5)
    assert (len(half.train), len(half.test)) == (N_COMPLETE // 2, N_COMPLETE // 2)
    # the same seeded order: the 20% test part is the tail of the same permutation
    assert np.array_equal(half.test[-N_TEST:], split_rows(ecr).test)


# --- a fast fit meets the targets on the held-out rows ------------------------------------------


@pytest.fixture(scope="module")
def fast(
    bank: dict[str, Instrument],
    reference: Instrument,
    split: Split,
    interpreter: Interpreter,
    test_features: dict[str, Features],
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """{instrument: (bundle, metrics)} for a fit on the first N_FAST training rows."""
    result = {}
    for name in ("quick", "full"):
        bundle = fit_bundle(bank[name], reference, split.train[:N_FAST], max_iter=FAST_MAX_ITER)
        metrics = evaluate(bank[name], bank["full"], bundle, test_features[name], interpreter.rules)
        result[name] = (bundle, metrics)
    return result


def test_the_targets_are_the_documented_ones() -> None:
    assert TARGETS == {
        "r2_min": 0.90,
        "coverage_range": (0.88, 0.92),
        "random_recall_min": 0.95,
        "false_positive_max": 0.05,
    }


def test_fast_fit_bundles(fast: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    assert set(fast["quick"][0]) == {"expected", "detector", "shortform"}
    assert set(fast["full"][0]) == {"expected", "detector"}  # the full form needs no estimate
    for bundle, metrics in fast.values():
        assert bundle["detector"].n_iter_ <= FAST_MAX_ITER
        assert metrics["n_test"] == N_TEST


@pytest.mark.parametrize("dimension", ["anxiety", "avoidance"])
def test_quick_short_form_estimates(
    fast: dict[str, tuple[dict[str, Any], dict[str, Any]]], dimension: str
) -> None:
    metrics = fast["quick"][1]
    assert metrics[f"r2_{dimension}"] >= 0.90
    assert 0.88 <= metrics[f"coverage_{dimension}"] <= 0.92
    assert verdicts(metrics)[f"r2_{dimension} >= 0.9"] is True
    assert verdicts(metrics)[f"coverage_{dimension} in [0.88, 0.92]"] is True
    # the estimated full scores place people in the full form's quadrant more often than
    # the quick form's own scores do
    assert metrics["pattern_agreement_estimated_full"] > metrics["pattern_agreement_quick_scores"]


def test_full_form_random_responder_detector(
    fast: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    metrics = fast["full"][1]
    assert metrics["recall_uniform"] >= 0.95
    assert metrics["false_positive_rate_real"] <= 0.05
    assert metrics["recall_same_answer"] == 1.0
    assert all(verdicts(metrics).values()), verdicts(metrics)


def test_quick_form_random_responder_detector(
    fast: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    # 12 items do not carry enough information to tell uniform random answers from real ones
    # 95% of the time at a 5% false positive rate (the shipped model reaches 0.75, see the
    # closing note); the quick form is held to 0.70, the full form to the 0.95 target.
    metrics = fast["quick"][1]
    assert metrics["recall_uniform"] >= 0.70
    assert metrics["false_positive_rate_real"] <= 0.05
    assert metrics["recall_same_answer"] == 1.0
    assert verdicts(metrics)["recall_uniform >= 0.95"] is False


def test_save_and_load_round_trip(
    tmp_path: Path,
    bank: dict[str, Instrument],
    fast: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    test_features: dict[str, Features],
) -> None:
    quick = bank["quick"]
    bundle, metrics = fast["quick"]
    card_path = save_bundle(
        bundle, quick, tmp_path, data_sha256="ab" * 32, n_train=N_FAST, metrics=metrics
    )
    assert card_path == tmp_path / "quick.card.json"
    loaded = load_bundle(tmp_path, quick)
    assert loaded is not None
    sklearn = loaded.card["libraries"]["scikit-learn"]
    assert loaded.version == f"quick-1.0.0-r3-sk{sklearn}-ababababab"
    assert loaded.card["metrics"] == metrics
    assert loaded.card["training_data"]["n_train"] == N_FAST
    rows = test_features["quick"]
    assert_allclose(
        loaded.estimators["detector"].decision_function(rows.raw[:200]),
        bundle["detector"].decision_function(rows.raw[:200]),
        rtol=1e-12,
    )


# --- `quizapp model train` reproduces the shipped artifacts -----------------------------------


def _predictions(loaded: LoadedModels, rows: Features) -> dict[str, np.ndarray]:
    est = loaded.estimators
    found = {
        "expected": est["expected"].predict(rows.levels),
        "detector": est["detector"].decision_function(rows.raw),
    }
    if "shortform" in est:
        low, high = est["shortform"].predict_interval(rows.keyed)
        found |= {"shortform": est["shortform"].predict(rows.keyed), "low": low, "high": high}
    return found


def test_model_train_reproduces_the_shipped_artifacts(
    tmp_path: Path,
    calibration_csv: Path,
    bank: dict[str, Instrument],
    test_features: dict[str, Features],
) -> None:
    out = tmp_path / "models"
    result = CliRunner().invoke(
        cli, ["model", "train", "--data", str(calibration_csv), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("full", "quick"):
        assert f"{name}: trained on {N_COMPLETE - N_TEST} rows -> {out / name}.card.json" in (
            result.output
        )
        shipped, trained = load_bundle(MODELS, bank[name]), load_bundle(out, bank[name])
        assert shipped is not None and trained is not None
        assert trained.version == shipped.version
        for key in ("instrument", "estimators", "training_data", "intended_use", "limits"):
            assert trained.card[key] == shipped.card[key], key
        assert trained.card["metrics"].keys() == shipped.card["metrics"].keys()
        for metric, value in shipped.card["metrics"].items():
            assert_allclose(trained.card["metrics"][metric], value, rtol=1e-9, err_msg=metric)
        every = test_features[name]
        rows = Features(every.raw[:300], every.keyed[:300], every.levels[:300], every.full[:300])
        mine, theirs = _predictions(trained, rows), _predictions(shipped, rows)
        assert mine.keys() == theirs.keys()
        for key, values in theirs.items():
            assert_allclose(mine[key], values, rtol=1e-9, err_msg=f"{name} {key}")
        compiled = load_compiled(out, bank[name])  # the arrays the service evaluates
        assert compiled is not None and compiled.version == trained.version
        detector = trained.estimators["detector"]
        assert_allclose(compiled.random_score(rows.raw), detector.score_samples(rows.raw),
                        atol=1e-12)  # fmt: skip


def test_model_train_without_data_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    result = CliRunner().invoke(
        cli, ["model", "train", "--data", str(missing), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    assert f"calibration data not found at {missing}" in result.output
    assert not (tmp_path / "out").exists()


# --- load_bundle refuses what it should not load -----------------------------------------------


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(MODELS, folder)
    return folder


@pytest.mark.parametrize("name", ["quick", "full"])
def test_load_bundle_refuses_an_artifact_that_does_not_match_its_card(
    models_copy: Path, bank: dict[str, Instrument], name: str
) -> None:
    assert load_bundle(models_copy, bank[name]) is not None
    artifact = models_copy / f"{name}.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{name}.skops does not match its model card's SHA-256"):
        load_bundle(models_copy, bank[name])


def test_load_bundle_ignores_a_card_of_another_instrument_version(
    models_copy: Path, bank: dict[str, Instrument]
) -> None:
    card_path = models_copy / "quick.card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["instrument"]["version"] = "0.9.0"
    card_path.write_text(json.dumps(card), encoding="utf-8")
    assert load_bundle(models_copy, bank["quick"]) is None
    assert load_bundle(models_copy, bank["full"]) is not None


def test_load_bundle_without_a_card(tmp_path: Path, bank: dict[str, Instrument]) -> None:
    assert load_bundle(tmp_path, bank["quick"]) is None


# --- `quizapp model evaluate` ------------------------------------------------------------------


def test_model_evaluate_prints_the_metrics_and_the_targets(calibration_csv: Path) -> None:
    runner = CliRunner(env={"QUIZAPP_CALIBRATION_CSV": str(calibration_csv)})
    result = runner.invoke(cli, ["model", "evaluate"])
    assert result.exit_code == 1, "the quick visitor flow misses targets of issue 15"
    lines = result.output.splitlines()
    assert lines[0] == f"evaluating on the {N_TEST} held-out calibration rows"
    sections: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line.startswith("  "):
            sections[line.split(" ")[0]] = []
        else:
            sections[list(sections)[-1]].append(line.strip())
    flow = sections.pop("visitor")
    assert set(sections) == {"quick", "full"}
    shown_flow = dict(line.split(maxsplit=1) for line in flow if not line.startswith("target"))
    assert set(shown_flow) >= {"pattern_agreement", "careless_recall.uniform", "n"}
    assert any(line.startswith("target NOT MET: careless_recall.uniform") for line in flow)
    assert not any(line.startswith("target NOT MET: pattern_agreement") for line in flow)
    for name, body in sections.items():
        card = json.loads((MODELS / f"{name}.card.json").read_text(encoding="utf-8"))
        assert f"{name} ({card['model_version']}):" in lines
        printed = dict(line.split(maxsplit=1) for line in body if not line.startswith("target"))
        # the shipped cards' metrics are what evaluation of the shipped models gives
        assert printed.keys() == card["metrics"].keys()
        for key, value in card["metrics"].items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            assert printed[key] == shown, (name, key)
        targets = {}
        for line in body:
            if line.startswith("target "):
                status = "NOT MET" if line.endswith("NOT MET") else "met"
                assert line.endswith(status), line
                targets[line.removeprefix("target ").removesuffix(status).strip()] = status
        assert len(targets) == len(verdicts(card["metrics"]))
        if name == "quick":
            assert targets["r2_anxiety >= 0.9"] == "met"
            assert targets["r2_avoidance >= 0.9"] == "met"
            assert targets["coverage_anxiety in [0.88, 0.92]"] == "met"
            assert targets["coverage_avoidance in [0.88, 0.92]"] == "met"
            assert targets["false_positive_rate_real <= 0.05"] == "met"
            assert targets["recall_uniform >= 0.95"] == "NOT MET"  # 12 items: see above
        else:
            assert targets == {
                "recall_uniform >= 0.95": "met",
                "false_positive_rate_real <= 0.05": "met",
            }
