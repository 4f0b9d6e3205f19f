"""The ``quizapp`` command: Flask's CLI (run, routes, shell) plus db, items and score."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import click
from alembic.config import Config as AlembicConfig
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from .config import REPO_ROOT
from .database import alembic_config
from .scoring import batch
from .scoring.calibration import (
    derive_norms,
    read_ecr,
    responses_from_ecr,
    select_short_form,
    short_form_figures,
)
from .scoring.engine import scale_scores
from .scoring.instrument import InstrumentError, load_bank, load_instrument, parse_instrument

ITEMS_DIR = REPO_ROOT / "items"
DEFAULT_CALIBRATION = REPO_ROOT.parent / "shared" / "data" / "ecr" / "calibration.csv"
NORMS_SOURCE = (
    "Open-Source Psychometrics Project ECR answers (2018-03-01 release, random 80%), "
    "each of our items taking the answer to the ECR item whose construct it restates"
)


def _create_app() -> object:
    from . import create_app

    try:
        return create_app()
    except (InstrumentError, RuntimeError) as exc:
        raise click.ClickException(f"the service cannot start: {exc}") from exc


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli() -> None:
    """Secure Base: run the service and work with its questionnaires."""


def _register_model_commands() -> None:
    from .cli_model import model
    from .cli_report import report

    cli.add_command(model)
    cli.add_command(report)


# --- items ---------------------------------------------------------------------------------


@cli.group()
def items() -> None:
    """Check and calibrate the questionnaire files."""


@items.command("validate", with_appcontext=False)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def items_validate(paths: tuple[Path, ...]) -> None:
    """Validate instrument files (default: every file in the items folder)."""
    try:
        if paths:
            found = [load_instrument(p) for p in paths]
        else:
            found = list(load_bank(_items_dir()).values())
    except InstrumentError as exc:
        raise click.ClickException(str(exc)) from exc
    for instrument in found:
        click.echo(f"ok  {instrument.id} {instrument.version}: {len(instrument.items)} items, "
                   f"scales {', '.join(instrument.scales)}")  # fmt: skip


def _items_dir() -> Path:
    """The items folder; these commands work without the app, which needs a valid bank."""
    return Path(os.environ.get("QUIZAPP_ITEMS_DIR", ITEMS_DIR))


def _calibration_path(data: Path | None) -> Path:
    path = data or Path(os.environ.get("QUIZAPP_CALIBRATION_CSV", DEFAULT_CALIBRATION))
    if not path.exists():
        raise click.ClickException(f"calibration data not found at {path} (use --data)")
    return path


@items.command("calibrate", with_appcontext=False)
@click.option("--data", type=click.Path(path_type=Path), help="ECR calibration CSV.")
def items_calibrate(data: Path | None) -> None:
    """Derive each instrument's norms file (mean, SD, alpha, cut-off, percentiles)."""
    import tomllib

    ecr = read_ecr(_calibration_path(data))
    for path in sorted(_items_dir().glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        target = path.parent / raw.pop("norms", f"norms/{raw.get('id')}.json")
        instrument = parse_instrument(raw, base=path.parent, source=str(path))
        norms = derive_norms(instrument, ecr, NORMS_SOURCE)
        target.write_text(json.dumps(norms, indent=1) + "\n", encoding="utf-8")
        figures = ", ".join(
            f"{s} mean {v['mean']:.3f} sd {v['sd']:.3f} alpha {v['reliability']:.3f} "
            f"cut-off {v['cutoff']:.3f}"
            for s, v in norms["scales"].items()
        )
        click.echo(f"{instrument.id}: n={norms['n']}; {figures} -> {target}")


@items.command("shortform", with_appcontext=False)
@click.option("--data", type=click.Path(path_type=Path), help="ECR calibration CSV.")
def items_shortform(data: Path | None) -> None:
    """Re-run the quick-form item choice and print the figures items/README.md quotes."""
    import tomllib

    from .scoring.instrument import Item, Source

    ecr = read_ecr(_calibration_path(data))
    items_dir = _items_dir()
    full = load_instrument(items_dir / "full.toml")
    reference = load_instrument(items_dir / "reference" / "ecr.toml")
    pool_raw = tomllib.loads((items_dir / "reference" / "shortform-pool.toml").read_text())
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
    quick = load_instrument(items_dir / "quick.toml")
    fig = short_form_figures(quick, reference, ecr)
    click.echo(f"quick form on {fig.n} complete rows:")
    for scale in quick.scales:
        click.echo(f"  {scale}: alpha {fig.alpha[scale]:.3f}, "
                   f"r with the full 18-item scale {fig.correlation[scale]:.3f}")  # fmt: skip
    click.echo(f"  quadrant agreement with the full ECR: {fig.quadrant_agreement:.1%} "
               f"(Cohen's kappa {fig.kappa:.3f})")  # fmt: skip


# --- score ---------------------------------------------------------------------------------


@cli.command("score", with_appcontext=False)
@click.option("--instrument", "instrument_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Instrument file (TOML) whose item ids name the CSV columns.")  # fmt: skip
@click.argument("input_csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--id-column", help="Column holding respondent ids (default: row numbers).")
@click.option("--missing", multiple=True, help="A value that means unanswered (blank always does).")
@click.option("--ignore", multiple=True, help="A column to skip (repeat for several).")
@click.option("--summary", is_flag=True, help="Also print n, mean, SD, alpha per scale to stderr.")
def score_command(
    instrument_path: Path,
    input_csv: io.TextIOWrapper,
    id_column: str | None,
    missing: tuple[str, ...],
    ignore: tuple[str, ...],
    summary: bool,
) -> None:
    """Score a CSV of answers (a row per respondent, a column per item id) to stdout."""
    try:
        instrument = load_instrument(instrument_path)
        data = batch.read_batch(
            instrument, input_csv, id_column=id_column, missing=missing, ignore=ignore
        )
    except (InstrumentError, batch.BatchError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = io.StringIO()
    batch.write_scores(instrument, data, out, id_column or "row")
    sys.stdout.write(out.getvalue())
    if summary:
        sys.stderr.write(batch.summary_table(instrument, data))


# --- db ------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


def _alembic_config() -> AlembicConfig:
    return alembic_config(current_app.config["DATABASE_URL"])


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(_alembic_config(), revision)


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from alembic import command

    command.downgrade(_alembic_config(), revision)


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Show the database's migration revision."""
    from alembic import command

    command.current(_alembic_config())


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the difference between tables.py and the database."""
    from alembic import command

    command.revision(_alembic_config(), message=message, autogenerate=True)


_register_model_commands()
