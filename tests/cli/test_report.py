"""``quizapp report``: a PDF for a stored result's receipt code or for JSON answers, written
through the same pipeline as the web app, without building the web app."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from quizapp.cli import cli
from quizapp.storage import receipts

from ..web.test_quiz import answers
from ..web.test_report_download import app, submit

assert app  # the web tests' app fixture (reports rendered in the request)


def test_report_command_writes_pdfs(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    code = submit(client)
    runner = CliRunner(env={"DATABASE_URL": app.config["DATABASE_URL"]})
    out = tmp_path / "by-receipt.pdf"
    result = runner.invoke(cli, ["report", "--receipt", receipts.display(code), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    answers_file = tmp_path / "answers.json"
    given = {k: int(v) for k, v in answers().items()}
    answers_file.write_text(json.dumps({"instrument": "quick", "answers": given}))
    out2 = tmp_path / "therapist.pdf"
    result = runner.invoke(
        cli, ["report", "--answers", str(answers_file), "--kind", "therapist", "--size", "Letter",
              "--out", str(out2)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out2.read_bytes().startswith(b"%PDF")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"q01": 9}))
    result = runner.invoke(cli, ["report", "--answers", str(bad), "--out", str(out2)])
    assert result.exit_code != 0
    assert "unanswered items" in result.output
    result = runner.invoke(cli, ["report", "--receipt", receipts.new_code(), "--out", str(out)])
    assert result.exit_code != 0 and "no result has that receipt code" in result.output


def test_a_broken_setup_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    answers_file = tmp_path / "answers.json"
    answers_file.write_text(json.dumps({k: int(v) for k, v in answers().items()}))
    runner = CliRunner(env={"QUIZAPP_DEFAULT_INSTRUMENT": "nope"})
    result = runner.invoke(cli, ["report", "--answers", str(answers_file), "--out",
                                 str(tmp_path / "x.pdf")])  # fmt: skip
    assert result.exit_code == 1
    assert "the service cannot start: DEFAULT_INSTRUMENT 'nope' not in bank" in result.output
    assert not isinstance(result.exception, RuntimeError)
