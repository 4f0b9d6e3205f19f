"""``quizapp model train`` and ``quizapp model evaluate``: the scikit-learn layer's lifecycle."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from . import settings
from .items import calibration_path, own_answers


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
@click.option("--data", type=click.Path(path_type=Path),
              help="ECR calibration CSV; with --instrument, a CSV of answers to that "
                   "instrument's own items (a column per item id).")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the artifacts.")
@click.option("--instrument", "instrument_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Train the models of this instrument file (any response scale and key; "
                   "scales anxiety and avoidance) on --data.")  # fmt: skip
@click.option("--missing", multiple=True, help="With --instrument: a code for unanswered.")
@click.option("--ignore", multiple=True, help="With --instrument: a column to skip.")
def train(
    data: Path | None,
    out: Path | None,
    instrument_path: Path | None,
    missing: tuple[str, ...],
    ignore: tuple[str, ...],
) -> None:
    """Fit every estimator on the training part of the calibration data (or of one
    instrument's own data); save with skops, with a model card and the service's arrays."""
    if instrument_path is not None:
        _train_own(instrument_path, data, out, missing, ignore)
        return
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
    follow_up = None
    if "quick" in bank and "full" in bank:
        from ..scoring.followup import load as load_follow_up

        model = load_follow_up(dirs["models"], bank["quick"], bank["full"])
        follow_up = None if model is None else (model, bank["full"])
    for instrument in bank.values():
        bundle = fit_bundle(instrument, reference, split.train,
                            follow_up=follow_up if instrument.id == "quick" else None)  # fmt: skip
        test = features(instrument, reference, split.test)
        metrics = evaluate(instrument, bank["full"], bundle, test, interpreter.rules)
        card = save_bundle(bundle, instrument, out or dirs["models"], data_sha256=ecr.sha256,
                           n_train=len(split.train), metrics=metrics)  # fmt: skip
        click.echo(f"{instrument.id}: trained on {len(split.train)} rows -> {card}")
        _print_metrics(instrument.id, metrics)


def _train_own(
    path: Path, data: Path | None, out: Path | None, missing: tuple[str, ...],
    ignore: tuple[str, ...],
) -> None:  # fmt: skip
    """The models of one instrument from answers to its own items: expected answers and the
    random-answer detector (no short form: there is no longer form to estimate)."""
    import numpy as np

    from ..interpret.loading import load_interpreter
    from ..ml.evaluation import evaluate
    from ..ml.training import fit_features, own_features, save_bundle, split_complete
    from ..scoring import batch
    from ..scoring.instrument import InstrumentError, load_bank, load_instrument

    if data is None:
        raise click.UsageError("--instrument needs --data: a CSV of answers to its items")
    dirs = _dirs()
    try:
        instrument = load_instrument(path)
        answers, sha256 = own_answers(instrument, data, missing, ignore)
        complete = answers[~np.isnan(answers).any(axis=1)]
        if len(complete) < 50:
            raise ValueError(f"{len(complete)} rows answer every item: too few to train on")
        split = split_complete(complete)
        bundle = fit_features(instrument, own_features(instrument, split.train), shortform=False)
    except (OSError, InstrumentError, batch.BatchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    interpreter = load_interpreter(dirs["content"], dirs["rules"], load_bank(dirs["items"]))
    metrics = evaluate(instrument, instrument, bundle, own_features(instrument, split.test),
                       interpreter.rules)  # fmt: skip
    card = save_bundle(bundle, instrument, out or dirs["models"],
                       data_sha256=sha256, n_train=len(split.train), metrics=metrics,
                       source=f"{data.name} (the operator's own data), random 80%",
                       rows="answered every item; a fixed-seed 80% of them (the rest "
                            "evaluates)")  # fmt: skip
    click.echo(f"{instrument.id}: trained on {len(split.train)} rows -> {card}")
    _print_metrics(instrument.id, metrics)


@model.command("evaluate")
@click.option("--data", type=click.Path(path_type=Path),
              help="A CSV in the calibration format to evaluate on, all of it (default: the "
                   "held-out part of the calibration data).")  # fmt: skip
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print only the visitor flow's figures, as one JSON object.",
)
@click.option("--seed", type=int, default=None,
              help="Seed of the simulated careless answers (default: the evaluation seed, "
                   "never the training one).")  # fmt: skip
def evaluate_command(data: Path | None, as_json: bool, seed: int | None) -> None:
    """The shipped models on rows training never saw: the quick visitor flow as the service
    runs it (pattern agreement, estimates, calibration, careless answers caught), and each
    estimator's metrics. Exits with 1 when a target is missed."""
    from ..interpret.loading import load_interpreter
    from ..ml.visitor import EVALUATION_SEED, evaluate_visits, missed_targets
    from ..scoring.calibration import read_ecr
    from ..scoring.instrument import load_bank, load_instrument

    dirs = _dirs()
    bank = load_bank(dirs["items"])
    reference = load_instrument(dirs["items"] / "reference" / "ecr.toml")
    interpreter = load_interpreter(dirs["content"], dirs["rules"], bank)
    if data is not None:
        if not data.exists():
            raise click.ClickException(f"{data}: no such file")
        rows = read_ecr(data).complete
        where = f"all {len(rows)} complete rows of {data}"
    else:
        from ..ml.training import split_rows

        rows = split_rows(read_ecr(calibration_path(None))).test
        where = f"the {len(rows)} held-out calibration rows"
    if len(rows) == 0:
        raise click.ClickException("no complete rows to evaluate on")
    from ..pipeline.pipeline import Pipeline

    configured = settings()
    pipeline = Pipeline.load({**configured, "BASE_URL": "https://evaluation.invalid"})
    figures = evaluate_visits(
        pipeline, bank["quick"], bank["full"], reference, rows,
        seed=EVALUATION_SEED if seed is None else seed,
    )  # fmt: skip
    missed = missed_targets(figures)
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))
    else:
        click.echo(f"evaluating on {where}")
        _print_estimators(bank, reference, interpreter, rows)
        click.echo("visitor flow, quick form (what the service shows):")
        for key, value in figures.items():
            if isinstance(value, dict):
                for name, inner in value.items():
                    click.echo(f"  {key + '.' + name:<44} {inner:.4f}")
            else:
                shown = f"{value:.4f}" if isinstance(value, float) else str(value)
                click.echo(f"  {key:<44} {shown}")
        for line in missed:
            click.echo(f"  target NOT MET: {line}")
    if missed:
        sys.exit(1)


def _print_estimators(bank: Any, reference: Any, interpreter: Any, rows: Any) -> None:
    """Each instrument's estimators (the scikit-learn bundles) on ``rows``, with their targets."""
    from ..ml.evaluation import evaluate
    from ..ml.training import features, load_bundle

    dirs = _dirs()
    for instrument in bank.values():
        loaded = load_bundle(dirs["models"], instrument)
        if loaded is None:
            raise click.ClickException(f"no trained models for {instrument.id}; run model train")
        test = features(instrument, reference, rows)
        metrics = evaluate(instrument, bank["full"], loaded.estimators, test, interpreter.rules)
        _print_metrics(f"{instrument.id} ({loaded.version})", metrics)


@model.command("followup")
@click.option("--data", type=click.Path(path_type=Path), help="ECR calibration CSV.")
@click.option("--threshold", type=click.FloatRange(0.5, 1.0), default=0.7, show_default=True,
              help="A dimension is uncertain, and a follow-up asked, while the chance that it "
                   "lies on the side shown is below this.")  # fmt: skip
def followup_command(data: Path | None, threshold: float) -> None:
    """Fit the follow-up model (models/followup.json) on the training part of the
    calibration data: the full form's answers as a multivariate normal, the statements
    that best settle an uncertain anxiety, avoidance, or both, and the consistency
    statements. Run model train after it: the quick form's consistency check is trained
    for this follow-up model."""
    from ..ml.training import split_rows
    from ..scoring import followup
    from ..scoring.calibration import read_ecr, responses_from_ecr
    from ..scoring.engine import keyed_matrix
    from ..scoring.instrument import load_bank

    dirs = _dirs()
    ecr = read_ecr(calibration_path(data))
    bank = load_bank(dirs["items"])
    quick, full = bank["quick"], bank["full"]
    train = split_rows(ecr).train
    keyed = keyed_matrix(full, responses_from_ecr(full, train))
    version = f"followup-{quick.version}-{full.version}-{ecr.sha256[:10]}"
    fitted = followup.fit(quick, full, keyed, threshold=threshold, version=version)
    path = dirs["models"] / followup.FILE
    document = followup.to_json(fitted, quick=quick, full=full, data_sha256=ecr.sha256,
                                n=len(train))  # fmt: skip
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    click.echo(f"follow-up model {version}: fitted on {len(train)} rows -> {path}")
    for name, statements in fitted.routes.items():
        click.echo(f"  {name}: ask {', '.join(statements)}")


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
