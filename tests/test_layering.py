"""The domain layer (quizapp/scoring) is importable without the web: no Flask, no database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[1] / "quizapp" / "scoring"
FORBIDDEN = ("flask", "sqlalchemy", "wtforms", "werkzeug")


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


def test_scoring_imports_no_web_or_database_package() -> None:
    files = sorted(SCORING.glob("*.py"))
    expected = {"batch", "calibration", "engine", "instrument", "patterns", "reliability"}
    assert expected <= {path.stem for path in files}, f"scoring modules not found in {SCORING}"
    problems = [
        f"{path.name} {hit}"
        for path in files
        for hit in forbidden_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert problems == [], "quizapp/scoring must not import the web or database layer"


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
