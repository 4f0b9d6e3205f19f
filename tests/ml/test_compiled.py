"""The models as arrays (what the service evaluates) give what scikit-learn gives.

On every held-out calibration row and on random answer patterns, for both instruments: the
same deviations, the same full-scale estimates and intervals, the same random-answer scores
and flags (to 1e-12). The array file is reproducible, checked against its model card, and
loads no pickles.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from quizapp.ml.compiled import CompiledModels, load_compiled
from quizapp.ml.training import Features, LoadedModels, features, load_bundle, recompile, split_rows
from quizapp.scoring.calibration import read_ecr
from quizapp.scoring.instrument import Instrument, load_bank, load_instrument

from ..conftest import calibration_path

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(REPO / "items")


@pytest.fixture(scope="module")
def held_out(bank: dict[str, Instrument]) -> dict[str, Features]:
    reference = load_instrument(REPO / "items" / "reference" / "ecr.toml")
    rows = split_rows(read_ecr(calibration_path())).test
    return {name: features(bank[name], reference, rows) for name in ("quick", "full")}


def both(bank: dict[str, Instrument], name: str) -> tuple[LoadedModels, CompiledModels]:
    fitted, compiled = load_bundle(MODELS, bank[name]), load_compiled(MODELS, bank[name])
    assert fitted is not None and compiled is not None
    assert compiled.version == fitted.version
    return fitted, compiled


@pytest.mark.parametrize("name", ["quick", "full"])
def test_the_arrays_give_what_scikit_learn_gives_on_held_out_rows(
    bank: dict[str, Instrument], held_out: dict[str, Features], name: str
) -> None:
    fitted, compiled = both(bank, name)
    est, rows = fitted.estimators, held_out[name]
    assert_allclose(compiled.deviations(rows.levels, rows.keyed),
                    est["expected"].standardised_deviations(rows.levels, rows.keyed),
                    rtol=0, atol=1e-12)  # fmt: skip
    assert_allclose(compiled.random_score(rows.raw), est["detector"].score_samples(rows.raw),
                    rtol=0, atol=1e-12)  # fmt: skip
    flags = compiled.random_pattern(rows.raw)
    assert np.array_equal(flags, est["detector"].predict(rows.raw) == -1)
    assert 0.01 < flags.mean() < 0.06, "about the 4% of real rows the detector is tuned to"
    assert compiled.has_shortform == ("shortform" in est)
    if compiled.has_shortform:
        point, low, high = compiled.full_estimates(rows.keyed)
        fitted_low, fitted_high = est["shortform"].predict_interval(rows.keyed)
        assert_allclose(point, est["shortform"].predict(rows.keyed), rtol=0, atol=1e-12)
        assert_allclose(low, fitted_low, rtol=0, atol=1e-12)
        assert_allclose(high, fitted_high, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["quick", "full"])
def test_one_person_in_plain_python_gets_what_the_arrays_give(
    bank: dict[str, Instrument], held_out: dict[str, Features], name: str
) -> None:
    """The path a submission takes (one person, plain Python) against the batch path, on
    held-out rows: deviations and full-scale estimates alike to rounding."""
    _fitted, compiled = both(bank, name)
    rows = held_out[name]
    deviations = compiled.deviations(rows.levels, rows.keyed)
    point, low, high = (compiled.full_estimates(rows.keyed) if compiled.has_shortform
                        else (None, None, None))  # fmt: skip
    for r in range(0, len(rows.keyed), 7):
        levels = (float(rows.levels[r][0]), float(rows.levels[r][1]))
        one, full = compiled.one_person(levels, rows.keyed[r].tolist())
        assert_allclose(one, deviations[r], rtol=0, atol=1e-12)
        if point is None:
            assert full == {}
            continue
        assert low is not None and high is not None
        for j, dimension in enumerate(("anxiety", "avoidance")):
            assert_allclose(full[dimension], (point[r][j], low[r][j], high[r][j]), rtol=0,
                            atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("name", ["quick", "full"])
def test_random_answers_are_flagged_alike(bank: dict[str, Instrument], name: str) -> None:
    fitted, compiled = both(bank, name)
    rng = np.random.default_rng(2026)
    n_items = len(bank[name].items)
    uniform = rng.integers(1, 6, size=(3000, n_items)).astype(float)
    extremes = rng.choice([1.0, 5.0], size=(500, n_items))
    detector = fitted.estimators["detector"]
    for rows in (uniform, extremes):
        assert_allclose(compiled.random_score(rows), detector.score_samples(rows), rtol=0,
                        atol=1e-12)  # fmt: skip
        assert np.array_equal(compiled.random_pattern(rows), detector.predict(rows) == -1)
        one_at_a_time = [compiled.random_score(row[None, :])[0] for row in rows[:200]]
        assert_allclose(one_at_a_time, detector.score_samples(rows[:200]), rtol=0, atol=1e-12)
    assert compiled.random_pattern(uniform).mean() > 0.6


def copy_models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(MODELS, folder)
    return folder


def test_the_array_file_is_reproducible(tmp_path: Path, bank: dict[str, Instrument]) -> None:
    folder = copy_models(tmp_path)
    shipped = json.loads((MODELS / "quick.card.json").read_text())
    (folder / "quick.npz").unlink()
    assert recompile(folder, bank["quick"]) == folder / "quick.card.json"
    again = json.loads((folder / "quick.card.json").read_text())
    assert again == shipped, "the same models give the same bytes and the same card"
    assert (folder / "quick.npz").read_bytes() == (MODELS / "quick.npz").read_bytes()


def test_a_changed_array_file_is_refused(tmp_path: Path, bank: dict[str, Instrument]) -> None:
    folder = copy_models(tmp_path)
    data = bytearray((folder / "quick.npz").read_bytes())
    data[-40] ^= 0xFF
    (folder / "quick.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its model card"):
        load_compiled(folder, bank["quick"])


def test_a_card_without_arrays_says_what_to_run(
    tmp_path: Path, bank: dict[str, Instrument]
) -> None:
    folder = copy_models(tmp_path)
    card = json.loads((folder / "quick.card.json").read_text())
    del card["inference"]
    (folder / "quick.card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="quizapp model compile"):
        load_compiled(folder, bank["quick"])
    assert load_compiled(tmp_path / "nowhere", bank["quick"]) is None


def test_the_array_file_holds_no_pickles() -> None:
    with np.load(MODELS / "quick.npz", allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


def test_the_consistency_check_gives_what_scikit_learn_gives(bank: dict[str, Instrument]) -> None:
    """The quick form's consistency check (issue 15) reads the full bank's statements with
    those not asked missing: the arrays walk them as scikit-learn does."""
    fitted, compiled = both(bank, "quick")
    check = fitted.estimators["consistency"]
    assert compiled.check_columns == tuple(check.items)
    assert compiled.checks(check.follow_up_version) and not compiled.checks("another")
    rng = np.random.default_rng(2027)
    rows = rng.integers(1, 6, size=(600, len(check.items))).astype(float)
    rows[rng.random(rows.shape) < 0.6] = np.nan
    flags = [compiled.careless(row[None, :]) for row in rows]
    assert flags == list(check.predict(rows) == -1)
    assert 0 < sum(flags) < len(flags)
