"""``quizapp model train`` and ``quizapp model evaluate``: the scikit-learn layer's lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from . import settings
from .items import calibration_path


def _dirs() -> dict[str, Path]:
    configured = settings()
    return {
        "items": Path(configured["ITEMS_DIR"]),
        "content": Path(configured["CONTENT_DIR"]),
        "rules": Path(configured["RULES_FILE"]),
        "models": Path(configured["MODELS_DIR"]),
    }


def _print_metrics(name: str, metrics: dict[str, Any]) -> None:
    from ..ml.evaluation import verdicts

    click.echo(f"{name}:")
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        click.echo(f"  {key:<36} {shown}")
    for target, met in verdicts(metrics).items():
        click.echo(f"  target {target:<44} {'met' if met else 'NOT MET'}")


@click.group()
def model() -> None:
    """Train and evaluate the scikit-learn layer (models/)."""


@model.command("train")
@click.option("--data", type=click.Path(path_type=Path), help="ECR calibration CSV.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the artifacts.")
def train(data: Path | None, out: Path | None) -> None:
    """Fit every estimator on the training part of the calibration data; save with skops."""
    from ..interpret.loading import load_interpreter
    from ..ml.evaluation import evaluate
    from ..ml.training import features, fit_bundle, save_bundle, split_rows
    from ..scoring.calibration import read_ecr
    from ..scoring.instrument import load_bank, load_instrument

    dirs = _dirs()
    ecr = read_ecr(calibration_path(data))
    bank = load_bank(dirs["items"])
    reference = load_instrument(dirs["items"] / "reference" / "ecr.toml")
    interpreter = load_interpreter(dirs["content"], dirs["rules"], bank)
    split = split_rows(ecr)
    for instrument in bank.values():
        bundle = fit_bundle(instrument, reference, split.train)
        test = features(instrument, reference, split.test)
        metrics = evaluate(instrument, bank["full"], bundle, test, interpreter.rules)
        card = save_bundle(bundle, instrument, out or dirs["models"], data_sha256=ecr.sha256,
                           n_train=len(split.train), metrics=metrics)  # fmt: skip
        click.echo(f"{instrument.id}: trained on {len(split.train)} rows -> {card}")
        _print_metrics(instrument.id, metrics)


@model.command("evaluate")
@click.option("--data", type=click.Path(path_type=Path),
              help="A CSV in the calibration format to evaluate on, all of it (default: the "
                   "held-out part of the calibration data).")  # fmt: skip
def evaluate_command(data: Path | None) -> None:
    """Print the metrics of the shipped models on rows training never saw, with the targets."""
    from ..interpret.loading import load_interpreter
    from ..ml.evaluation import evaluate
    from ..ml.training import features, load_bundle, split_rows
    from ..scoring.calibration import read_ecr
    from ..scoring.instrument import load_bank, load_instrument

    dirs = _dirs()
    bank = load_bank(dirs["items"])
    reference = load_instrument(dirs["items"] / "reference" / "ecr.toml")
    interpreter = load_interpreter(dirs["content"], dirs["rules"], bank)
    if data is not None:
        rows = read_ecr(data).complete
        click.echo(f"evaluating on all {len(rows)} complete rows of {data}")
    else:
        rows = split_rows(read_ecr(calibration_path(None))).test
        click.echo(f"evaluating on the {len(rows)} held-out calibration rows")
    for instrument in bank.values():
        loaded = load_bundle(dirs["models"], instrument)
        if loaded is None:
            raise click.ClickException(f"no trained models for {instrument.id}; run model train")
        test = features(instrument, reference, rows)
        metrics = evaluate(instrument, bank["full"], loaded.estimators, test, interpreter.rules)
        _print_metrics(f"{instrument.id} ({loaded.version})", metrics)


@model.command("compile")
def compile_command() -> None:
    """Write each instrument's models as arrays for the service (models/<id>.npz)."""
    from ..ml.training import recompile
    from ..scoring.instrument import load_bank

    dirs = _dirs()
    for instrument in load_bank(dirs["items"]).values():
        card = recompile(dirs["models"], instrument)
        if card is None:
            raise click.ClickException(f"no trained models for {instrument.id}; run model train")
        click.echo(f"{instrument.id}: arrays written, recorded in {card}")
