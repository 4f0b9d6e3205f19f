"""The trained models as plain arrays, evaluated with numpy alone: what the service runs.

scikit-learn fits the estimators and skops stores them (``training``); for the web app and the
renderer the fitted numbers are written once more, as arrays in ``models/<id>.npz`` (its
SHA-256 in the model card), and evaluated here without scikit-learn. The service then starts
without scikit-learn, SciPy or skops, and one person's outputs take a fraction of a
millisecond instead of several (scikit-learn's checks and thread pools cost more than the
arithmetic). The arithmetic is the estimators' own, step by step:

- short form: one-hot encoding and ridge regression are a table of contributions per item
  and answer, plus an intercept; the interval is the fitted conformal half-width of the
  prediction's bin, clipped to the target range;
- expected answers: degree-2 polynomial features of the two levels times the ridge
  coefficients, plus the intercept, against each item's residual SD;
- random answering: every tree of the gradient-boosting classifier walked at once (left when
  the value is at most the threshold, or missing and missing goes left; a leaf stays where it
  is), the leaf values summed with the baseline, the logistic of that compared with the
  fitted offset.

``tests/ml/test_compiled.py`` requires the same outputs as the scikit-learn estimators on
thousands of held-out rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..scoring.instrument import Instrument

Array = NDArray[Any]
FORMAT = 1
DIMENSIONS = ("anxiety", "avoidance")  # the outputs of the short form and the levels, in order
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip entries' date, so the same arrays give the same file


# ---- from fitted scikit-learn estimators to arrays (needs the fitted objects) ---------------


def _shortform_arrays(model: Any, values: tuple[int, ...]) -> dict[str, Array]:
    encoder, ridge = model.pipeline_.steps[0][1], model.pipeline_.steps[-1][1]
    coef = np.asarray(ridge.coef_, dtype=float).reshape(
        -1, sum(len(c) for c in encoder.categories_)
    )
    table = np.zeros((len(encoder.categories_), len(values), coef.shape[0]))
    offset = 0
    for item, categories in enumerate(encoder.categories_):
        for k, category in enumerate(categories):
            if category in values:
                table[item, values.index(int(category))] = coef[:, offset + k]
        offset += len(categories)
    return {
        "shortform_table": table,
        "shortform_intercept": np.asarray(ridge.intercept_, dtype=float).reshape(-1),
        "shortform_bin_edges": np.asarray(model.bin_edges_, dtype=float),
        "shortform_half_width": np.asarray(model.half_width_, dtype=float),
        "shortform_y_range": np.asarray(model.y_range_, dtype=float),
    }


def _expected_arrays(model: Any) -> dict[str, Array]:
    features, ridge = model.pipeline_.steps[0][1], model.pipeline_.steps[-1][1]
    return {
        "expected_powers": np.asarray(features.powers_, dtype=np.int64),
        "expected_coef": np.asarray(ridge.coef_, dtype=float),
        "expected_intercept": np.asarray(ridge.intercept_, dtype=float).reshape(-1),
        "expected_residual_sd": np.asarray(model.residual_sd_, dtype=float).reshape(-1),
    }


def _detector_arrays(model: Any, prefix: str = "detector") -> dict[str, Array]:
    classifier = model.classifier_
    if classifier.is_categorical_ is not None:
        raise ValueError("the detector has categorical features, which this does not evaluate")
    trees = [predictors[0].nodes for predictors in classifier._predictors]
    width = max(len(nodes) for nodes in trees)

    def padded(field: str, dtype: Any) -> Array:
        out = np.zeros((len(trees), width), dtype=dtype)
        for t, nodes in enumerate(trees):
            out[t, : len(nodes)] = nodes[field]
        return out

    arrays = {
        "feature": padded("feature_idx", np.int64),
        "threshold": padded("num_threshold", float),
        "missing_left": padded("missing_go_to_left", bool),
        "left": padded("left", np.int64),
        "right": padded("right", np.int64),
        "leaf": padded("is_leaf", bool),
        "value": padded("value", float),
        "depth": np.array([int(nodes["depth"].max()) for nodes in trees]),
        "baseline": np.asarray(classifier._baseline_prediction, dtype=float).reshape(-1),
        "offset": np.array([model.offset_], dtype=float),
    }
    return {f"{prefix}_{name}": value for name, value in arrays.items()}


def _consistency_arrays(model: Any) -> dict[str, Array]:
    """The consistency check: its trees (``check_*``), the quick detector's score below which
    it applies, the full bank's statements (its columns) and the follow-up model it fits."""
    return _detector_arrays(model, "check") | {
        "check_suspect_below": np.array([model.suspect_below], dtype=float),
        "check_items": np.array(model.items, dtype=str),
        "check_follow_up": np.array([model.follow_up_version], dtype=str),
    }


def compile_bundle(bundle: Mapping[str, Any], instrument: Instrument) -> dict[str, Array]:
    """The arrays of a fitted bundle (``training.fit_bundle``) for :class:`CompiledModels`."""
    arrays: dict[str, Array] = {"format": np.array([FORMAT])}
    arrays |= _expected_arrays(bundle["expected"]) | _detector_arrays(bundle["detector"])
    if "shortform" in bundle:
        arrays |= _shortform_arrays(bundle["shortform"], instrument.response_scale.values)
    if "consistency" in bundle:
        arrays |= _consistency_arrays(bundle["consistency"])
    return arrays


def write_arrays(arrays: Mapping[str, Array], path: Path) -> str:
    """Write ``arrays`` as an .npz file, byte for byte the same for the same arrays; return its
    SHA-256."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)  # fmt: skip
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- evaluating them with numpy ------------------------------------------------------------


@dataclass(frozen=True)
class _Forest:
    """The detector's trees as flat arrays (node ``t * width + n`` is node ``n`` of tree
    ``t``) in which a leaf's children are the leaf itself: one person's walk through 168
    trees is then a few array operations per level, with no test for leaves."""

    roots: Array
    feature: Array
    threshold: Array
    missing_left: Array
    child: Array  # node n's right child at 2n, its left child at 2n + 1
    value: Array
    depth: int
    baseline: float

    @cached_property
    def _child_slots(self) -> Array:
        return 2 * np.arange(self.feature.size)

    def leaves(self, answers: Array) -> Array:
        """The leaf each tree gives one fully answered row: every node's next node for these
        answers at once, then ``depth`` steps of one look-up each."""
        following = self.child[self._child_slots + (answers[self.feature] <= self.threshold)]
        node = self.roots
        for _ in range(self.depth):
            node = following[node]
        return node

    def score(self, raw: Array) -> Array:
        """Minus the probability of "careless" for rows of raw answers (NaN: not answered)."""
        if raw.shape[0] == 1 and not np.isnan(raw).any():  # one person, every item answered
            node = self.leaves(raw[0])[None, :]
        else:
            rows = np.arange(raw.shape[0])[:, None]
            node = np.broadcast_to(self.roots, (raw.shape[0], self.roots.size))
            for _ in range(self.depth):
                value = raw[rows, self.feature[node]]
                split = value <= self.threshold[node]
                left = np.where(np.isnan(value), self.missing_left[node], split)
                node = self.child[2 * node + left]
        raw_score = self.baseline + self.value[node].sum(axis=1)
        score: Array = -1.0 / (1.0 + np.exp(-raw_score))
        return score

    @classmethod
    def of(cls, a: Mapping[str, Array], prefix: str = "detector") -> _Forest:
        def get(name: str) -> Array:
            return a[f"{prefix}_{name}"]

        trees, width = get("feature").shape
        first = np.arange(trees)[:, None] * width
        own = first + np.arange(width)[None, :]
        leaf = get("leaf")
        right = np.where(leaf, own, first + get("right")).ravel()
        left = np.where(leaf, own, first + get("left")).ravel()
        return cls(
            roots=first[:, 0],
            feature=np.where(leaf, 0, get("feature")).ravel(),
            threshold=get("threshold").ravel(),
            missing_left=get("missing_left").ravel(),
            child=np.stack([right, left], axis=1).ravel(),
            value=get("value").ravel(),
            depth=int(get("depth").max()),
            baseline=float(get("baseline")[0]),
        )


@dataclass(frozen=True)
class CompiledModels:
    """One instrument's trained models as arrays; ``version`` is the model card's."""

    version: str
    arrays: Mapping[str, Array]
    values: tuple[int, ...]  # the instrument's response values, in order

    @property
    def has_shortform(self) -> bool:
        return "shortform_table" in self.arrays

    def full_estimates(self, keyed: Array) -> tuple[Array, Array, Array]:
        """Full-scale estimates for rows of keyed answers: (point, low, high), rows x outputs."""
        a = self.arrays
        table = a["shortform_table"]
        index = np.searchsorted(np.array(self.values), keyed.astype(np.int64))
        known = (index < len(self.values)) & np.isin(keyed, self.values)
        items = np.arange(table.shape[0])
        parts = np.where(known[..., None], table[items, np.minimum(index, len(self.values) - 1)],
                         0.0)  # fmt: skip
        point = a["shortform_intercept"] + parts.sum(axis=1)
        width = np.column_stack([
            a["shortform_half_width"][j][np.searchsorted(a["shortform_bin_edges"][j], point[:, j])]
            for j in range(point.shape[1])
        ])  # fmt: skip
        low, high = a["shortform_y_range"]
        return point, np.clip(point - width, low, high), np.clip(point + width, low, high)

    @cached_property
    def _plain(self) -> dict[str, Any]:
        """The short form's and expected answers' arrays as Python lists (one person's
        outputs are a few dozen multiplications: numpy's calls would cost more)."""
        return {name: self.arrays[name].tolist() for name in self.arrays
                if name.startswith(("shortform_", "expected_"))}  # fmt: skip

    def one_person(
        self, levels: tuple[float, float], keyed: list[float]
    ) -> tuple[list[float], dict[str, tuple[float, float, float]]]:
        """One fully answered person's deviations (item order) and full-scale estimates
        (point, low, high by dimension; empty without a short form), as :meth:`deviations`
        and :meth:`full_estimates` give them (to rounding: ``tests/ml/test_compiled.py``)."""
        a = self._plain
        features = [levels[0] ** p0 * levels[1] ** p1 for p0, p1 in a["expected_powers"]]
        deviations = [
            (value - (sum(f * c for f, c in zip(features, coef, strict=True)) + intercept)) / sd
            for value, coef, intercept, sd in zip(keyed, a["expected_coef"],
                                                  a["expected_intercept"],
                                                  a["expected_residual_sd"], strict=True)
        ]  # fmt: skip
        if not self.has_shortform:
            return deviations, {}
        table, values = a["shortform_table"], self.values
        full = {}
        for j, dimension in enumerate(DIMENSIONS):
            point = a["shortform_intercept"][j] + sum(
                table[i][values.index(int(v))][j] if v in values else 0.0
                for i, v in enumerate(keyed)
            )
            edges = a["shortform_bin_edges"][j]
            width = a["shortform_half_width"][j][bisect_left(edges, point)]
            low, high = a["shortform_y_range"][0][j], a["shortform_y_range"][1][j]
            full[dimension] = (point, min(max(point - width, low), high),
                               min(max(point + width, low), high))  # fmt: skip
        return deviations, full

    def deviations(self, levels: Array, keyed: Array) -> Array:
        """(answer - expected answer) / residual SD, rows x items, from rows of two levels."""
        a = self.arrays
        features = np.prod(levels[:, None, :] ** a["expected_powers"][None, :, :], axis=2)
        expected = features @ a["expected_coef"].T + a["expected_intercept"]
        deviations: Array = (keyed - expected) / a["expected_residual_sd"]
        return deviations

    @cached_property
    def _forest(self) -> _Forest:
        return _Forest.of(self.arrays)

    def random_score(self, raw: Array) -> Array:
        """Higher is more like a real answer pattern: minus the probability of "random"."""
        return self._forest.score(raw)

    def random_pattern(self, raw: Array) -> Array:
        """True where an answer pattern is flagged as looking random."""
        flags: Array = self.random_score(raw) - self.arrays["detector_offset"][0] < 0
        return flags

    def checks(self, follow_up_version: str) -> bool:
        """Whether these models hold a consistency check made for this follow-up model."""
        made_for = self.arrays.get("check_follow_up")
        return made_for is not None and str(made_for[0]) == follow_up_version

    def borderline(self, raw: Array) -> bool:
        """Whether one person's quick answers are borderline for the detector (the
        consistency check then applies)."""
        return bool(self.random_score(raw)[0] < self.arrays["check_suspect_below"][0])

    @cached_property
    def check_columns(self) -> tuple[str, ...]:
        """The full bank's statements the consistency check reads, in its column order."""
        return tuple(str(item) for item in self.arrays["check_items"])

    @cached_property
    def _check_forest(self) -> _Forest:
        return _Forest.of(self.arrays, "check")

    def careless(self, row: Array) -> bool:
        """Whether one row of answers to the full bank's statements (NaN: not asked; the
        order of ``check_items``) is flagged by the consistency check."""
        return bool(self._check_forest.score(row)[0] < self.arrays["check_offset"][0])


def model_card(folder: Path, instrument: Instrument) -> dict[str, Any] | None:
    """The model card of ``instrument`` in ``folder``, or None when none was trained for its
    version."""
    card_path = folder / f"{instrument.id}.card.json"
    if not card_path.exists():
        return None
    card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8"))
    if card["instrument"] != {"id": instrument.id, "version": instrument.version}:
        return None
    return card


def load_compiled(folder: Path, instrument: Instrument) -> CompiledModels | None:
    """The compiled models of ``instrument``, or None when none were made for its version.

    Refuses an array file whose SHA-256 differs from the model card's. Loads no pickles.
    """
    card = model_card(folder, instrument)
    if card is None:
        return None
    inference = card.get("inference")
    if inference is None:
        raise ValueError(f"{instrument.id}.card.json names no compiled models: "
                         "run quizapp model compile")  # fmt: skip
    data = (folder / inference["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != inference["sha256"]:
        raise ValueError(f"{inference['file']} does not match its model card's SHA-256")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if int(arrays["format"][0]) != FORMAT:
        raise ValueError(f"{inference['file']} has format {arrays['format'][0]}, not {FORMAT}")
    return CompiledModels(card["model_version"], arrays, instrument.response_scale.values)
