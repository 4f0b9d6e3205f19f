"""The PDF report: what it says to whom, its links, metadata and page sizes, a picture of every
page, and that nothing a user can influence makes WeasyPrint load anything but the templates.

Two clearly different people (anxious, avoidant) come from the shipped items, content, rules
and models via quizapp.reports.sample. Text is compared normalised (see norm), because lines
wrap differently on A4 and Letter.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pytest
from PIL import Image
from pypdf import PdfReader

from quizapp.interpret.content import ContentError
from quizapp.interpret.interpretation import interpret
from quizapp.ml.predict import model_outputs
from quizapp.pipeline.sample import BASE_URL, RECEIPTS, sample_data, sample_inputs, shipped
from quizapp.reports.data import check_base_url, report_data
from quizapp.reports.options import TEMPLATES_DIR, template_version
from quizapp.reports.render import (
    FetchRefused,
    SafeFetcher,
    html_to_pdf,
    render_html,
    render_pdf,
)
from quizapp.reports.therapist_content import load_therapist_content
from quizapp.scoring.engine import score

REPO = Path(__file__).resolve().parents[2]
PASSWD = b"root:x:0:0"  # first line of /etc/passwd on Debian
OUTSIDE = REPO / "pyproject.toml"  # a readable file outside the templates folder
OUTSIDE_LINE = 'build-backend = "setuptools.build_meta"'
APPROACH_IDS = [
    "collaborative-pacing-contract", "graded-vulnerability", "somatic-regulation",
    "mindfulness", "narrative-re-authoring", "attachment-psychoeducation",
]  # fmt: skip


def norm(text: str) -> str:
    """Whitespace collapsed, and no break after a hyphen (lines may wrap at one)."""
    return re.sub(r"(?<=\w-) ", "", " ".join(text.split()))


@dataclass(frozen=True)
class Rendered:
    data: dict[str, Any]
    pdf: bytes
    reader: PdfReader
    text: str


def rendered(data: dict[str, Any], kind: str, page_size: str = "A4") -> Rendered:
    pdf = render_pdf(data, kind, page_size)
    reader = PdfReader(BytesIO(pdf))
    return Rendered(data, pdf, reader, norm(" ".join(p.extract_text() for p in reader.pages)))


@pytest.fixture(scope="module")
def client() -> dict[str, Rendered]:
    return {p: rendered(sample_data(p, "client"), "client") for p in ("anxious", "avoidant")}


@pytest.fixture(scope="module")
def therapist() -> Rendered:
    return rendered(sample_data("avoidant", "therapist"), "therapist")


@pytest.fixture(scope="module")
def letter() -> Rendered:
    """The anxious client report on US Letter, for a service at another address."""
    data = sample_data("anxious", "client", base_url="https://clinic.example.net/sb/")
    return rendered(data, "client", "Letter")


def links(reader: PdfReader) -> tuple[list[str], list[str]]:
    """(external URIs, internal destination names) of every link annotation, in page order."""
    external, internal = [], []
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            obj = annot.get_object()
            action = obj.get("/A")
            if action is not None and action.get("/S") == "/URI":
                external.append(str(action["/URI"]))
            elif obj.get("/Dest") is not None:
                internal.append(str(obj["/Dest"]))
    return external, internal


# --- What the client report says ----------------------------------------------------------


@pytest.mark.parametrize("pattern", ["anxious", "avoidant"])
def test_client_report_is_about_this_person(client: dict[str, Rendered], pattern: str) -> None:
    r = client[pattern]
    data, text = r.data, r.text
    for scale in data["scales"]:
        assert f"{scale['label']} {scale['score']:.2f}" in text
        assert f"Likely range {scale['band'][0]:.2f} to {scale['band'][1]:.2f}" in text
        assert f"{scale['full_estimate']['score']:.2f}" in text
    assert data["triggers"], f"the {pattern} sample should have triggers"
    for finding in data["triggers"] + data["strengths"]:
        assert norm(finding["title"]) in text
    assert norm(data["triggers"][0]["evidence"][0]["sentence"]) in text
    assert norm(data["steps"][0]["title"]) in text
    assert norm(data["steps"][0]["actions"][0]) in text
    assert f"closest to {data['pattern']['label'].lower()}" in text
    assert RECEIPTS[pattern] in text
    assert "It is not a diagnosis" in text
    for contact in data["help"]["crisis_contacts"]:
        assert norm(contact) in text
    for advice in data["help"]["advice"]:
        assert norm(advice["title"]) in text


def test_two_answer_patterns_give_two_different_reports(client: dict[str, Rendered]) -> None:
    anxious, avoidant = client["anxious"].data, client["avoidant"].data
    level = {p: {s["id"]: s["score"] for s in client[p].data["scales"]} for p in client}
    assert level["anxious"]["anxiety"] > 4 > 2 > level["anxious"]["avoidance"]
    assert level["avoidant"]["avoidance"] > 4 > 2 > level["avoidant"]["anxiety"]
    assert anxious["steps"][0]["id"] != avoidant["steps"][0]["id"]
    assert {f["id"] for f in anxious["triggers"]}.isdisjoint(f["id"] for f in avoidant["triggers"])
    assert norm(avoidant["triggers"][0]["title"]) not in client["anxious"].text
    assert RECEIPTS["avoidant"] not in client["anxious"].text


def test_steps_link_to_the_service_and_to_their_sections(client: dict[str, Rendered]) -> None:
    r = client["anxious"]
    external, internal = links(r.reader)
    steps = r.data["steps"]
    assert external == [f"{BASE_URL}/steps/{s['id']}" for s in steps]
    assert {f"step-{s['id']}" for s in steps} <= set(internal)
    assert {"scores", "stands-out", "steps", "strategies", "help", "reading"} <= set(internal)
    assert set(internal) <= set(r.reader.named_destinations)


def test_links_use_the_configured_base_url(letter: Rendered) -> None:
    external, _ = links(letter.reader)
    assert external == [
        f"https://clinic.example.net/sb/steps/{s['id']}" for s in letter.data["steps"]
    ]


def test_pdf_metadata_and_tags(client: dict[str, Rendered]) -> None:
    reader = client["anxious"].reader
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Your Secure Base report, 24 November 2026"
    assert meta.author == "Secure Base"
    assert meta.subject is not None and "Not a diagnosis" in meta.subject
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])


def test_a4_and_letter_page_sizes(client: dict[str, Rendered], letter: Rendered) -> None:
    def sizes(reader: PdfReader) -> set[tuple[int, int]]:
        return {
            (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages
        }

    assert sizes(client["anxious"].reader) == {(595, 842)}
    assert sizes(letter.reader) == {(612, 792)}
    assert norm(letter.data["steps"][0]["title"]) in letter.text


def test_every_page_renders_to_a_picture(
    client: dict[str, Rendered], therapist: Rendered, tmp_path: Path
) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    for name, r in (("client", client["avoidant"]), ("therapist", therapist)):
        source = tmp_path / f"{name}.pdf"
        source.write_bytes(r.pdf)
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(source), str(tmp_path / name)],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        pictures = sorted(tmp_path.glob(f"{name}-*.png"))
        assert len(pictures) == len(r.reader.pages) >= 5
        for picture in pictures:
            with Image.open(picture) as image:
                gray = image.convert("L")
                inked = sum(gray.histogram()[:200])  # pixels clearly darker than paper
                assert inked > 0.005 * gray.width * gray.height, f"{picture.name} is blank"


# --- The therapist report -----------------------------------------------------------------


def test_therapist_report_lists_every_item_rule_and_the_model(therapist: Rendered) -> None:
    text, data = therapist.text, therapist.data
    for item in shipped().bank["quick"].items:
        assert norm(item.text) in text
    for row in data["items"]:
        assert row["label"] is not None and row["keyed"] is not None
        assert row["deviation"] is not None  # the models are shipped
    for rule in data["fired_rules"]:
        assert rule in text
    assert data["versions"]["model"] and data["versions"]["model"] in text
    assert RECEIPTS["avoidant"] in text
    for scale in data["scales"]:
        assert f"{scale['sem']:.2f}" in text
    for approach in data["approaches"]:
        assert norm(approach["title"]) in text
    assert "Audit appendix" in text and "Validity checks" in text


def test_approaches_put_the_best_fit_first() -> None:
    order = {p: sample_data(p, "therapist")["approaches"] for p in ("anxious", "avoidant")}
    assert [a["id"] for a in order["avoidant"]][:3] == [
        "collaborative-pacing-contract",
        "graded-vulnerability",
        "narrative-re-authoring",
    ]
    assert [a["id"] for a in order["anxious"]][:2] == ["somatic-regulation", "mindfulness"]
    assert order["anxious"][-1]["relevance"] == 0
    assert sorted(a["id"] for a in order["anxious"]) == sorted(APPROACH_IDS)


def test_audit_has_the_rules_behind_each_statement() -> None:
    data = sample_data("anxious", "therapist")
    audited = {row["statement"]: row for row in data["audit"]}
    for finding in data["triggers"]:
        assert audited[finding["title"]]["rules"] == finding["rules"]
        assert audited[finding["title"]]["model"] == data["versions"]["model"]
    for advice in data["help"]["advice"]:
        assert audited[advice["title"]]["rules"] == advice["rules"]
    assert {r["id"] for r in data["rule_notes"]} == set(data["fired_rules"])


# --- Plain data, content and templates ----------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


@pytest.mark.parametrize("kind", ["client", "therapist"])
def test_report_data_is_plain(kind: str) -> None:
    data = sample_data("anxious", kind)
    assert _plain(data)
    assert json.loads(json.dumps(data)) == data
    assert len(data["triggers"]) <= 3 if kind == "client" else "items" in data


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "//example.org", "example.org",
            'https://example.org/"><img src=x>', "https://example.org/a b",
            "https://example.org/?q=1", "ftp://example.org"])  # fmt: skip
def test_report_data_refuses_an_unsafe_base_url(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        sample_data("anxious", "client", base_url=url)


def test_base_url_loses_its_trailing_slash() -> None:
    assert check_base_url("https://example.org/sb/") == "https://example.org/sb"


def test_unknown_kind_size_and_missing_data_are_errors() -> None:
    data = sample_data("anxious", "client")
    with pytest.raises(ValueError, match="kind"):
        sample_data("anxious", "clinic")
    with pytest.raises(ValueError, match="kind"):
        render_html(data, "clinic")
    with pytest.raises(ValueError, match="page_size"):
        html_to_pdf("<p>x</p>", page_size="A5")
    with pytest.raises(jinja2.UndefinedError):
        render_html({k: v for k, v in data.items() if k != "help"}, "client")


def test_therapist_content_loads_the_six_approaches() -> None:
    content = load_therapist_content(REPO / "content" / "therapist.toml")
    assert content.version == "1.1.0"
    assert [a.id for a in content.approaches] == APPROACH_IDS
    assert all(2 <= len(a.in_session) <= 3 and a.when for a in content.approaches)
    # Every validity caution in the therapist's words, about the client.
    assert set(content.cautions) == {"same-answer", "contradictory", "random-pattern", "too-fast"}
    assert all(text.startswith("The client") for _title, text in content.cautions.values())


def test_a_caution_without_therapist_wording_stops_the_start(tmp_path: Path) -> None:
    from quizapp.config import defaults
    from quizapp.pipeline.pipeline import Pipeline

    source = (REPO / "content" / "therapist.toml").read_text()
    cut = tmp_path / "therapist.toml"
    cut.write_text(source[: source.index('[[cautions]]\nid = "too-fast"')])
    with pytest.raises(RuntimeError, match="no therapist wording for the cautions too-fast"):
        Pipeline.load(defaults(tmp_path) | {"THERAPIST_CONTENT": str(cut)})


def test_therapist_content_lists_every_problem(tmp_path: Path) -> None:
    broken = tmp_path / "therapist.toml"
    broken.write_text('schema_version = 1\nversion = "1"\n[[approaches]]\nid = "x-y"\ntitle = "T"\n'
                      'summary = "S"\nin_session = ["a"]\nwhen = ["sometimes"]\n')  # fmt: skip
    with pytest.raises(ContentError) as info:
        load_therapist_content(broken)
    problems = "\n".join(info.value.problems)
    assert "measure" in problems and "sometimes" in problems and "in_session" in problems
    text = (REPO / "content" / "therapist.toml").read_text()
    (tmp_path / "twice.toml").write_text(
        text.replace('id = "mindfulness"', 'id = "somatic-regulation"')
    )
    with pytest.raises(ContentError, match="used twice"):
        load_therapist_content(tmp_path / "twice.toml")


def test_template_version_follows_the_templates(tmp_path: Path) -> None:
    shipped_version = template_version()
    assert re.fullmatch(r"[0-9a-f]{12}", shipped_version)
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    assert template_version(copy) == shipped_version
    (copy / "report.css").write_text((copy / "report.css").read_text() + "\n/* changed */\n")
    assert template_version(copy) != shipped_version


# --- Security: the fetcher, and payloads in every field a user can influence ---------------


class RecordingFetcher(SafeFetcher):
    """A SafeFetcher that remembers every URL WeasyPrint asked for, and what happened."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[tuple[str, bool]] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        try:
            response = super().fetch(url, headers)
        except FetchRefused:
            self.calls.append((url, False))
            raise
        self.calls.append((url, True))
        return response


def _allowed(url: str) -> bool:
    return url.startswith("data:") or url.startswith(TEMPLATES_DIR.as_uri() + "/")


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: nothing may ever reach it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { background: red }")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def payloads(live: str) -> list[str]:
    return [
        "file:///etc/passwd",
        OUTSIDE.as_uri(),
        "http://127.0.0.1:9/x",
        "https://example.org/x.css",
        f"{live}/leak.css",
        f'<link rel="stylesheet" href="{live}/link.css">',
        '<link rel="attachment" href="file:///etc/passwd">',
        '<img src="file:///etc/passwd" alt="x">',
        f"<style>@import url({live}/import.css); @import url(file:///etc/passwd);</style>",
        '<svg><image href="file:///etc/passwd" width="9" height="9"/></svg>',
        '<a rel="attachment" href="file:///etc/passwd">attached</a>',
        f'<object data="{OUTSIDE.as_uri()}" type="text/plain"></object>',
        "<style>p { color: red }</style>",
        "</p><img src=file:///etc/passwd>",
        '"><img src="file:///etc/passwd">',
        "{{ 7 * 7 }} {% if true %}x{% endif %}",
    ]


def poisoned(
    payload: str | Sequence[str], kind: str, *, base_url: str = BASE_URL
) -> dict[str, Any]:
    """Report data with ``payload`` in every string a user or an operator can set: the receipt
    code and crisis contacts; the texts, labels, ids and versions of a custom instrument, its
    norms and licence; the titles and texts of custom content, therapist content and rules;
    and the version strings of the rules, content and models. Several payloads are dealt out
    to the fields in turn."""
    deal = itertools.cycle([payload] if isinstance(payload, str) else payload)

    def p() -> str:
        return next(deal)

    inputs = sample_inputs("anxious")
    inst = inputs["instrument"]
    assert inst.norms is not None
    inst = replace(
        inst, id=p(), version=p(), title=p(),
        items=tuple(replace(i, text=f"{p()} {i.text}") for i in inst.items),
        response_scale=replace(inst.response_scale,
                               labels=tuple(f"{p()} {x}" for x in inst.response_scale.labels)),
        scales={k: replace(s, label=p(), description=p()) for k, s in inst.scales.items()},
        themes={k: p() for k in inst.themes},
        licence=replace(inst.licence, name=p(), holder=p()), norms=replace(inst.norms, source=p()),
    )  # fmt: skip
    c = inputs["content"]
    c = replace(
        c, version=p(),
        triggers=tuple(replace(e, title=p(), description=p()) for e in c.triggers),
        strengths=tuple(replace(e, title=p(), description=p()) for e in c.strengths),
        steps=tuple(replace(s, title=p(), summary=p(), why=p(), actions=(p(), p(), p()))
                    for s in c.steps),
        strategies={k: replace(t, title=p(), text=p()) for k, t in c.strategies.items()},
        advice={k: replace(t, title=p(), text=p()) for k, t in c.advice.items()},
        approaches={k: replace(t, title=p(), text=p()) for k, t in c.approaches.items()},
        cautions={k: replace(t, title=p(), text=p()) for k, t in c.cautions.items()},
        signs=(p(),), disclaimer=p(), crisis=p(),
    )  # fmt: skip
    rules = shipped().interpreter.rules
    rules = replace(rules, version=p(), rules=tuple(replace(r, about=p()) for r in rules.rules))
    tc = inputs["therapist_content"]
    approaches = tuple(
        replace(a, title=p(), summary=p(), in_session=(p(), p()), measure=p())
        for a in tc.approaches
    )
    tc = replace(tc, version=p(), approaches=approaches)
    answers = inputs["answers"]
    report = score(inst, answers)
    outputs = model_outputs(shipped().models["quick"], inst, answers, report)
    outputs = replace(outputs, version=p())
    interp = interpret(inst, answers, report, c, rules, outputs, seconds=1.0)  # + a caution
    return report_data(
        inst, answers, report, interp, c, tc, receipt=p(), crisis_contacts=[p(), "Call 112"],
        finished_at=inputs["finished_at"], base_url=base_url, kind=kind, outputs=outputs,
    )  # fmt: skip


def _usable_base(payload: str) -> str:
    try:
        return check_base_url(payload)
    except ValueError:
        return BASE_URL


@pytest.mark.parametrize("kind", ["client", "therapist"])
def test_payloads_in_every_field_are_escaped(kind: str, listener: tuple[str, list[str]]) -> None:
    live, _ = listener
    for payload in payloads(live):
        data = poisoned(payload, kind, base_url=_usable_base(payload))
        html = render_html(data, kind)
        escaped = str(markupsafe.escape(payload))
        assert html.count(escaped) >= 10, payload
        if escaped != payload:
            assert payload not in html
        assert not re.search(r"<(img|link|object|style|image|script|iframe|embed|base)\b", html)
        assert 'rel="attachment"' not in html


@pytest.mark.parametrize("kind", ["client", "therapist"])
def test_payloads_in_every_field_fetch_nothing(kind: str, listener: tuple[str, list[str]]) -> None:
    live, seen = listener
    data = poisoned(payloads(live), kind, base_url=f"{live}/x.css")
    fetcher = RecordingFetcher(TEMPLATES_DIR)
    pdf = html_to_pdf(render_html(data, kind), url_fetcher=fetcher)
    assert all(_allowed(url) for url, _ in fetcher.calls), fetcher.calls
    assert seen == []
    text = norm(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages))
    assert PASSWD not in pdf and PASSWD.decode() not in text and OUTSIDE_LINE not in text
    assert b"/EmbeddedFile" not in pdf and b"/FileAttachment" not in pdf
    assert "file:///etc/passwd" in text  # the payload is shown as text, not followed


def test_unescaped_payloads_are_refused_by_the_fetcher(
    listener: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """If markup did get through, the fetcher is the last line: everything is refused."""
    live, seen = listener
    html = ('<!doctype html><html lang="en"><head><title>t</title></head><body><p>x</p>'
            + "".join(payloads(live)) + "</body></html>")  # fmt: skip
    fetcher = RecordingFetcher(TEMPLATES_DIR)
    pdf = html_to_pdf(html, url_fetcher=fetcher)
    asked = {url for url, _ in fetcher.calls}
    assert "file:///etc/passwd" in asked and f"{live}/link.css" in asked
    assert not any(ok for url, ok in fetcher.calls if not _allowed(url))
    assert seen == []
    assert PASSWD not in pdf and b"/EmbeddedFile" not in pdf
    assert "refused to fetch" in caplog.text


def test_safe_fetcher_serves_template_files_and_data_urls() -> None:
    fetcher = SafeFetcher(TEMPLATES_DIR)
    css = fetcher.fetch((TEMPLATES_DIR / "report.css").as_uri())
    assert css.content_type == "text/css"
    assert css.read() == (TEMPLATES_DIR / "report.css").read_bytes()
    font = fetcher.fetch((TEMPLATES_DIR / "fonts" / "DejaVuSans.ttf").as_uri())
    assert font.read()[:4] == b"\x00\x01\x00\x00"
    assert fetcher.fetch("data:text/plain;base64,aGVsbG8=").read() == b"hello"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        OUTSIDE.as_uri(),
        TEMPLATES_DIR.as_uri() + "/../pyproject.toml",
        TEMPLATES_DIR.as_uri() + "/fonts/../../pyproject.toml",
        TEMPLATES_DIR.as_uri() + "/%2e%2e/pyproject.toml",
        TEMPLATES_DIR.as_uri(),
        TEMPLATES_DIR.as_uri() + "/missing.css",
        "file://attacker.example.org/etc/passwd",
        "http://127.0.0.1:9/x",
        "https://example.org/x.css",
        "ftp://example.org/x",
        "gopher://example.org/x",
        "fonts/DejaVuSans.ttf",
    ],
)
def test_safe_fetcher_refuses_everything_else(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(FetchRefused):
        SafeFetcher(TEMPLATES_DIR).fetch(url)
    assert "refused to fetch" in caplog.text


def test_safe_fetcher_refuses_symlinks_out_of_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    (root / "ok.css").write_text("p { color: black }")
    (root / "passwd.css").symlink_to("/etc/passwd")
    (root / "up").symlink_to(REPO)
    fetcher = SafeFetcher(root)
    assert fetcher.fetch((root / "ok.css").as_uri()).read() == b"p { color: black }"
    for name in ("passwd.css", "up/pyproject.toml"):
        with pytest.raises(FetchRefused):
            fetcher.fetch(root.as_uri() + "/" + name)
