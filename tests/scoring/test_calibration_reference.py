"""The shipped figures reproduce from the ECR calibration data.

- `quizapp score` with items/reference/ecr.toml reproduces the reference figures of
  ../shared/data/ecr/README.md on the rows that answer all 36 items;
- items/norms/*.json are what `derive_norms` makes of the same data;
- `quizapp items shortform` prints the quick-form figures that items/README.md quotes.

The data are read from QUIZAPP_CALIBRATION_CSV, else ../shared/data/ecr/calibration.csv next
to the repository. Missing data is a failure, not a skip: these tests are the evidence that
the shipped norms come from the data they say they come from.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from quizapp.cli import cli
from quizapp.scoring.calibration import EcrData, derive_norms, read_ecr
from quizapp.scoring.instrument import load_instrument

from ..conftest import calibration_missing, calibration_path
from .conftest import ITEMS

ECR_KEY = ITEMS / "reference" / "ecr.toml"
QUESTIONS = [f"Q{i}" for i in range(1, 37)]

# ../shared/data/ecr/README.md, "Reference figures of calibration.csv"
N_COMPLETE = 37286
REFERENCE = {
    "anxiety": {
        "mean": "3.096",
        "sd": "0.801",
        "alpha": ".915",
        "percentiles": ["2.056", "2.556", "3.111", "3.667", "4.111"],
    },
    "avoidance": {
        "mean": "2.563",
        "sd": "0.840",
        "alpha": ".938",
        "percentiles": ["1.500", "1.944", "2.444", "3.167", "3.722"],
    },
}
CORRELATION = "-0.052"
SAME_ANSWER_ROWS = 104


def _calibration_path() -> Path:
    return calibration_path()


def _not_found(path: Path) -> str:
    return calibration_missing(path, "norms")


def test_calibration_data_is_present() -> None:
    path = _calibration_path()
    assert path.is_file(), _not_found(path)


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
def complete_csv(calibration_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rows that answer all 36 items (no 0), every column kept (age, gender, country)."""
    path = tmp_path_factory.mktemp("ecr") / "complete.csv"
    with calibration_csv.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        questions = [header.index(q) for q in QUESTIONS]
        rows = [row for row in reader if all(row[i] != "0" for i in questions)]
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def scored(complete_csv: Path) -> tuple[list[list[str]], dict[str, list[str]]]:
    """`quizapp score --summary` on the complete rows: (stdout rows, summary by statistic)."""
    args = ["score", "--instrument", str(ECR_KEY), str(complete_csv), "--summary"]
    args += ["--ignore", "age", "--ignore", "gender", "--ignore", "country", "--missing", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    summary = list(csv.reader(io.StringIO(result.stderr)))
    assert summary[0] == ["statistic", "anxiety", "avoidance"]
    return rows, {row[0]: row[1:] for row in summary[1:]}


def _three(value: str | float) -> str:
    return f"{float(value):.3f}"


def test_the_data_is_the_one_described(ecr: EcrData) -> None:
    assert ecr.answers.shape == (41170, 36)
    complete = ecr.complete
    assert complete.shape[0] == N_COMPLETE
    # The README's "104 rows give the same answer to all 36 items" counts the raw file,
    # where 48 of them are rows with no answer at all (36 zeros); 56 are complete rows.
    raw = np.nan_to_num(ecr.answers, nan=0.0)
    assert int((raw.min(axis=1) == raw.max(axis=1)).sum()) == SAME_ANSWER_ROWS
    assert int(np.isnan(ecr.answers).all(axis=1).sum()) == 48
    assert int((complete.min(axis=1) == complete.max(axis=1)).sum()) == 56


def test_score_output_reproduces_the_reference_figures(
    scored: tuple[list[list[str]], dict[str, list[str]]],
) -> None:
    rows, _ = scored
    assert rows[0] == ["row", "anxiety", "avoidance", "anxiety_answered", "avoidance_answered"]
    assert len(rows) - 1 == N_COMPLETE
    table = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert (table[:, 2:] == 18).all()  # every scale score uses all 18 items
    for column, scale in ((0, "anxiety"), (1, "avoidance")):
        scores = table[:, column]
        assert ((scores >= 1) & (scores <= 5)).all()
        assert _three(scores.mean()) == REFERENCE[scale]["mean"]
        assert _three(scores.std(ddof=1)) == REFERENCE[scale]["sd"]
        percentiles = np.percentile(scores, [10, 25, 50, 75, 90])
        assert [_three(p) for p in percentiles] == REFERENCE[scale]["percentiles"]
    assert _three(np.corrcoef(table[:, 0], table[:, 1])[0, 1]) == CORRELATION


def test_summary_reproduces_the_reference_figures(
    scored: tuple[list[list[str]], dict[str, list[str]]],
) -> None:
    _, summary = scored
    assert summary["n"] == [str(N_COMPLETE), str(N_COMPLETE)]
    for column, scale in enumerate(("anxiety", "avoidance")):
        reference = REFERENCE[scale]
        assert _three(summary["mean"][column]) == reference["mean"]
        assert _three(summary["sd"][column]) == reference["sd"]
        assert _three(summary["alpha"][column]).lstrip("0") == reference["alpha"]
        got = [_three(summary[f"p{p}"][column]) for p in (10, 25, 50, 75, 90)]
        assert got == reference["percentiles"]


@pytest.mark.parametrize("name", ["quick", "full"])
def test_shipped_norms_are_derived_from_the_data(ecr: EcrData, name: str) -> None:
    instrument = load_instrument(ITEMS / f"{name}.toml")
    shipped = json.loads((ITEMS / "norms" / f"{name}.json").read_text(encoding="utf-8"))
    derived = derive_norms(instrument, ecr, shipped["source"])
    assert derived["instrument"] == shipped["instrument"] == name
    assert derived["instrument_version"] == shipped["instrument_version"] == instrument.version
    assert derived["n"] == shipped["n"]
    assert set(derived["scales"]) == set(shipped["scales"]) == {"anxiety", "avoidance"}
    for scale, figures in shipped["scales"].items():
        mine = derived["scales"][scale]
        for key in ("mean", "sd", "reliability", "cutoff"):
            assert_allclose(mine[key], figures[key], rtol=0, atol=1e-6, err_msg=f"{scale} {key}")
        assert mine["cutoff_rule"] == figures["cutoff_rule"]
        ours, theirs = np.array(mine["percentiles"]), np.array(figures["percentiles"])
        assert ours.shape == theirs.shape, scale
        assert_allclose(ours[:, 0], theirs[:, 0], rtol=0, atol=1e-6, err_msg=f"{scale} scores")
        assert_allclose(ours[:, 1], theirs[:, 1], rtol=0, atol=1e-6, err_msg=f"{scale} pct")


def test_full_form_norms_agree_with_the_ecr_reference(ecr: EcrData) -> None:
    """The full form restates every ECR item, so its norms are the README's figures."""
    shipped = json.loads((ITEMS / "norms" / "full.json").read_text(encoding="utf-8"))
    assert shipped["n"] == N_COMPLETE
    for scale, reference in REFERENCE.items():
        figures = shipped["scales"][scale]
        assert _three(figures["mean"]) == reference["mean"]
        assert _three(figures["sd"]) == reference["sd"]
        assert _three(figures["reliability"]).lstrip("0") == reference["alpha"]
        assert _three(figures["cutoff"]) == reference["percentiles"][2]  # the median


def _sources(items: list[dict[str, Any]]) -> tuple[list[tuple[str, int]], Counter[str]]:
    """What a set of items measures: (scale, ECR source item) of each, and how many items of
    each scale are reverse-keyed."""
    return (sorted((i["scale"], i["source"]["item"]) for i in items),
            Counter(i["scale"] for i in items if i["reverse"]))  # fmt: skip


def test_shortform_prints_the_quick_form_figures(calibration_csv: Path) -> None:
    result = CliRunner(env={"QUIZAPP_ITEMS_DIR": str(ITEMS)}).invoke(
        cli, ["items", "shortform", "--data", str(calibration_csv)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 6, lines
    assert lines[0].startswith("anxiety: r = 0.949 with the 18-item scale; chosen ")
    assert lines[1].startswith("avoidance: r = 0.963 with the 18-item scale; chosen ")
    assert lines[2:5] == [
        f"quick form on {N_COMPLETE} complete rows:",
        "  anxiety: alpha 0.788, r with the full 18-item scale 0.949",
        "  avoidance: alpha 0.850, r with the full 18-item scale 0.963",
    ]
    assert lines[5].startswith("  quadrant agreement with the full ECR: 83.2% (Cohen's kappa ")

    # The items chosen are the ones items/quick.toml restates.
    candidates = {}
    for name in ("full.toml", "reference/shortform-pool.toml"):
        with (ITEMS / name).open("rb") as handle:
            candidates.update({i["id"]: i for i in tomllib.load(handle)["items"]})
    chosen = [
        candidates[item_id.removesuffix("(R)")]
        for line in lines[:2]
        for item_id in line.split("chosen ")[1].split(", ")
    ]
    with (ITEMS / "quick.toml").open("rb") as handle:
        quick = tomllib.load(handle)["items"]
    # An item and its opposite-worded twin carry the same keyed data, so the selection cannot
    # tell them apart: the same source items, with as many reverse-keyed ones per scale.
    assert _sources(chosen) == _sources(quick)
