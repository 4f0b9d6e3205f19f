"""Shared test data for the scoring domain: a tiny instrument with norms, and a TOML writer.

Nothing here needs the web app; every fixture builds plain files and domain objects.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quizapp.scoring.instrument import Instrument, load_instrument

REPO = Path(__file__).resolve().parents[2]
ITEMS = REPO / "items"

LABELS_5 = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]

# The "tiny" instrument: 1..5, items interleaved so that scale columns are not contiguous.
#   anxiety   a1 a2(R) a3 a4        min_answered 3
#   avoidance v1 v2(R) v3(R) v4     min_answered 3
TINY_ITEMS = [
    ("a1", "anxiety", False),
    ("v1", "avoidance", False),
    ("a2", "anxiety", True),
    ("v2", "avoidance", True),
    ("a3", "anxiety", False),
    ("v3", "avoidance", True),
    ("a4", "anxiety", False),
    ("v4", "avoidance", False),
]

# Round numbers so that the golden values can be worked out by hand:
#   anxiety   SEM = 0.8 * sqrt(1 - 0.84) = 0.8 * 0.4 = 0.32
#   avoidance SEM = 1.0 * sqrt(1 - 0.75) = 1.0 * 0.5 = 0.5
TINY_NORMS: dict[str, Any] = {
    "schema_version": 1,
    "instrument": "tiny",
    "instrument_version": "1.0.0",
    "source": "made up for the tests",
    "n": 100,
    "scales": {
        "anxiety": {
            "mean": 3.0,
            "sd": 0.8,
            "reliability": 0.84,
            "cutoff": 3.0,
            "cutoff_rule": "made up",
            "percentiles": [[1, 0.5], [2, 10], [3, 50], [4, 90], [5, 99.5]],
        },
        "avoidance": {
            "mean": 2.5,
            "sd": 1.0,
            "reliability": 0.75,
            "cutoff": 2.5,
            "cutoff_rule": "made up",
            "percentiles": [[1, 2], [2, 30], [3, 70], [5, 98]],
        },
    },
}


def tiny_data(norms: str | None = "norms/tiny.json") -> dict[str, Any]:
    """A fresh, valid instrument document (as parsed from TOML) for the tiny instrument."""
    data: dict[str, Any] = {
        "schema_version": 1,
        "id": "tiny",
        "version": "1.0.0",
        "title": "Tiny test instrument",
        "language": "en",
        "licence": {"name": "CC0-1.0", "holder": "tests", "permissions": ["use"]},
        "response_scale": {"min": 1, "max": 5, "labels": list(LABELS_5)},
        "scales": {
            "anxiety": {"label": "Anxiety", "min_answered": 3},
            "avoidance": {"label": "Avoidance", "min_answered": 3},
        },
        "themes": {"worry": "Worry", "distance": "Distance"},
        "items": [
            {
                "id": item_id,
                "scale": scale,
                "reverse": reverse,
                "text": f"Statement {item_id}",
                "themes": ["worry" if scale == "anxiety" else "distance"],
            }
            for item_id, scale, reverse in TINY_ITEMS
        ],
    }
    if norms is not None:
        data["norms"] = norms
    return data


def tiny_norms() -> dict[str, Any]:
    return copy.deepcopy(TINY_NORMS)


# --- a minimal TOML writer (enough for instrument files) -----------------------------------


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(lines: list[str], name: str, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if not _is_table(value) and not _is_table_array(value):
            lines.append(f"{json.dumps(key)} = {_value(value)}")
    for key, value in table.items():
        if _is_table(value):
            lines += ["", f"[{name}{json.dumps(key)}]"]
            _table(lines, f"{name}{json.dumps(key)}.", value)
    for key, value in table.items():
        if _is_table_array(value):
            for entry in value:
                lines += ["", f"[[{name}{json.dumps(key)}]]"]
                lines += [f"{json.dumps(k)} = {_value(v)}" for k, v in entry.items()]


def to_toml(data: dict[str, Any]) -> str:
    """Serialise an instrument document (nested tables, arrays of tables, inline tables)."""
    lines: list[str] = []
    _table(lines, "", data)
    return "\n".join(lines) + "\n"


WriteInstrument = Callable[..., Path]


def write_instrument_files(
    folder: Path, data: dict[str, Any], norms: dict[str, Any] | None = None, name: str = "tiny"
) -> Path:
    """Write ``data`` as ``folder/<name>.toml`` and ``norms`` where ``data['norms']`` says."""
    path = folder / f"{name}.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    if norms is not None:
        norms_path = folder / data["norms"]
        norms_path.parent.mkdir(parents=True, exist_ok=True)
        norms_path.write_text(json.dumps(norms), encoding="utf-8")
    return path


@pytest.fixture
def write_instrument(tmp_path: Path) -> WriteInstrument:
    """Write an instrument (and optionally its norms) into this test's tmp_path."""

    def write(data: dict[str, Any], norms: dict[str, Any] | None = None, name: str = "x") -> Path:
        return write_instrument_files(tmp_path, data, norms, name)

    return write


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    return write_instrument_files(folder, tiny_data(), tiny_norms())


@pytest.fixture(scope="session")
def tiny(tiny_path: Path) -> Instrument:
    return load_instrument(tiny_path)
