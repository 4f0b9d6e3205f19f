"""The follow-up model: the full form's scores from any answered statements, and the routes
of statements that settle an uncertain result. The shipped ``models/followup.json`` is what
``quizapp model followup`` makes of the training part of the calibration data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from quizapp.cli import cli
from quizapp.scoring.engine import keyed_answers, score
from quizapp.scoring.followup import FILE, FollowUpModel, load
from quizapp.scoring.instrument import Instrument, load_bank

from ..conftest import calibration_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank() -> dict[str, Instrument]:
    return load_bank(REPO / "items")


@pytest.fixture(scope="module")
def model(bank: dict[str, Instrument]) -> FollowUpModel:
    loaded = load(REPO / "models", bank["quick"], bank["full"])
    assert loaded is not None
    return loaded


def test_every_statement_answered_gives_the_full_form_scores(
    bank: dict[str, Instrument], model: FollowUpModel
) -> None:
    full = bank["full"]
    rng = np.random.default_rng(4)
    for _ in range(50):
        answers = {i: int(v) for i, v in zip(full.item_ids, rng.integers(1, 6, 36), strict=True)}
        estimate = model.estimate(keyed_answers(full, answers))
        exact = score(full, answers)
        for j, dimension in enumerate(("anxiety", "avoidance")):
            assert estimate.point[j] == pytest.approx(exact.scales[dimension].score, abs=1e-9)
            assert estimate.sd[j] < 1e-4


def test_each_route_settles_its_dimension_more_than_any_other_statements(
    bank: dict[str, Instrument], model: FollowUpModel
) -> None:
    quick, full = bank["quick"], bank["full"]
    base = {i: 3.0 for i in quick.item_ids}
    before = model.estimate(base).sd
    rng = np.random.default_rng(9)
    others = [i for i in full.item_ids if i not in model.stand_ins.values()]
    for name, j in (("anxiety", 0), ("avoidance", 1)):
        route = model.routes[name]
        assert len(route) == 4 and not set(route) & set(model.stand_ins.values())
        after = model.estimate(base | {i: 3.0 for i in route}).sd
        assert after[j] < 0.75 * before[j]
        for _ in range(20):  # no random four statements do better
            chosen = rng.choice(others, size=4, replace=False)
            assert model.estimate(base | {str(i): 3.0 for i in chosen}).sd[j] >= after[j] - 1e-12


def test_the_shipped_file_is_what_the_command_makes(
    tmp_path: Path, bank: dict[str, Instrument]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    env = {"QUIZAPP_MODELS_DIR": str(models), "QUIZAPP_CALIBRATION_CSV": str(calibration_path())}
    result = CliRunner(env=env).invoke(cli, ["model", "followup"])
    assert result.exit_code == 0, result.output
    assert "both: ask" in result.output and "check: ask" in result.output
    made = json.loads((models / FILE).read_text())
    shipped = json.loads((REPO / "models" / FILE).read_text())
    assert made == shipped
    # fitted on the training rows only: their keyed means, to the stored precision
    assert made["n"] == 29829


def test_a_file_for_other_versions_is_not_used(tmp_path: Path, bank: dict[str, Instrument]) -> None:
    document = json.loads((REPO / "models" / FILE).read_text())
    document["instrument"]["version"] = "0.9.0"
    (tmp_path / FILE).write_text(json.dumps(document))
    assert load(tmp_path, bank["quick"], bank["full"]) is None
    assert load(tmp_path / "none", bank["quick"], bank["full"]) is None


def test_quick_items_stand_in_for_their_full_form_twins(
    bank: dict[str, Instrument], model: FollowUpModel
) -> None:
    quick, full = bank["quick"], bank["full"]
    assert len(model.stand_ins) == 12
    for quick_id, full_id in model.stand_ins.items():
        assert quick.item(quick_id).source.item == full.item(full_id).source.item  # type: ignore[union-attr]


def test_the_consistency_statements_are_those_the_answers_before_them_predict_best(
    model: FollowUpModel,
) -> None:
    """Issue 15, a consistency statement in the follow-up: four statements of the full bank,
    none a quick statement's twin, each the one the answers before it predict best (the
    share of its variance they explain, from the inverse covariance here)."""
    check = model.routes["check"]
    twins = list(model.stand_ins.values())
    assert len(check) == 4 and not set(check) & set(twins)
    index = {item: k for k, item in enumerate(model.items)}
    chosen = [index[t] for t in twins]

    def explained(j: int) -> float:
        block = [*chosen, j]
        precision = np.linalg.inv(model.cov[np.ix_(block, block)])
        return float(1.0 - 1.0 / (precision[-1, -1] * model.cov[j, j]))

    for statement in check:
        shares = {item: explained(k) for item, k in index.items() if k not in chosen}
        assert max(shares, key=lambda item: shares[item]) == statement
        assert shares[statement] > 0.4, "a careful person's answer is well predicted"
        chosen.append(index[statement])
