"""The timing loop and the summary line every benchmark here prints (median and p95)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Wall-clock seconds of ``n`` calls of ``fn``."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(label: str, times: list[float], unit: str = "s", width: int = 44) -> float:
    """Print the median and p95 of ``times`` (seconds) in ``unit``; return the median."""
    scale = 1000.0 if unit == "ms" else 1.0
    median = statistics.median(times)
    print(f"{label:<{width}} median {median * scale:8.3f} {unit}"
          f"   p95 {p95(times) * scale:8.3f} {unit}   (n={len(times)})")  # fmt: skip
    return median
