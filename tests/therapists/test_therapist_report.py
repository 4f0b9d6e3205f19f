"""The therapist PDF (issue 14, finding 6): it names the client by their label (cover, title,
file name), its validity cautions speak about the client rather than to them, and no
probability reads "100%" or "0%". Before, the label was nowhere in it, the cover said "receipt
code: not given", the file was "...-result-7.pdf", a caution said "You answered very quickly",
and the closest pattern read "probability 100%", the others "0%"."""

from __future__ import annotations

import re

from flask import Flask

from quizapp.reports.formats import percent

from ..conftest import render_queued
from .journey import Therapist, add_client, administer, answers_for
from .test_invites import pdf_text

LABEL = "C-042 Ana Müller"


def test_percent_never_claims_certainty() -> None:
    shown = [percent(p) for p in (0.0, 0.004, 0.006, 0.734, 0.994, 0.996, 1.0)]
    assert shown == ["less than 1%", "less than 1%", "1%", "73%", "99%", "more than 99%",
                     "more than 99%"]  # fmt: skip


def test_the_therapist_pdf_is_about_the_named_client(app: Flask, therapist: Therapist) -> None:
    client = add_client(therapist, LABEL)
    # Very anxious, not avoidant, answered in no time with the same raw answer throughout:
    # one pattern all but certain, and the validity cautions fire.
    _, result = administer(therapist, client, answers_for("quick", 5, 1))
    path = f"/therapist/clients/{client}/results/{result}/report.pdf"
    assert therapist.web.get(path).status_code == 202
    assert render_queued(app) == 1
    response = therapist.web.get(path)
    assert response.status_code == 200
    finished = re.search(r"\d{4}-\d{2}-\d{2}", response.headers["Content-Disposition"])
    assert finished is not None
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="secure-base-C-042-Ana-M-ller-{finished.group(0)}.pdf"'
    )
    text = pdf_text(response.data)
    assert f"Therapist report: {LABEL}" in text and f"CLIENT {LABEL} COMPLETED" in text  # the cover
    assert "not given" not in text and "Receipt code" not in text
    assert "The client spent less than two seconds per statement" in text
    assert not re.search(r"\bYou (answered|gave|spent|agreed)\b", text), "speaks to the client"
    assert "more than 99%" in text and "less than 1%" in text
    assert not re.search(r"\b(100|0)%", text)
    page = therapist.web.get(f"/therapist/clients/{client}/results/{result}").get_data(as_text=True)
    assert "more than 99% given the measurement error" in page
