"""Client data for the clinic's records: scores as CSV and FHIR R4 JSON (read-only).

The caller checked that the clients are the therapist's own and writes the audit line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..scoring.engine import ScoreReport
from ..scoring.instrument import Instrument
from ..storage.tables import Client, Submission, aware
from . import fhir

SCALES = ("anxiety", "avoidance")
# The stored scores of administrations, by id (None where the instrument version is gone).
ReportsOf = Callable[[list[Submission]], Mapping[int, ScoreReport | None]]


def all_clients(session: Session, therapist_id: int) -> list[tuple[int, str]]:
    """(id, label) of every client of the therapist, oldest first."""
    rows = session.execute(
        select(Client.id, Client.label)
        .where(Client.therapist_id == therapist_id)
        .order_by(Client.id)
    ).all()
    return [(row.id, row.label) for row in rows]


def _rows(
    session: Session, clients: list[tuple[int, str]], reports_of: ReportsOf
) -> Iterator[tuple[int, str, Submission, ScoreReport | None]]:
    """Every administration of these (client id, label) pairs with its stored scores, client
    by client, oldest first."""
    ids = dict(clients)
    for start in range(0, len(clients), 500):
        chunk = [cid for cid, _ in clients[start : start + 500]]
        found = list(session.scalars(
            select(Submission)
            .where(Submission.client_id.in_(chunk))
            .order_by(Submission.client_id, Submission.finished_at)
        ))  # fmt: skip
        reports = reports_of(found)
        for s in found:
            assert s.client_id is not None
            yield s.client_id, ids[s.client_id], s, reports.get(s.id)


def _safe(text: str) -> str:
    """Keep a spreadsheet from reading a label as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def scores_csv(session: Session, clients: list[tuple[int, str]], reports_of: ReportsOf) -> str:
    """One row per administration: client, when, instrument, and each scale's score, SEM,
    90% band and percentile (blank where the instrument version is no longer scored)."""
    header = ["client_id", "client_label", "result_id", "finished_at", "instrument",
              "instrument_version", "answered"]  # fmt: skip
    for scale in SCALES:
        header += [scale, f"{scale}_sem", f"{scale}_band_low", f"{scale}_band_high",
                   f"{scale}_percentile"]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for client_id, label, s, report in _rows(session, clients, reports_of):
        row: list[object] = [client_id, _safe(label), s.id, aware(s.finished_at).isoformat(),
                             s.instrument_id, s.instrument_version, len(s.answers)]  # fmt: skip
        scales = report.scales if report is not None else {}
        for scale in SCALES:
            sc = scales.get(scale)
            if sc is None or sc.score is None:
                row += ["", "", "", "", ""]
                continue
            band = sc.band or ("", "")
            row += [
                f"{sc.score:.3f}",
                "" if sc.sem is None else f"{sc.sem:.3f}",
                *(b if b == "" else f"{b:.3f}" for b in band),
                "" if sc.percentile is None else f"{sc.percentile:.1f}",
            ]
        writer.writerow(row)
    return out.getvalue()


def fhir_json(
    session: Session,
    clients: list[tuple[int, str]],
    reports_of: ReportsOf,
    bank: Mapping[str, Instrument],
    base_url: str,
) -> str:
    """A FHIR R4 Bundle of these clients' administrations (see :mod:`.fhir`), as JSON."""
    administrations: list[fhir.Administration] = [
        {
            "administration_id": s.id,
            "instrument_id": s.instrument_id,
            "instrument_version": s.instrument_version,
            "answers": s.answers,
            "finished_at": aware(s.finished_at),
            "client_id": client_id,
            "client_label": label,
            "report": report,
        }
        for client_id, label, s, report in _rows(session, clients, reports_of)
        if report is not None
    ]
    document = fhir.bundle(
        administrations, instruments=bank, base_url=base_url, timestamp=datetime.now(UTC)
    )
    return json.dumps(document, indent=1, ensure_ascii=False)
