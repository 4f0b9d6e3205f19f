"""The loaded parts that turn answers into what the service says: one plain object.

A :class:`Pipeline` holds the instrument bank, the content and rules, the trained models and
the report settings, loaded and checked once. The web app, the renderer and the command line
all analyse and build report data through it, so they say the same thing, and none of them
needs a Flask app. Rendering a PDF is the renderer's (``renderer``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import __version__
from ..interpret.content import Content
from ..interpret.interpretation import Interpretation, ModelOutputs, interpret
from ..interpret.loading import Interpreter, load_interpreter
from ..ml.compiled import CompiledModels, load_compiled
from ..ml.predict import borderline, careless_with_follow_up, model_outputs
from ..reports.data import check_base_url, report_data
from ..reports.options import template_version
from ..reports.therapist_content import TherapistContent, load_therapist_content
from ..scoring.engine import ScoreReport, keyed_answers, score
from ..scoring.followup import FollowUpModel
from ..scoring.followup import load as load_follow_up
from ..scoring.instrument import Instrument, load_bank
from ..scoring.patterns import PatternEstimate


def _follow_ups(models_dir: Path, bank: Mapping[str, Instrument]) -> dict[str, FollowUpModel]:
    """The follow-up model of the quick form, when its file matches the bank's versions."""
    if "quick" not in bank or "full" not in bank:
        return {}
    model = load_follow_up(models_dir, bank["quick"], bank["full"])
    return {} if model is None else {"quick": model}


def limit_native_threads() -> None:
    """One native (OpenMP, BLAS) thread per process in the service: with several processes
    on few cores, pools of threads per process only wait on each other."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


class OutdatedInstrument(LookupError):
    """The submission was made with an instrument version this site no longer has."""


@dataclass(frozen=True)
class Analysis:
    """Everything the service says about one submission."""

    instrument: Instrument
    answers: Mapping[str, int]
    report: ScoreReport
    interpretation: Interpretation
    outputs: ModelOutputs
    finished_at: datetime
    content: Content  # the words it was computed with (an old result: its content version's)
    # The follow-up statements that would settle an uncertain result, or check borderline
    # answers (empty when neither, or when follow-up answers were given or declined)
    follow_up: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    """The instrument bank, content, rules, models and report settings, loaded once.

    Build it with :meth:`load` from a settings mapping (``quizapp.config.from_environment``
    or a Flask app's config); it refuses a broken file, an unknown default instrument or an
    unsafe base URL.
    """

    bank: Mapping[str, Instrument]
    interpreter: Interpreter
    models: Mapping[str, CompiledModels | None]
    therapist_content: TherapistContent
    base_url: str
    crisis_contacts: Sequence[str]
    templates_dir: Path
    default_instrument: str
    follow_ups: Mapping[str, FollowUpModel] = field(default_factory=dict)  # by instrument id

    @classmethod
    def load(cls, settings: Mapping[str, Any]) -> Pipeline:
        bank = load_bank(settings["ITEMS_DIR"])
        default = settings["DEFAULT_INSTRUMENT"]
        if default not in bank:
            raise RuntimeError(f"DEFAULT_INSTRUMENT {default!r} not in bank")
        models_dir = Path(settings["MODELS_DIR"])
        interpreter = load_interpreter(settings["CONTENT_DIR"], settings["RULES_FILE"], bank)
        therapist_content = load_therapist_content(settings["THERAPIST_CONTENT"])
        unsaid = sorted(set(interpreter.content.cautions) - set(therapist_content.cautions))
        if unsaid:  # else a therapist report would speak to the client ("you answered...")
            raise RuntimeError(f"{settings['THERAPIST_CONTENT']}: no therapist wording for "
                               f"the cautions {', '.join(unsaid)}")  # fmt: skip
        return cls(
            bank=bank,
            interpreter=interpreter,
            models={i.id: load_compiled(models_dir, i) for i in bank.values()},
            therapist_content=therapist_content,
            base_url=check_base_url(settings["BASE_URL"]),
            crisis_contacts=tuple(settings["CRISIS_CONTACTS"]),
            templates_dir=Path(settings["REPORT_TEMPLATES_DIR"]),
            default_instrument=default,
            follow_ups=_follow_ups(models_dir, bank),
        )

    def instrument(self, instrument_id: str, version: str | None = None) -> Instrument | None:
        """The loaded instrument with this id (and version, when given), or None."""
        found = self.bank.get(instrument_id)
        if found is None or (version is not None and found.version != version):
            return None
        return found

    def analyse(
        self,
        instrument_id: str,
        version: str,
        answers: Mapping[str, int],
        *,
        started_at: datetime | None = None,
        finished_at: datetime,
        follow_up: Mapping[str, int] | None = None,
    ) -> Analysis:
        """Score, run the models and the rules; raises :class:`OutdatedInstrument` for an
        instrument version this site no longer has and ``AnswerError`` for bad answers.

        With a follow-up model for the instrument, the closest pattern is the full form's,
        estimated from every answered statement (``follow_up``: answers to full-form
        statements, by id; None while none were asked or given), and the analysis says
        which statements would settle an uncertain result. Answers the random-answer
        detector finds borderline are checked: with follow-up answers, the consistency
        check judges them all together; without, and with a settled result, the follow-up
        asks consistency statements."""
        instrument = self.instrument(instrument_id, version)
        if instrument is None:
            raise OutdatedInstrument(f"{instrument_id} {version}")
        report = score(instrument, answers)
        models = self.models.get(instrument.id)
        outputs = model_outputs(models, instrument, answers, report)
        route: tuple[str, ...] = ()
        model = self.follow_ups.get(instrument.id)
        if model is not None and report.pattern is not None:
            report, route = self._estimated(model, instrument, answers, report, follow_up)
            if models is not None and borderline(models, model, instrument, answers):
                given = {k: v for k, v in (follow_up or {}).items() if k in model.items}
                if given:  # the follow-up's answers judged with the quick form's
                    careless = careless_with_follow_up(models, model, answers, given)
                    outputs = replace(outputs, random_pattern=careless)
                elif follow_up is None and not route:
                    route = model.routes.get("check", ())
        seconds = (finished_at - started_at).total_seconds() if started_at is not None else None
        interpretation = interpret(
            instrument, answers, report, self.interpreter.content, self.interpreter.rules,
            outputs, seconds=seconds,
        )  # fmt: skip
        content = self.interpreter.content
        return Analysis(instrument, answers, report, interpretation, outputs, finished_at, content,
                        route)  # fmt: skip

    def _estimated(
        self,
        model: FollowUpModel,
        instrument: Instrument,
        answers: Mapping[str, int],
        report: ScoreReport,
        follow_up: Mapping[str, int] | None,
    ) -> tuple[ScoreReport, tuple[str, ...]]:
        """The report with the full form's pattern estimated from every answer, and the
        statements to ask (none once follow-up answers were given or declined)."""
        full = self.bank[model.bank]
        keyed = keyed_answers(instrument, answers)
        given = {k: v for k, v in (follow_up or {}).items() if k in model.items}
        keyed |= keyed_answers(full, given)
        estimate = model.estimate(keyed)
        pattern = PatternEstimate(estimate.closest, estimate.probability, estimate.probabilities,
                                  estimate.near_boundary())  # fmt: skip
        route = model.route(estimate) if follow_up is None else ()
        return replace(report, pattern=pattern), route

    def report_data(
        self, analysis: Analysis, *, receipt: str | None, kind: str, client_label: str | None = None
    ) -> dict[str, Any]:
        """The plain data of one report (what the templates and the answer-level page show)."""
        return report_data(
            analysis.instrument,
            dict(analysis.answers),
            analysis.report,
            analysis.interpretation,
            analysis.content,
            self.therapist_content,
            receipt=receipt,
            finished_at=analysis.finished_at,
            base_url=self.base_url,
            crisis_contacts=list(self.crisis_contacts),
            kind=kind,
            outputs=analysis.outputs,
            client_label=client_label,
        )

    def follow_up_items(self, instrument_id: str) -> Mapping[str, Any]:
        """The full-form statements a follow-up of this instrument may ask, by id."""
        model = self.follow_ups.get(instrument_id)
        if model is None:
            return {}
        return {item.id: item for item in self.bank[model.bank].items}

    @cached_property
    def report_version(self) -> str:
        """What a stored PDF depends on: templates, WeasyPrint, content, rules, models, code.

        A change to any of them makes stored PDFs stale, and they are rendered again.
        """
        content, rules = self.interpreter.content, self.interpreter.rules
        models = sorted((k, m.version if m else "") for k, m in self.models.items())
        parts = [template_version(self.templates_dir), __version__, content.version,
                 rules.version, repr(models)]  # fmt: skip
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
