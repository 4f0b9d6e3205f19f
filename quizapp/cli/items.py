"""``quizapp items validate | calibrate | shortform``: check and calibrate the instrument files.

These commands work without the app (which needs a valid bank to start).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import settings

NORMS_SOURCE = (
    "Open-Source Psychometrics Project ECR answers (2018-03-01 release, random 80%), "
    "each of our items taking the answer to the ECR item whose construct it restates"
)


def items_dir() -> Path:
    return Path(settings()["ITEMS_DIR"])


def calibration_path(data: Path | None) -> Path:
    """The ECR calibration CSV: ``--data``, else the ``QUIZAPP_CALIBRATION_CSV`` setting."""
    path = data or Path(settings()["CALIBRATION_CSV"])
    if not path.exists():
        raise click.ClickException(f"calibration data not found at {path} (use --data)")
    return path


@click.group()
def items() -> None:
    """Check and calibrate the questionnaire files."""


@items.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def items_validate(paths: tuple[Path, ...]) -> None:
    """Validate instrument files (default: every file in the items folder)."""
    from ..scoring.instrument import InstrumentError, load_bank, load_instrument

    try:
        if paths:
            found = [load_instrument(p) for p in paths]
        else:
            found = list(load_bank(items_dir()).values())
    except InstrumentError as exc:
        raise click.ClickException(str(exc)) from exc
    for instrument in found:
        click.echo(f"ok  {instrument.id} {instrument.version}: {len(instrument.items)} items, "
                   f"scales {', '.join(instrument.scales)}")  # fmt: skip


@items.command("calibrate")
@click.option("--data", type=click.Path(path_type=Path),
              help="ECR calibration CSV; with --instrument, a CSV of answers to that "
                   "instrument's own items (a column per item id).")  # fmt: skip
@click.option(
    "--instrument",
    "instrument_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Calibrate this instrument file (any response scale and key) on --data.",
)
@click.option("--missing", multiple=True, help="With --instrument: a code for unanswered.")
@click.option("--ignore", multiple=True, help="With --instrument: a column to skip.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="With --instrument: where to write the norms (default: the file its "
                   "'norms' key names, else norms/<id>.json beside it).")  # fmt: skip
def items_calibrate(
    data: Path | None,
    instrument_path: Path | None,
    missing: tuple[str, ...],
    ignore: tuple[str, ...],
    out: Path | None,
) -> None:
    """Derive norms files (mean, SD, alpha, cut-off, percentiles): of every instrument in the
    items folder from the ECR calibration data, or of one instrument from its own data."""
    import tomllib

    from ..scoring.calibration import derive_norms, read_ecr
    from ..scoring.instrument import parse_instrument

    if instrument_path is not None:
        _calibrate_own(instrument_path, data, missing, ignore, out)
        return
    ecr = read_ecr(calibration_path(data))
    for path in sorted(items_dir().glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        target = path.parent / raw.pop("norms", f"norms/{raw.get('id')}.json")
        instrument = parse_instrument(raw, base=path.parent, source=str(path))
        _write_norms(instrument.id, derive_norms(instrument, ecr, NORMS_SOURCE), target)


def _write_norms(name: str, norms: dict[str, Any], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(norms, indent=1) + "\n", encoding="utf-8")
    figures = ", ".join(
        f"{s} mean {v['mean']:.3f} sd {v['sd']:.3f} alpha {v['reliability']:.3f} "
        f"cut-off {v['cutoff']:.3f}"
        for s, v in norms["scales"].items()
    )
    click.echo(f"{name}: n={norms['n']}; {figures} -> {target}")


def own_answers(
    instrument: Any, data: Path, missing: tuple[str, ...], ignore: tuple[str, ...]
) -> tuple[Any, str]:
    """An operator's CSV of answers to ``instrument``'s own items (a column per item id), as
    a respondents x items matrix, and the file's SHA-256. Raises ``OSError`` or
    ``BatchError`` (line and column named)."""
    import hashlib

    from ..scoring import batch

    with data.open(encoding="utf-8-sig", newline="") as stream:
        answers = batch.read_batch(instrument, stream, missing=missing, ignore=ignore)
    return answers.responses, hashlib.sha256(data.read_bytes()).hexdigest()


def _calibrate_own(
    path: Path, data: Path | None, missing: tuple[str, ...], ignore: tuple[str, ...],
    out: Path | None,
) -> None:  # fmt: skip
    """Norms of one instrument file from answers to its own items (any scale, its own key)."""
    import tomllib

    from ..scoring import batch
    from ..scoring.calibration import norms_from_answers
    from ..scoring.instrument import InstrumentError, parse_instrument

    if data is None:
        raise click.UsageError("--instrument needs --data: a CSV of answers to its items")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    # the norms are what this makes: the file the instrument names need not exist yet
    target = out or path.parent / raw.pop("norms", f"norms/{raw.get('id')}.json")
    try:
        instrument = parse_instrument(raw, base=path.parent, source=str(path))
        answers, sha256 = own_answers(instrument, data, missing, ignore)
        norms = norms_from_answers(instrument, answers, data_sha256=sha256,
                                   source=f"{data.name} (the operator's own data)")  # fmt: skip
    except (OSError, InstrumentError, batch.BatchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _write_norms(instrument.id, norms, target)


@items.command("shortform")
@click.option("--data", type=click.Path(path_type=Path), help="ECR calibration CSV.")
def items_shortform(data: Path | None) -> None:
    """Re-run the quick-form item choice and print the figures items/README.md quotes."""
    import tomllib

    from ..scoring.calibration import (
        read_ecr,
        responses_from_ecr,
        select_short_form,
        short_form_figures,
    )
    from ..scoring.engine import scale_scores
    from ..scoring.instrument import Item, Source, load_instrument

    ecr = read_ecr(calibration_path(data))
    folder = items_dir()
    full = load_instrument(folder / "full.toml")
    reference = load_instrument(folder / "reference" / "ecr.toml")
    pool_raw = tomllib.loads((folder / "reference" / "shortform-pool.toml").read_text())
    pool = [
        Item(
            r["id"], r["scale"], r["reverse"], r["text"], tuple(r["themes"]), Source(**r["source"])
        )
        for r in pool_raw["items"]
    ]
    rows = ecr.complete
    full_scales = scale_scores(reference, responses_from_ecr(reference, rows)).means
    for scale in ("anxiety", "avoidance"):
        candidates = [i for i in full.items if i.scale == scale] + [
            i for i in pool if i.scale == scale
        ]
        chosen, r = select_short_form(candidates, full_scales[scale], rows)
        click.echo(f"{scale}: r = {r:.3f} with the 18-item scale; chosen "
                   + ", ".join(f"{c.id}{'(R)' if c.reverse else ''}" for c in chosen))  # fmt: skip
    quick = load_instrument(folder / "quick.toml")
    fig = short_form_figures(quick, reference, ecr)
    click.echo(f"quick form on {fig.n} complete rows:")
    for scale in quick.scales:
        click.echo(f"  {scale}: alpha {fig.alpha[scale]:.3f}, "
                   f"r with the full 18-item scale {fig.correlation[scale]:.3f}")  # fmt: skip
    click.echo(f"  quadrant agreement with the full ECR: {fig.quadrant_agreement:.1%} "
               f"(Cohen's kappa {fig.kappa:.3f})")  # fmt: skip
