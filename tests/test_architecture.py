"""The shape of the package: layers that only import downwards, a domain without the web or
the database, and a package root that stays light.

Three checks. import-linter's contracts (``[tool.importlinter]`` in pyproject.toml) follow
every import statement, direct or through other modules, across the whole package; a copy of
the package with one bad import must break them. A fresh interpreter shows what importing the
domain and the command line really loads. And an AST scan of the domain catches the dynamic
imports (``importlib.import_module("flask")``) that import-linter cannot see.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "quizapp"
DOMAIN = ("scoring", "interpret", "ml", "reports")
FORBIDDEN = ("flask", "sqlalchemy", "wtforms", "werkzeug")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts on the ``quizapp`` found in a folder."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=package_parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_package_keeps_its_import_contracts() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("scoring/engine.py", "import flask", "quizapp.scoring is not allowed to import flask"),
        ("interpret/rules.py", "from sqlalchemy import select",
         "quizapp.interpret is not allowed to import sqlalchemy"),
        ("scoring/batch.py", "import weasyprint",
         "quizapp.scoring is not allowed to import weasyprint"),
        ("therapists/change.py", "from ..storage import tables",
         "quizapp.therapists.change is not allowed to import quizapp.storage"),
        ("reports/charts.py", "from ..pipeline import jobs",
         "quizapp.reports is not allowed to import quizapp.pipeline"),
        ("storage/tables.py", "from ..therapists import audit",
         "quizapp.storage is not allowed to import quizapp.therapists"),
        ("pipeline/jobs.py", "from flask import current_app",
         "quizapp.pipeline is not allowed to import flask"),
        ("scoring/patterns.py", "from ..cli import settings",
         "quizapp.scoring is not allowed to import quizapp.cli"),
        ("pipeline/jobs.py", "from . import queue", "No cycles are allowed in quizapp.pipeline"),
        ("ml/predict.py", "from .training import fit_bundle",
         "quizapp.ml.predict is not allowed to import sklearn"),
        ("web/results.py", "from ..pipeline.renderer import Renderer",
         "quizapp.web is not allowed to import weasyprint"),
        ("web/therapist.py", "from . import exports", "No cycles are allowed in quizapp.web"),
    ],
)  # fmt: skip
def test_a_wrong_import_breaks_the_contracts(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    shutil.copytree(PACKAGE, tmp_path / "quizapp", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "quizapp" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    assert broken in result.stdout


HEAVY = ("flask", "sqlalchemy", "sklearn", "skops", "scipy", "weasyprint", "celery")


def loaded_after(statement: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter has loaded after ``statement``."""
    show = "print(' '.join({m.split('.')[0] for m in sys.modules}))"
    code = f"import sys\n{statement}\n{show}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    return set(result.stdout.split()) & set(HEAVY)


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import quizapp", set()),
        ("import quizapp.scoring.engine, quizapp.scoring.batch, quizapp.scoring.calibration",
         set()),
        ("import quizapp.interpret.interpretation, quizapp.interpret.loading", set()),
        ("import quizapp.config, quizapp.reports.data, quizapp.reports.options", set()),
        ("import quizapp.cli, quizapp.cli.score, quizapp.cli.items, quizapp.cli.model", set()),
        ("import quizapp.ml.predict", set()),
        ("import quizapp.pipeline.pipeline", set()),
        ("import quizapp.storage.tables, quizapp.therapists.clients", {"sqlalchemy"}),
    ],
)  # fmt: skip
def test_importing_a_part_loads_only_what_it_needs(statement: str, allowed: set[str]) -> None:
    assert loaded_after(statement) == allowed


def test_the_heavy_libraries_are_loaded_where_they_are_used() -> None:
    assert loaded_after("from quizapp.pipeline.sample import shipped\nshipped()") == set(), (
        "the service evaluates its models as arrays"
    )
    assert {"sklearn", "skops"} <= loaded_after(
        "from quizapp.config import defaults\nfrom quizapp.scoring.instrument import load_bank\n"
        "from quizapp.ml.training import load_bundle\nfrom pathlib import Path\n"
        "s = defaults()\nload_bundle(Path(s['MODELS_DIR']), load_bank(s['ITEMS_DIR'])['quick'])"
    ), "training and evaluating need them"
    assert "weasyprint" in loaded_after("import quizapp.reports.render")


def _forbidden(module: str) -> bool:
    top = module.split(".")[0]
    return top in FORBIDDEN or top.startswith("flask_")


def forbidden_imports(source: str, filename: str = "<string>") -> list[str]:
    """Every import of a web or database package in ``source``, as "line N: module"."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules = [node.args[0].value]
        else:
            continue
        found += [f"line {node.lineno}: {m}" for m in modules if _forbidden(m)]
    return found


def test_the_domain_imports_no_web_or_database_package_even_dynamically() -> None:
    files = sorted(path for part in DOMAIN for path in (PACKAGE / part).glob("*.py"))
    expected = {"batch", "calibration", "engine", "instrument", "rules", "render", "predict"}
    assert expected <= {path.stem for path in files}, f"domain modules not found in {PACKAGE}"
    problems = [
        f"{path.relative_to(PACKAGE)} {hit}"
        for path in files
        for hit in forbidden_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert problems == [], "the domain must not import the web or database layer"


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "import flask.cli",
        "import numpy, sqlalchemy.orm as orm",
        "from flask import current_app",
        "from sqlalchemy.orm import Mapped",
        "from wtforms import Form",
        "from werkzeug.exceptions import NotFound",
        "from flask_wtf import FlaskForm",
        "def f():\n    import flask\n",
        "try:\n    from flask import g\nexcept ImportError:\n    g = None\n",
        "import importlib\nimportlib.import_module('sqlalchemy')",
        "__import__('werkzeug')",
    ],
)
def test_checker_catches_forbidden_imports(source: str) -> None:
    assert len(forbidden_imports(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np",
        "from .engine import score",
        "from . import flask",  # a relative module that happens to share the name
        "import flasky",
        "from sqlalchemist import x",
        "text = 'import flask'",
    ],
)
def test_checker_allows_other_imports(source: str) -> None:
    assert forbidden_imports(source) == []
