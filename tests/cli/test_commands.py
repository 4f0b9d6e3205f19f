"""The ``quizapp`` command starts fast: help and batch scoring load no web framework, no
database layer, no scikit-learn and no WeasyPrint; Flask's own commands still build the app.

The start-up times themselves are measured by ``benchmarks/startup.py``, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from quizapp.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"flask", "werkzeug", "sqlalchemy", "alembic", "sklearn", "skops", "weasyprint", "celery"}


def loaded_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``quizapp ARGS`` in a fresh interpreter; its result and the heavy packages it loaded."""
    code = (
        "import atexit, sys\n"
        "names = lambda: sorted({m.split('.')[0] for m in sys.modules})\n"
        "atexit.register(lambda: print('LOADED', *names()))\n"
        "from quizapp.cli import cli\n"
        "sys.argv[0] = 'quizapp'\n"
        "cli()\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            cwd=REPO, timeout=120, check=False)  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("LOADED"))
    return result, set(line.split()[1:]) & HEAVY


def test_help_lists_every_command_without_building_the_app(tmp_path: Path) -> None:
    broken = tmp_path / "items"
    broken.mkdir()  # an empty bank: the app could not start
    env = {"QUIZAPP_SECRET_KEY": None, "QUIZAPP_INSTANCE_DIR": str(tmp_path / "none"),
           "QUIZAPP_ITEMS_DIR": str(broken)}  # fmt: skip
    result = CliRunner(env=env).invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert f"  {name} " in result.output
    assert "cannot start" not in result.output and "Traceback" not in result.output


def test_help_and_scoring_load_nothing_heavy(tmp_path: Path) -> None:
    result, heavy = loaded_by("--help")
    assert result.returncode == 0 and heavy == set()
    result, heavy = loaded_by("score", "--help")
    assert result.returncode == 0 and heavy == set()
    answers = tmp_path / "answers.csv"
    items = [f"q{i:02d}" for i in range(1, 13)]
    answers.write_text(",".join(items) + "\n" + ",".join("3" for _ in items) + "\n")
    result, heavy = loaded_by("score", "--instrument", "items/quick.toml", str(answers))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "1,3.0000,3.0000,6,6"
    assert heavy == set(), "batch scoring needs numpy and jsonschema, nothing more"


def test_flask_commands_build_the_app_from_the_environment(tmp_path: Path) -> None:
    env = {"QUIZAPP_SECRET_KEY": "k", "QUIZAPP_INSTANCE_DIR": str(tmp_path)}
    refused = CliRunner(env=env).invoke(cli, ["routes"])
    assert refused.exit_code != 0 and "QUIZAPP_BASE_URL" in refused.output
    env["QUIZAPP_BASE_URL"] = "https://quiz.example.org"
    result = CliRunner(env=env).invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/quiz/<instrument_id>" in result.output and "/therapist/" in result.output


def test_flask_commands_keep_their_own_options_and_help() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"], prog_name="quizapp")
    assert result.exit_code == 0, result.output
    assert "Usage: quizapp run [OPTIONS]" in result.output and "--port" in result.output


def test_flask_run_reads_flask_run_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flask.cli

    served: dict[str, object] = {}

    def serve(host: str, port: int, app: object, **options: object) -> None:
        served.update(host=host, port=port)

    monkeypatch.setattr(flask.cli, "run_simple", serve)  # instead of serving forever
    env = {"QUIZAPP_SECRET_KEY": "k", "QUIZAPP_INSTANCE_DIR": str(tmp_path),
           "FLASK_RUN_PORT": "5999", "QUIZAPP_BASE_URL": "http://127.0.0.2:5999"}  # fmt: skip
    result = CliRunner(env=env).invoke(cli, ["run", "--host", "127.0.0.2"])
    assert result.exit_code == 0, result.output
    assert served == {"host": "127.0.0.2", "port": 5999}


def test_flask_commands_say_why_the_app_cannot_start(tmp_path: Path) -> None:
    env = {"QUIZAPP_SECRET_KEY": None, "QUIZAPP_INSTANCE_DIR": str(tmp_path)}
    result = CliRunner(env=env).invoke(cli, ["routes"])
    assert result.exit_code != 0
    assert "No secret key" in result.output
