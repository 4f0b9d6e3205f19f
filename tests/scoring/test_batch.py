"""Batch scoring of a CSV, through the library and through `quizapp score`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.testing import assert_allclose

from quizapp.cli import cli
from quizapp.scoring.batch import BatchError, read_batch, summary_table, write_scores
from quizapp.scoring.engine import score
from quizapp.scoring.instrument import Instrument, load_instrument

REPO = Path(__file__).resolve().parents[2]

# tiny instrument: anxiety a1 a2(R) a3 a4, avoidance v1 v2(R) v3(R) v4, min_answered 3, 1..5
# p1: anxiety 4, 2->4, 3, 4 = 15/4 = 3.75;          avoidance 2, 5->1, 4->2, 1 = 6/4 = 1.5
# p2: anxiety 4, 2->4, _, 4 = 12/3 = 4 (prorated);  avoidance _, _, 4->2, 1: 2 answered -> none
# p3: anxiety 5, 1->5, 5, 5 = 20/4 = 5;             avoidance 5, 1->5, 5->1, 5 = 16/4 = 4
# Columns are in a different order from the instrument, and v4 comes before v3.
CSV = """pid,a1,a2,a3,a4,v1,v2,v4,v3
p1,4,2,3,4,2,5,1,4
p2,4,2,,4,, ,1,4
p3,5,1,5,5,5,1,5,5
"""

SCORES = """pid,anxiety,avoidance,anxiety_answered,avoidance_answered
p1,3.7500,1.5000,4,4
p2,4.0000,,3,2
p3,5.0000,4.0000,4,4
"""


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["score", *args])


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "answers.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


# --- the library ------------------------------------------------------------------------------


def test_read_batch(tiny: Instrument) -> None:
    batch = read_batch(tiny, io.StringIO(CSV), id_column="pid")
    assert batch.ids == ["p1", "p2", "p3"]
    nan = np.nan
    # instrument order a1 v1 a2 v2 a3 v3 a4 v4; blanks (and blank-with-space) are unanswered
    assert_allclose(
        batch.responses,
        [
            [4, 2, 2, 5, 3, 4, 4, 1],
            [4, nan, 2, nan, nan, 4, 4, 1],
            [5, 5, 1, 1, 5, 5, 5, 5],
        ],
    )


def test_write_scores(tiny: Instrument) -> None:
    out = io.StringIO()
    write_scores(tiny, read_batch(tiny, io.StringIO(CSV), id_column="pid"), out, "pid")
    assert out.getvalue() == SCORES


def test_row_numbers_without_an_id_column_and_missing_codes(tiny: Instrument) -> None:
    text = "a1,a2,a3,a4,v1,v2,v3,v4,note\n4,2,3,4,2,5,4,1,hello\n4,2,-9,4,-9,-9,4,1,\n"
    batch = read_batch(tiny, io.StringIO(text), missing=["-9"], ignore=["note"])
    out = io.StringIO()
    write_scores(tiny, batch, out, "row")
    assert out.getvalue() == (
        "row,anxiety,avoidance,anxiety_answered,avoidance_answered\n"
        "1,3.7500,1.5000,4,4\n"
        "2,4.0000,,3,2\n"
    )


def test_items_without_a_column_count_as_unanswered(tiny: Instrument) -> None:
    batch = read_batch(tiny, io.StringIO("a1,a2,a3\n1,5,1\n"))
    # a2 reversed: 1, 1, 1 over 3 answered items -> 1; avoidance has no answers
    out = io.StringIO()
    write_scores(tiny, batch, out, "row")
    assert out.getvalue().splitlines()[1] == "1,1.0000,,3,0"


def test_header_only_gives_no_rows(tiny: Instrument) -> None:
    batch = read_batch(tiny, io.StringIO("a1,a2\n"))
    assert batch.responses.shape == (0, 8)
    out = io.StringIO()
    write_scores(tiny, batch, out, "row")
    assert out.getvalue() == "row,anxiety,avoidance,anxiety_answered,avoidance_answered\n"


BAD = {
    "out-of-range value": (
        "pid,a1,a2\np1,1,2\np2,3,6\n",
        ["--id-column", "pid"],
        3,
        "a2",
        "'6' is not a whole number from 1 to 5",
    ),
    "zero": ("a1,a2\n1,2\n0,2\n", [], 3, "a1", "'0' is not a whole number from 1 to 5"),
    "non-numeric value": (
        "pid,a1,v3\np1,1,2\np2,3,2\np3,x,2\n",
        ["--id-column", "pid"],
        4,
        "a1",
        "'x' is not a whole number",
    ),
    "decimal value": ("a1,v3\n1,2\n2.5,2\n", [], 3, "a1", "'2.5' is not a whole number"),
    "unknown column": ("a1,zz,a2\n1,2,3\n", [], 1, "zz", "not an item of this instrument"),
    "missing id column": ("a1,a2\n1,2\n", ["--id-column", "pid"], 1, "pid", "no id column"),
    "duplicate column": ("a1,a2,a1\n1,2,3\n", [], 1, None, "a column name appears twice"),
    "too few fields": ("a1,a2,a3\n1,2,3\n1,2\n", [], 3, None, "2 fields where the header has 3"),
    "too many fields": ("a1,a2\n1,2\n1,2\n1,2,3\n", [], 4, None, "3 fields where the header has 2"),
}


@pytest.mark.parametrize("case", BAD, ids=str)
def test_bad_input_names_line_and_column(tiny: Instrument, case: str) -> None:
    text, options, line, column, message = BAD[case]
    id_column = options[1] if options else None
    with pytest.raises(BatchError, match=message) as caught:
        read_batch(tiny, io.StringIO(text), id_column=id_column)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_empty_file(tiny: Instrument) -> None:
    with pytest.raises(BatchError, match="the file is empty"):
        read_batch(tiny, io.StringIO(""))


def test_line_numbers_count_blank_lines(tiny: Instrument) -> None:
    with pytest.raises(BatchError) as caught:
        read_batch(tiny, io.StringIO("a1,a2\n1,2\n\n3,9\n"))
    assert caught.value.line == 4


def test_summary_table(tiny: Instrument) -> None:
    summary = summary_table(tiny, read_batch(tiny, io.StringIO(CSV), id_column="pid"))
    _check_summary(summary)


def _check_summary(summary: str) -> None:
    rows = list(csv.reader(io.StringIO(summary)))
    assert rows[0] == ["statistic", "anxiety", "avoidance"]
    table = {row[0]: [float(v) for v in row[1:]] for row in rows[1:]}
    assert list(table) == ["n", "mean", "sd", "alpha", "p10", "p25", "p50", "p75", "p90"]
    assert table["n"] == [3, 2]
    # anxiety scores 3.75, 4, 5: mean 12.75/3 = 4.25; deviations -.5, -.25, .75:
    #   SS .25 + .0625 + .5625 = .875, SD sqrt(.875/2)
    # avoidance scores 1.5, 4: mean 2.75, SD 2.5 / sqrt(2)
    assert_allclose(table["mean"], [4.25, 2.75], atol=5e-5)
    assert_allclose(table["sd"], [np.sqrt(0.875 / 2), 2.5 / np.sqrt(2)], atol=5e-5)
    # alpha on complete rows only (p1, p3), keyed:
    #   anxiety   [4, 4, 3, 4] and [5, 5, 5, 5]: item variances .5 .5 2 .5 = 3.5;
    #             totals 15, 20: variance 12.5; alpha = 4/3 * (1 - 3.5/12.5) = 0.96
    #   avoidance [2, 1, 2, 1] and [5, 5, 1, 5]: item variances 4.5 8 .5 8 = 21;
    #             totals 6, 16: variance 50; alpha = 4/3 * (1 - 21/50) = 0.77333
    assert_allclose(table["alpha"], [0.96, 4 / 3 * (1 - 21 / 50)], atol=5e-5)
    # linear percentiles of (3.75, 4, 5): position p/100 * 2
    #   p10 -> 3.75 + .2*.25 = 3.8; p25 -> 3.875; p50 -> 4; p75 -> 4.5; p90 -> 4.8
    # of (1.5, 4): 1.5 + p/100 * 2.5 -> 1.75, 2.125, 2.75, 3.375, 3.75
    assert_allclose(
        [table[f"p{p}"] for p in (10, 25, 50, 75, 90)],
        [[3.8, 1.75], [3.875, 2.125], [4.0, 2.75], [4.5, 3.375], [4.8, 3.75]],
        atol=5e-5,
    )


# --- the command ------------------------------------------------------------------------------


def test_cli_scores_to_stdout(tiny_path: Path, csv_file: Path) -> None:
    result = _run("--instrument", str(tiny_path), str(csv_file), "--id-column", "pid")
    assert result.exit_code == 0, result.output
    assert result.stdout == SCORES
    assert result.stderr == ""


def test_cli_default_id_is_the_row_number(tiny_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    # a byte-order mark (Excel's "CSV UTF-8") is not part of the first column name
    path.write_text(CSV, encoding="utf-8-sig")
    result = _run("--instrument", str(tiny_path), str(path), "--ignore", "pid")
    assert result.exit_code == 0, result.output
    expected = SCORES.replace("pid,", "row,", 1)
    for n in (1, 2, 3):
        expected = expected.replace(f"p{n},", f"{n},")
    assert result.stdout == expected


def test_cli_summary_goes_to_stderr(tiny_path: Path, csv_file: Path) -> None:
    args = ("--instrument", str(tiny_path), str(csv_file), "--id-column", "pid", "--summary")
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == SCORES
    _check_summary(result.stderr)


@pytest.mark.parametrize("case", BAD, ids=str)
def test_cli_bad_input_fails_with_nothing_on_stdout(
    tiny_path: Path, tmp_path: Path, case: str
) -> None:
    text, options, line, column, message = BAD[case]
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    result = _run("--instrument", str(tiny_path), str(path), *options, "--summary")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert f"line {line}" in result.stderr
    if column is not None:
        assert f"column {column!r}" in result.stderr
    assert message in result.stderr


def test_cli_broken_instrument(tmp_path: Path, csv_file: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('schema_version = 1\nid = "x"\n', encoding="utf-8")
    result = _run("--instrument", str(broken), str(csv_file))
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "'title' is a required property" in result.stderr


def test_decimals_from_none_to_every_digit(tmp_path: Path) -> None:
    """``quizapp score --decimals N`` prints N places; ``full`` prints every digit, which
    reads back as exactly the engine's mean (7/3 is not 2.3333)."""
    answers = tmp_path / "answers.csv"
    items = [f"q{i:02d}" for i in range(1, 13)]
    answers.write_text(",".join(items) + "\n" + "2,2,3,2,3,2,3,3,3,3,3,3\n")
    instrument = load_instrument(REPO / "items" / "quick.toml")
    expected = score(instrument, dict(zip(items, [2, 2, 3, 2, 3, 2, 3, 3, 3, 3, 3, 3],
                                          strict=True)))  # fmt: skip
    runner = CliRunner()
    shown = {}
    for decimals in ("0", "2", "full", "FULL"):
        result = runner.invoke(cli, ["score", "--instrument", str(REPO / "items" / "quick.toml"),
                                     "--decimals", decimals, str(answers)])  # fmt: skip
        assert result.exit_code == 0, result.output
        shown[decimals] = result.output.splitlines()[1].split(",")
    anxiety = expected.scales["anxiety"].score
    assert anxiety is not None and anxiety != round(anxiety, 4)
    assert shown["0"][1] == f"{anxiety:.0f}" and shown["2"][1] == f"{anxiety:.2f}"
    assert float(shown["full"][1]) == anxiety and shown["full"] == shown["FULL"]
    for bad in ("-1", "18", "many", ""):
        refused = runner.invoke(cli, ["score", "--instrument", str(REPO / "items" / "quick.toml"),
                                      "--decimals", bad, str(answers)])  # fmt: skip
        assert refused.exit_code == 2 and "0 to 17, or 'full'" in refused.output
    summary = runner.invoke(cli, ["score", "--instrument", str(REPO / "items" / "quick.toml"),
                                  "--decimals", "full", "--summary", str(answers)])  # fmt: skip
    assert summary.exit_code == 0
