"""Everything the service says about one submission, computed the same way for the results
page, the PDF report and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Flask

from .interpret.interpretation import Interpretation, ModelOutputs, interpret
from .ml.predict import model_outputs
from .scoring.engine import ScoreReport, score
from .scoring.instrument import Instrument


class OutdatedInstrument(LookupError):
    """The submission was made with an instrument version this site no longer has."""


@dataclass(frozen=True)
class Analysis:
    instrument: Instrument
    answers: Mapping[str, int]
    report: ScoreReport
    interpretation: Interpretation
    outputs: ModelOutputs
    finished_at: datetime


def analyse(
    app: Flask,
    instrument_id: str,
    version: str,
    answers: Mapping[str, int],
    *,
    started_at: datetime | None = None,
    finished_at: datetime,
) -> Analysis:
    instrument = app.extensions["instruments"].get(instrument_id)
    if instrument is None or instrument.version != version:
        raise OutdatedInstrument(f"{instrument_id} {version}")
    report = score(instrument, answers)
    interpreter = app.extensions["interpreter"]
    outputs = model_outputs(
        app.extensions["models"].get(instrument.id), instrument, answers, report
    )
    seconds = (finished_at - started_at).total_seconds() if started_at is not None else None
    interpretation = interpret(
        instrument, answers, report, interpreter.content, interpreter.rules, outputs,
        seconds=seconds,
    )  # fmt: skip
    return Analysis(instrument, answers, report, interpretation, outputs, finished_at)
