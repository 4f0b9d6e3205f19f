"""Benchmark of start-up: how long the command line and the domain take to import and run.

    .venv/bin/python benchmarks/startup.py [--runs 9] [--baseline REV]

Runs each command in a fresh interpreter ``--runs`` times, interleaved (every command once,
then again), and prints the median and p95 wall time next to ``python -c pass`` measured in
the same loop. ``--baseline REV`` also runs the same commands from a git revision (checked
out into a temporary worktree, same virtual environment), interleaved with this tree's, so a
before/after comparison shares one run. Target: ``quizapp --help`` and ``quizapp score
--help`` under 1.5 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import summary  # the timing loop all benchmarks share

REPO = Path(__file__).resolve().parents[1]
CLI = "import sys; from quizapp.cli import cli; sys.argv[0] = 'quizapp'; cli()"
COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": ["-c", "pass"],
    "quizapp --help": ["-c", CLI, "--help"],
    "quizapp score --help": ["-c", CLI, "score", "--help"],
    "quizapp score (1,000 rows, quick form)": ["-c", CLI, "score", "--instrument",
                                               "items/quick.toml", "{csv}"],
    "import quizapp.scoring.engine": ["-c", "import quizapp.scoring.engine"],
}  # fmt: skip


def write_answers(folder: Path) -> Path:
    """A CSV of 1,000 respondents' answers to the quick form's 12 statements."""
    path = folder / "answers.csv"
    header = [f"q{i:02d}" for i in range(1, 13)]
    rows = [",".join(str(1 + (r * 7 + i * 3) % 5) for i in range(12)) for r in range(1000)]
    path.write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    return path


def run_once(tree: Path, argv: list[str], csv: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "QUIZAPP_SECRET_KEY": "bench"}
    args = [sys.executable, *(a.replace("{csv}", str(csv)) for a in argv)]
    start = time.perf_counter()
    subprocess.run(args, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", help="a git revision to measure beside this tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": REPO}
        if args.baseline:
            old = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old),
                            args.baseline], check=True, capture_output=True)  # fmt: skip
            trees[args.baseline] = old
        csv = write_answers(Path(tmp))
        times: dict[tuple[str, str], list[float]] = {}
        try:
            for _ in range(args.runs):
                for label, argv in COMMANDS.items():
                    for name, tree in trees.items():
                        times.setdefault((label, name), []).append(run_once(tree, argv, csv))
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(trees[args.baseline])], check=False)  # fmt: skip
    base = {name: summary(f"[{name}] python -c pass", times[(next(iter(COMMANDS)), name)],
                          width=52) for name in trees}  # fmt: skip
    for label in list(COMMANDS)[1:]:
        for name in trees:
            median = summary(f"[{name}] {label}", times[(label, name)], width=52)
            print(f"{'':<52} {median / base[name]:.1f} x python -c pass")


if __name__ == "__main__":
    main()
