"""Instruments as data: load, validate and describe a questionnaire file.

An instrument file (TOML) defines the response scale, the scales and the items; an optional
norms file (JSON, usually derived from calibration data) adds each scale's mean, SD,
reliability, pattern cut-off and percentile table. Loading collects every problem in both
files and raises a single :class:`InstrumentError` that lists them all.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import numpy as np
from numpy.typing import NDArray

from .problems import ProblemsError

SCHEMA_VERSION = 1
Value = TypeVar("Value", int, float, NDArray[np.float64])
RESERVED_IDS = frozenset({"csrf_token", "started", "row", "id"})  # names the web form and CSV use


class InstrumentError(ProblemsError):
    """An instrument or norms file is invalid; ``problems`` lists every problem found."""


@dataclass(frozen=True)
class ResponseScale:
    min: int
    max: int
    labels: tuple[str, ...]

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.min, self.max + 1))

    @cached_property
    def value_texts(self) -> frozenset[str]:
        """The answers as a form sends them ("1" .. "5")."""
        return frozenset(str(v) for v in self.values)

    def reverse(self, value: Value) -> Value:
        """Reverse-key a response, or an array of them: ``min + max - value`` (5 -> 1 on 1..5,
        7 -> 1 on 1..7). The one place the project reverses an answer."""
        return self.min + self.max - value


@dataclass(frozen=True)
class Source:
    """The published item whose construct this item restates (never its wording)."""

    instrument: str
    item: int
    direction: str  # "same" or "opposite" to the source item's wording


@dataclass(frozen=True)
class Item:
    id: str
    scale: str
    reverse: bool
    text: str
    themes: tuple[str, ...] = ()
    source: Source | None = None


@dataclass(frozen=True)
class ScaleNorms:
    """Figures derived from a reference sample for one scale."""

    mean: float
    sd: float
    reliability: float
    cutoff: float | None = None
    cutoff_rule: str | None = None
    percentiles: tuple[tuple[float, float], ...] = ()

    @cached_property
    def percentile_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The percentile table as two arrays: scores, and their mid-rank percentiles."""
        points = np.array(self.percentiles, dtype=float).reshape(-1, 2)
        return points[:, 0], points[:, 1]

    @cached_property
    def percentile_scores(self) -> tuple[float, ...]:
        """The scores of the percentile table, in order (for a binary search)."""
        return tuple(float(score) for score, _rank in self.percentiles)

    @property
    def sem(self) -> float:
        """Standard error of measurement of the full scale: ``SD * sqrt(1 - reliability)``."""
        return float(self.sd * (1.0 - self.reliability) ** 0.5)


@dataclass(frozen=True)
class Norms:
    source: str
    n: int | None
    scales: Mapping[str, ScaleNorms]


@dataclass(frozen=True)
class Scale:
    id: str
    label: str
    description: str
    min_answered: int
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Licence:
    name: str
    holder: str
    permissions: tuple[str, ...]
    url: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    title: str
    description: str
    instructions: str
    language: str
    minutes: int | None
    licence: Licence
    response_scale: ResponseScale
    scales: Mapping[str, Scale]
    items: tuple[Item, ...]
    themes: Mapping[str, str]
    norms: Norms | None

    @cached_property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    @cached_property
    def reverse_mask(self) -> NDArray[np.bool_]:
        """Which columns (items, in order) are reverse-keyed."""
        return np.array([item.reverse for item in self.items], dtype=bool)

    def columns(self, scale_id: str) -> list[int]:
        """The column of each item of a scale, in the scale's order."""
        return self._columns[scale_id]

    @cached_property
    def _columns(self) -> dict[str, list[int]]:
        index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        return {s.id: [index[i] for i in s.item_ids] for s in self.scales.values()}

    @cached_property
    def scale_keys(self) -> dict[str, tuple[tuple[str, bool], ...]]:
        """Each scale's (item id, reverse-keyed?) pairs, in the scale's order."""
        reverse = {item.id: item.reverse for item in self.items}
        return {s.id: tuple((i, reverse[i]) for i in s.item_ids) for s in self.scales.values()}

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("quizapp.scoring").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_problems(data: Any, schema_name: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema(schema_name))
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


def _response_scale_problems(data: Mapping[str, Any]) -> list[str]:
    rs = data["response_scale"]
    if rs["max"] <= rs["min"]:
        return ["response_scale: max must be greater than min"]
    points = rs["max"] - rs["min"] + 1
    if len(rs["labels"]) != points:
        return [f"response_scale: {len(rs['labels'])} labels for {points} points"]
    return []


def _item_problems(data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    themes = set(data.get("themes", {}))
    counts = dict.fromkeys(data["scales"], 0)
    for index, item in enumerate(data["items"]):
        where = f"items/{index} ({item.get('id')})"
        if item.get("id") in seen:
            problems.append(f"{where}: duplicate item id")
        if item.get("id") in RESERVED_IDS:
            problems.append(f"{where}: {item['id']!r} is a reserved name")
        seen.add(item.get("id"))
        if item.get("scale") not in counts:
            problems.append(f"{where}: unknown scale {item.get('scale')!r}")
        else:
            counts[item["scale"]] += 1
        for theme in item.get("themes", []):
            if theme not in themes:
                problems.append(f"{where}: theme {theme!r} is not declared in [themes]")
    for scale_id, count in counts.items():
        minimum = data["scales"][scale_id].get("min_answered", 1)
        if count == 0:
            problems.append(f"scales/{scale_id}: no items")
        elif minimum > count:
            problems.append(f"scales/{scale_id}: min_answered {minimum} exceeds {count} items")
    return problems


def _semantic_problems(data: Mapping[str, Any]) -> list[str]:
    """Cross-field rules a JSON schema cannot express, checked wherever the structure allows.

    A check that meets a malformed structure is skipped: the schema problems report that.
    """
    problems: list[str] = []
    for check in (_response_scale_problems, _item_problems):
        try:
            problems += check(data)
        except (KeyError, TypeError, AttributeError):
            continue
    return problems


def _norms_problems(norms: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    problems = _schema_problems(norms, "norms.schema.json")
    if problems:
        return problems
    if (norms["instrument"], norms["instrument_version"]) != (data["id"], data["version"]):
        problems.append(
            f"norms are for {norms['instrument']} {norms['instrument_version']}, "
            f"not {data['id']} {data['version']}"
        )
    for scale_id, figures in norms["scales"].items():
        if scale_id not in data["scales"]:
            problems.append(f"scales/{scale_id}: not a scale of the instrument")
        points = figures.get("percentiles", [])
        if any(b[0] <= a[0] or b[1] < a[1] for a, b in itertools.pairwise(points)):
            problems.append(f"scales/{scale_id}/percentiles: must increase in score and percentile")
    return problems


def _build(data: Mapping[str, Any], norms: Mapping[str, Any] | None) -> Instrument:
    items = tuple(
        Item(
            id=raw["id"],
            scale=raw["scale"],
            reverse=raw["reverse"],
            text=raw["text"],
            themes=tuple(raw.get("themes", ())),
            source=Source(**raw["source"]) if "source" in raw else None,
        )
        for raw in data["items"]
    )
    scales = {
        scale_id: Scale(
            id=scale_id,
            label=raw["label"],
            description=raw.get("description", ""),
            min_answered=raw["min_answered"],
            item_ids=tuple(item.id for item in items if item.scale == scale_id),
        )
        for scale_id, raw in data["scales"].items()
    }
    lic = data["licence"]
    return Instrument(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        description=data.get("description", ""),
        instructions=data.get("instructions", ""),
        language=data["language"],
        minutes=data.get("minutes"),
        licence=Licence(
            name=lic["name"],
            holder=lic["holder"],
            permissions=tuple(lic["permissions"]),
            url=lic.get("url", ""),
            notes=lic.get("notes", ""),
        ),
        response_scale=ResponseScale(
            min=data["response_scale"]["min"],
            max=data["response_scale"]["max"],
            labels=tuple(data["response_scale"]["labels"]),
        ),
        scales=scales,
        items=items,
        themes=dict(data.get("themes", {})),
        norms=_build_norms(norms) if norms is not None else None,
    )


def _build_norms(raw: Mapping[str, Any]) -> Norms:
    scales = {
        scale_id: ScaleNorms(
            mean=fig["mean"],
            sd=fig["sd"],
            reliability=fig["reliability"],
            cutoff=fig.get("cutoff"),
            cutoff_rule=fig.get("cutoff_rule"),
            percentiles=tuple((float(s), float(p)) for s, p in fig.get("percentiles", [])),
        )
        for scale_id, fig in raw["scales"].items()
    }
    return Norms(source=raw["source"], n=raw.get("n"), scales=scales)


def _read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"norms file {path}: cannot be read ({exc.strerror})")
    except json.JSONDecodeError as exc:
        problems.append(f"norms file {path}: not valid JSON ({exc})")
    return None


def parse_instrument(data: Any, base: Path | None = None, source: str = "<data>") -> Instrument:
    """Validate already-parsed instrument data; ``base`` resolves a relative norms path."""
    problems = _schema_problems(data, "instrument.schema.json")
    if not isinstance(data, Mapping):
        raise InstrumentError(source, problems)
    problems += _semantic_problems(data)
    norms = None
    if isinstance(data.get("norms"), str):
        norms_path = (base or Path.cwd()) / data["norms"]
        norms = _read_json(norms_path, problems)
        if norms is not None:
            try:
                found = _norms_problems(norms, data)
            except (KeyError, TypeError, AttributeError):
                found = []  # the instrument's own problems are already listed
            problems += [f"norms {data['norms']}: {p}" for p in found]
    if problems:
        raise InstrumentError(source, problems)
    return _build(data, norms)


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate one instrument file (and the norms file it names)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise InstrumentError(str(path), [f"cannot be read ({exc.strerror})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentError(str(path), [f"not valid TOML: {exc}"]) from exc
    return parse_instrument(data, base=path.parent, source=str(path))


def load_bank(folder: str | Path) -> dict[str, Instrument]:
    """Load every ``*.toml`` instrument in a folder, keyed by id; one error lists all problems."""
    folder = Path(folder)
    instruments: dict[str, Instrument] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            instrument = load_instrument(path)
        except InstrumentError as exc:
            problems += [f"{path.name}: {p}" for p in exc.problems]
            continue
        if instrument.id in instruments:
            problems.append(f"{path.name}: instrument id {instrument.id!r} is used twice")
        instruments[instrument.id] = instrument
    if not instruments and not problems:
        problems.append("no instrument files (*.toml) found")
    if problems:
        raise InstrumentError(str(folder), problems)
    return instruments
