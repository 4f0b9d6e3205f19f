"""One error type for data files: it carries every problem found, not just the first."""

from __future__ import annotations

from collections.abc import Iterable


class ProblemsError(ValueError):
    """A data file (instrument, norms, content, rules) is invalid; ``problems`` lists all."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{listing}")


def duplicate_ids(kind: str, ids: Iterable[str]) -> list[str]:
    """A problem for every id that appears more than once in ``ids``."""
    seen: set[str] = set()
    problems = []
    for i in ids:
        if i in seen:
            problems.append(f"{kind}: id {i!r} is used twice")
        seen.add(i)
    return problems
