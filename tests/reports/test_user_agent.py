"""The reports' own HTML defaults (report_templates/user-agent.css) lay out exactly what
WeasyPrint's full defaults would: the same drawing on every page, the same links, bookmarks
and PDF/UA structure, for both reports and both sample people.

The comparison is on the decoded page content streams, so a difference of one glyph, colour
or position shows. A deliberately broken copy of the stylesheet proves the test can fail.
"""

from __future__ import annotations

import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from quizapp.pipeline.sample import sample_data
from quizapp.reports.render import TEMPLATES_DIR, USER_AGENT, html_to_pdf, render_html


def fingerprint(pdf: bytes) -> dict[str, Any]:
    """What a reader sees and uses: page drawings, link targets, bookmarks, structure tags."""
    reader = PdfReader(BytesIO(pdf))

    def outline(items: list[Any]) -> list[Any]:
        return [outline(i) if isinstance(i, list) else i.title for i in items]

    def links(page: Any) -> list[Any]:
        found = []
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A") or {}
            found.append((action.get("/S"), action.get("/URI"), str(action.get("/D"))))
        return found

    def tags(node: Any, out: list[str]) -> list[str]:
        node = node.get_object()
        if "/S" in node:
            out.append(str(node["/S"]))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids]:
            kid = kid.get_object() if hasattr(kid, "get_object") else kid
            if isinstance(kid, dict):
                tags(kid, out)
        return out

    return {
        "pages": [page.get_contents().get_data() for page in reader.pages],
        "links": [links(page) for page in reader.pages],
        "outline": outline(reader.outline),
        "structure": tags(reader.trailer["/Root"]["/StructTreeRoot"], []),
    }


@pytest.mark.parametrize("kind", ["client", "therapist"])
@pytest.mark.parametrize("pattern", ["anxious", "avoidant"])
def test_reports_are_laid_out_as_with_weasyprints_defaults(pattern: str, kind: str) -> None:
    html = render_html(sample_data(pattern, kind), kind)
    ours = fingerprint(html_to_pdf(html))
    theirs = fingerprint(html_to_pdf(html, weasyprint_defaults=True))
    assert len(ours["pages"]) == len(theirs["pages"])
    pairs = zip(ours["pages"], theirs["pages"], strict=True)
    for number, (mine, reference) in enumerate(pairs, start=1):
        assert mine == reference, f"page {number} is drawn differently"
    assert ours == theirs
    assert len(ours["structure"]) > 500 and ours["outline"] and any(ours["links"])


def test_a_missing_default_shows(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    stylesheet = folder / USER_AGENT
    rule = "b, strong, th { font-weight: bold }\n"
    assert rule in stylesheet.read_text()
    stylesheet.write_text(stylesheet.read_text().replace(rule, ""))
    html = render_html(sample_data("anxious", "therapist"), "therapist", templates_dir=folder)
    broken = fingerprint(html_to_pdf(html, templates_dir=folder))
    reference = fingerprint(html_to_pdf(html, templates_dir=folder, weasyprint_defaults=True))
    assert broken["pages"] != reference["pages"]
