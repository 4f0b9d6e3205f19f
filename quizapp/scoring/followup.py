"""A few more statements, only when they matter: the full-form estimate from any answered
subset of the full bank, and the follow-up statements that best settle an uncertain result.

The model is a multivariate normal of the full form's keyed answers, fitted on the training
part of the calibration data (its means and covariances are derived figures and ship in
``models/followup.json``). From any set of answered statements (a quick-form statement
stands for the full-form statement that restates the same ECR item) it gives each full-form
scale score as the conditional expectation, with its conditional SD, and so the probability
that each score lies above the full form's cut-off.

A dimension is uncertain when that probability is between ``1 - threshold`` and
``threshold``. For each set of uncertain dimensions there is one route: up to four statements
chosen greedily on the calibration data to shrink the conditional variance of those
dimensions the most (a normal model's conditional variance does not depend on the answers
given, so the route depends only on which dimensions are uncertain). One more route, "check",
asks the statements the answers before them predict best: consistency statements, asked of a
settled result whose answers look as if they might be careless (``quizapp.ml`` decides when,
and judges the answers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from .engine import Matrix
from .instrument import Instrument
from .patterns import QUADRANTS

DIMENSIONS = ("anxiety", "avoidance")
FILE = "followup.json"  # in the models folder
FOLLOW_UP_ITEMS = 4
_NORMAL = NormalDist()


@dataclass(frozen=True)
class FullEstimate:
    """The full form's two scale scores estimated from the answered statements."""

    point: tuple[float, float]
    sd: tuple[float, float]
    above: tuple[float, float]  # P(score above the full form's cut-off), per dimension
    closest: str
    probability: float
    probabilities: dict[str, float]

    def near_boundary(self) -> tuple[str, ...]:
        """The dimensions whose 90% interval contains the cut-off."""
        return self.uncertain(0.95)

    def uncertain(self, threshold: float) -> tuple[str, ...]:
        return tuple(d for d, p in zip(DIMENSIONS, self.above, strict=True)
                     if max(p, 1.0 - p) < threshold)  # fmt: skip


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity: it holds arrays
class FollowUpModel:
    version: str
    items: tuple[str, ...]  # the full form's item ids, the order of ``mean`` and ``cov``
    mean: Matrix
    cov: Matrix
    weights: Matrix  # 2 x items: each full-form scale score as a weighted sum of keyed answers
    cutoffs: tuple[float, float]
    threshold: float
    routes: Mapping[str, tuple[str, ...]]  # "anxiety", "avoidance", "both", "check" -> ids
    stand_ins: Mapping[str, str] = field(default_factory=dict)  # quick item -> full item
    bank: str = "full"  # the instrument whose statements ``items`` are

    def estimate(self, keyed: Mapping[str, float]) -> FullEstimate:
        """From keyed answers by item id (quick-form ids stand in for their full-form twins)."""
        answered = {self.stand_ins.get(k, k): v for k, v in keyed.items()}
        index = self._index
        chosen = tuple(sorted(index[k] for k in answered if k in index))
        gain, variance = _conditional(self, chosen)
        values = np.array([answered[self.items[i]] for i in chosen], dtype=float)
        point = self.weights @ self.mean + gain @ (values - self.mean[list(chosen)])
        sd = np.sqrt(np.maximum(variance, 1e-12))
        above = [1.0 - _NORMAL.cdf((c - p) / s) for c, p, s in zip(self.cutoffs, point, sd,
                                                                       strict=True)]  # fmt: skip
        probabilities = {
            name: (above[0] if high_anx else 1 - above[0])
            * (above[1] if high_avo else 1 - above[1])
            for (high_anx, high_avo), name in QUADRANTS.items()
        }
        closest = max(probabilities, key=lambda name: probabilities[name])
        return FullEstimate((float(point[0]), float(point[1])), (float(sd[0]), float(sd[1])),
                            (above[0], above[1]), closest, probabilities[closest],
                            probabilities)  # fmt: skip

    @cached_property
    def _index(self) -> dict[str, int]:
        return {item: i for i, item in enumerate(self.items)}

    def route(self, estimate: FullEstimate) -> tuple[str, ...]:
        """The follow-up statements for this estimate: none when both dimensions are settled."""
        uncertain = estimate.uncertain(self.threshold)
        if not uncertain:
            return ()
        return self.routes["both" if len(uncertain) == 2 else uncertain[0]]


@lru_cache(maxsize=64)
def _conditional(model: FollowUpModel, chosen: tuple[int, ...]) -> tuple[Matrix, Matrix]:
    """The gain (2 x answered) and the conditional variances (2) of the scale scores."""
    within = model.cov[np.ix_(chosen, chosen)]
    across = model.cov[:, chosen]
    solved = np.linalg.solve(within, across.T).T  # items x answered
    gain = model.weights @ solved
    residual = model.cov - solved @ model.cov[list(chosen), :]
    variance = np.einsum("di,ij,dj->d", model.weights, residual, model.weights)
    return gain, variance


def scale_weights(full: Instrument) -> Matrix:
    weights = np.zeros((len(DIMENSIONS), len(full.items)))
    for d, dimension in enumerate(DIMENSIONS):
        columns = full.columns(dimension)
        weights[d, columns] = 1.0 / len(columns)
    return weights


def stand_ins(quick: Instrument, full: Instrument) -> dict[str, str]:
    """Each quick-form item's full-form twin: the statement that restates the same ECR item."""
    by_source = {item.source.item: item.id for item in full.items if item.source is not None}
    return {item.id: by_source[item.source.item] for item in quick.items
            if item.source is not None and item.source.item in by_source}  # fmt: skip


def fit(
    quick: Instrument, full: Instrument, keyed_full: Matrix, *, threshold: float, version: str
) -> FollowUpModel:
    """Fit the normal model on keyed full-form answers (rows that answer every item) and
    choose each route greedily."""
    weights = scale_weights(full)
    assert full.norms is not None
    cutoffs = tuple(float(full.norms.scales[d].cutoff or 0.0) for d in DIMENSIONS)
    model = FollowUpModel(
        version=version, items=full.item_ids, mean=keyed_full.mean(axis=0),
        cov=np.cov(keyed_full.T), weights=weights, cutoffs=(cutoffs[0], cutoffs[1]),
        threshold=threshold, routes={}, stand_ins=stand_ins(quick, full), bank=full.id,
    )  # fmt: skip
    base = [model.items.index(v) for v in model.stand_ins.values()]
    targets = {"anxiety": np.array([1.0, 0.0]), "avoidance": np.array([0.0, 1.0]),
               "both": np.array([1.0, 1.0])}  # fmt: skip
    routes = {name: _greedy(model, base, target) for name, target in targets.items()}
    return replace(model, routes=routes | {"check": _consistency(model, base)})


def _consistency(model: FollowUpModel, base: list[int]) -> tuple[str, ...]:
    """The statements whose answers the answers before them predict best (the largest share
    of their variance explained, chosen one by one): a careful person's answers to them fit
    the rest, a careless person's do not."""
    chosen, cov = list(base), model.cov
    for _ in range(FOLLOW_UP_ITEMS):
        solved = np.linalg.solve(cov[np.ix_(chosen, chosen)], cov[chosen, :])  # answered x items
        explained = np.einsum("ij,ij->j", cov[chosen, :], solved) / np.diag(cov)
        explained[chosen] = -np.inf
        chosen.append(int(np.argmax(explained)))
    return tuple(model.items[j] for j in chosen[len(base) :])


def _greedy(model: FollowUpModel, base: list[int], target: Matrix) -> tuple[str, ...]:
    chosen = list(base)
    for _ in range(FOLLOW_UP_ITEMS):
        candidates = [j for j in range(len(model.items)) if j not in chosen]
        best = min(candidates, key=lambda j: float(
            target @ _conditional(model, tuple(sorted([*chosen, j])))[1]))  # fmt: skip
        chosen.append(best)
    return tuple(model.items[j] for j in chosen[len(base) :])


def to_json(
    model: FollowUpModel, *, quick: Instrument, full: Instrument, data_sha256: str, n: int
) -> dict[str, Any]:
    return {
        "schema_version": 1, "version": model.version,
        "instrument": {"id": quick.id, "version": quick.version},
        "bank": {"id": full.id, "version": full.version}, "items": list(model.items),
        "mean": [round(float(x), 9) for x in model.mean],
        "cov": [[round(float(x), 9) for x in row] for row in model.cov],
        "weights": model.weights.tolist(), "cutoffs": list(model.cutoffs),
        "threshold": model.threshold, "routes": {k: list(v) for k, v in model.routes.items()},
        "stand_ins": dict(model.stand_ins), "data_sha256": data_sha256, "n": n,
        "generated_by": "quizapp model followup",
    }  # fmt: skip


def load(folder: Path, quick: Instrument, full: Instrument) -> FollowUpModel | None:
    """The follow-up model in ``folder`` for these versions of the quick and the full form,
    or None when there is none (the quick form is then asked alone)."""
    path = folder / FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if raw["instrument"] != {"id": quick.id, "version": quick.version} or raw["bank"] != {
        "id": full.id,
        "version": full.version,
    }:
        return None
    if list(raw["items"]) != list(full.item_ids):
        raise ValueError(f"{path}: its statements are not the full form's")
    return FollowUpModel(
        version=raw["version"], items=tuple(raw["items"]), mean=np.array(raw["mean"]),
        cov=np.array(raw["cov"]), weights=np.array(raw["weights"]),
        cutoffs=(raw["cutoffs"][0], raw["cutoffs"][1]), threshold=raw["threshold"],
        routes={k: tuple(v) for k, v in raw["routes"].items()}, stand_ins=raw["stand_ins"],
        bank=full.id,
    )  # fmt: skip
