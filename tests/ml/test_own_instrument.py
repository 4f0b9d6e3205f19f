"""A clinic's own instrument, calibrated on its own data: a 7-point questionnaire with
reverse-keyed items, answers generated from known parameters, and `quizapp items calibrate`
and `quizapp model train` recovering them (norms) and learning from them (models).

Nothing here assumes 1..5 answers: an opposite item is keyed ``min + max - x`` = ``8 - x``;
keying it as ``6 - x`` would move each scale mean by 0.75 and fail the first test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from quizapp.cli import cli
from quizapp.ml.compiled import load_compiled
from quizapp.ml.predict import model_outputs
from quizapp.scoring.engine import score
from quizapp.scoring.instrument import Instrument, load_instrument

from ..scoring.conftest import to_toml

LABELS_7 = ["Disagree strongly", "Disagree", "Disagree a little", "Neither",
            "Agree a little", "Agree", "Agree strongly"]  # fmt: skip
ITEMS = [(f"a{i}", "anxiety", i in (2, 5, 7)) for i in range(1, 9)] + [
    (f"v{i}", "avoidance", i in (1, 4, 6)) for i in range(1, 9)
]
# The generating model, for keyed answers: x = mean + loading * trait + noise, rounded and
# clipped to 1..7; an opposite item's raw answer is 8 - x. Traits correlate .3.
MEANS = {"anxiety": 4.3, "avoidance": 3.2}
OFFSETS = np.linspace(-0.4, 0.4, 8)
LOADING, NOISE, CORRELATION = 1.1, 0.9, 0.3


def instrument_document() -> dict[str, Any]:
    return {
        "schema_version": 1, "id": "clinic7", "version": "1.0.0",
        "title": "A clinic's licensed 7-point instrument", "language": "en",
        "norms": "norms/clinic7.json",
        "licence": {"name": "Licensed to the clinic", "holder": "its publisher",
                    "permissions": ["use", "licensed-site-only"]},
        "response_scale": {"min": 1, "max": 7, "labels": LABELS_7},
        "scales": {"anxiety": {"label": "Anxiety", "min_answered": 6},
                   "avoidance": {"label": "Avoidance", "min_answered": 6}},
        "themes": {"worry": "Worry", "distance": "Distance"},
        "items": [{"id": i, "scale": s, "reverse": r, "text": f"Licensed statement {i}",
                   "themes": ["worry" if s == "anxiety" else "distance"]}
                  for i, s, r in ITEMS],
    }  # fmt: skip


def generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` people's raw answers (item order) and keyed answers, from the known model."""
    rng = np.random.default_rng(seed)
    traits = rng.multivariate_normal([0, 0], [[1, CORRELATION], [CORRELATION, 1]], size=n)
    keyed = np.empty((n, len(ITEMS)))
    for j, (_item, scale, _reverse) in enumerate(ITEMS):
        trait = traits[:, 0 if scale == "anxiety" else 1]
        latent = MEANS[scale] + OFFSETS[j % 8] + LOADING * trait + rng.normal(0, NOISE, n)
        keyed[:, j] = np.clip(np.rint(latent), 1, 7)
    reverse = np.array([r for _i, _s, r in ITEMS])
    return np.where(reverse, 8 - keyed, keyed), keyed


def population_figures() -> dict[str, dict[str, float]]:
    """What the generating model implies, from 400,000 people (worked out here, not by the
    project's code): each scale's mean, SD and Cronbach's alpha of the keyed answers."""
    _raw, keyed = generate(400_000, seed=1)
    figures = {}
    for scale, block in (("anxiety", keyed[:, :8]), ("avoidance", keyed[:, 8:])):
        means = block.mean(axis=1)
        k = block.shape[1]
        alpha = k / (k - 1) * (1 - block.var(axis=0, ddof=1).sum() / block.sum(1).var(ddof=1))
        figures[scale] = {"mean": float(means.mean()), "sd": float(means.std(ddof=1)),
                          "alpha": float(alpha), "median": float(np.median(means))}  # fmt: skip
    return figures


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clinic")
    path = folder / "clinic7.toml"
    path.write_text(to_toml(instrument_document()), encoding="utf-8")
    raw, _keyed = generate(6000, seed=2026)
    raw[5, 3] = np.nan  # one person skipped a statement: left out of norms and training
    data = folder / "answers.csv"
    with data.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["client", *(i for i, _s, _r in ITEMS)])
        for n, row in enumerate(raw):
            writer.writerow([f"c{n}", *("" if v != v else int(v) for v in row)])
    return {"folder": folder, "instrument": path, "data": data}


def test_norms_of_a_7_point_instrument_recover_the_generating_figures(
    clinic: dict[str, Path],
) -> None:
    result = CliRunner().invoke(cli, ["items", "calibrate", "--instrument",
                                      str(clinic["instrument"]), "--data", str(clinic["data"]),
                                      "--ignore", "client"])  # fmt: skip
    assert result.exit_code == 0, result.output
    norms = json.loads((clinic["folder"] / "norms" / "clinic7.json").read_text())
    assert norms["n"] == 5999 and "own data" in norms["source"]
    truth = population_figures()
    for scale, known in truth.items():
        got = norms["scales"][scale]
        assert got["mean"] == pytest.approx(known["mean"], abs=0.03), scale
        assert got["sd"] == pytest.approx(known["sd"], abs=0.03), scale
        assert got["reliability"] == pytest.approx(known["alpha"], abs=0.015), scale
        assert abs(got["cutoff"] - known["median"]) <= 0.125, scale  # means move in 1/8s
        scores = [s for s, _p in got["percentiles"]]
        assert scores == sorted(scores) and scores[0] >= 1 and scores[-1] <= 7
    # the instrument now scores with its norms: a 7 on an opposite item keys as 1
    instrument = load_instrument(clinic["instrument"])
    answers = {i: (1 if r else 7) for i, _s, r in ITEMS}
    report = score(instrument, answers)
    assert report.scales["anxiety"].score == 7.0 and report.scales["anxiety"].percentile
    assert report.scales["anxiety"].percentile > 99


def test_models_of_a_7_point_instrument_learn_its_answers(clinic: dict[str, Path]) -> None:
    out = clinic["folder"] / "models"
    result = CliRunner().invoke(cli, ["model", "train", "--instrument", str(clinic["instrument"]),
                                      "--data", str(clinic["data"]), "--ignore", "client",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "clinic7: trained on 4799 rows" in result.output
    card = json.loads((out / "clinic7.card.json").read_text())
    assert "own data" in card["training_data"]["source"]
    instrument: Instrument = load_instrument(clinic["instrument"])
    compiled = load_compiled(out, instrument)
    assert compiled is not None and not compiled.has_shortform
    fresh, _keyed = generate(3000, seed=77)  # people the models never saw
    rng = np.random.default_rng(78)
    uniform = rng.integers(1, 8, size=(3000, len(ITEMS))).astype(float)
    real_flagged = compiled.random_pattern(fresh).mean()
    assert 0.01 <= real_flagged <= 0.08, "tuned to flag about 4% of real patterns"
    assert compiled.random_pattern(uniform).mean() >= 0.9, "random 1..7 answers stand out"
    # standardised deviations from the expected answers: about 0 on average, SD about 1
    deviations = []
    for row in fresh[:400]:
        answers = {i: int(v) for (i, _s, _r), v in zip(ITEMS, row, strict=True)}
        outputs = model_outputs(compiled, instrument, answers, score(instrument, answers))
        assert outputs.deviations is not None and outputs.random_pattern is not None
        deviations += list(outputs.deviations.values())
    assert abs(float(np.mean(deviations))) < 0.05
    assert 0.85 < float(np.std(deviations)) < 1.15


def test_own_data_needs_the_data_and_the_two_scales(clinic: dict[str, Path]) -> None:
    runner = CliRunner()
    for command in (["items", "calibrate"], ["model", "train"]):
        result = runner.invoke(cli, [*command, "--instrument", str(clinic["instrument"])])
        assert result.exit_code == 2 and "--instrument needs --data" in result.output
    bad = clinic["folder"] / "bad.csv"
    bad.write_text("a1,a2\n9,1\n")
    result = runner.invoke(cli, ["items", "calibrate", "--instrument",
                                 str(clinic["instrument"]), "--data", str(bad)])  # fmt: skip
    assert result.exit_code == 1 and "line 2" in result.output and "Traceback" not in result.output
