"""Report data -> HTML (Jinja2) -> tagged PDF (WeasyPrint), fetching only the templates folder.

Two separate steps so the HTML can be checked (and escaped) on its own. The templates folder
comes from a parameter whose default is ``report_templates/`` at the repository root, never
the current directory.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import mimetypes
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
import weasyprint
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .formats import num, ordinal, percent
from .options import KINDS, PAGE_SIZES, TEMPLATES_DIR

log = logging.getLogger(__name__)

TEMPLATES = {kind: f"{kind}.html" for kind in KINDS}
STYLESHEET = "report.css"
USER_AGENT = "user-agent.css"


class FetchRefused(ValueError):
    """A URL the report may not load: anything but ``data:`` or a file in the templates."""


class SafeFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type information
    """WeasyPrint's URL fetcher, limited to ``data:`` URLs and files inside ``root``.

    A ``file:`` URL is resolved with ``os.path.realpath`` first, so neither ``..`` nor a
    symbolic link can lead outside the folder. No network scheme is served, no redirect is
    followed; every refusal is logged.
    """

    def __init__(self, root: str | Path, **kwargs: Any) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=5, **kwargs)
        self.root = os.path.realpath(root)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = self._local_path(url)
            if path is not None:
                with open(path, "rb") as handle:
                    body = handle.read()
                kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
                if kind.startswith("text/"):
                    kind += "; charset=utf-8"
                return URLFetcherResponse(url, body, {"Content-Type": kind})
        log.warning("report rendering: refused to fetch %.200r", url)
        raise FetchRefused(f"the report may not load {url[:200]!r}")

    def _local_path(self, url: str) -> str | None:
        """The real path of a ``file:`` URL if it is a file inside the root, else None."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        real = os.path.realpath(url2pathname(parts.path))  # decodes %-escapes once
        inside = os.path.commonpath([self.root, real]) == self.root and real != self.root
        return real if inside and os.path.isfile(real) else None


@cache
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, ordinal=ordinal, percent=percent)
    return env


def render_html(data: dict[str, Any], kind: str, *, templates_dir: Path = TEMPLATES_DIR) -> str:
    """Fill the ``kind`` ("client" or "therapist") template with plain report data."""
    if kind not in TEMPLATES:
        raise ValueError(f"kind must be one of {sorted(TEMPLATES)}, not {kind!r}")
    template = _environment(Path(templates_dir).resolve()).get_template(TEMPLATES[kind])
    return template.render(**data)


@dataclass(frozen=True)
class _Loaded:
    fonts: FontConfiguration
    sheets: dict[str, list[weasyprint.CSS]]  # by page size: report.css, then the size
    user_agent: weasyprint.CSS | None  # user-agent.css, or None for WeasyPrint's own


class _Styles(threading.local):
    """Parsed stylesheets and loaded fonts, per thread and templates folder.

    Parsing report.css and loading its three fonts costs some 35 ms per render, so it is
    done once per process (like TEMPLATE_VERSION: restart to pick up a changed stylesheet);
    WeasyPrint objects are not shared between threads.
    """

    def __init__(self) -> None:
        self.by_folder: dict[Path, _Loaded] = {}

    def get(self, folder: Path) -> _Loaded:
        if folder not in self.by_folder:
            fonts = FontConfiguration()
            fetcher = SafeFetcher(folder)
            main = weasyprint.CSS(
                string=(folder / STYLESHEET).read_text(encoding="utf-8"),
                base_url=folder.as_uri() + "/", url_fetcher=fetcher, font_config=fonts,
            )  # fmt: skip
            sheets = {
                name: [main, weasyprint.CSS(string=f"@page {{ size: {size}; }}")]
                for name, size in PAGE_SIZES.items()
            }
            ua_file = folder / USER_AGENT
            user_agent = (
                weasyprint.CSS(string=ua_file.read_text(encoding="utf-8"), url_fetcher=fetcher)
                if ua_file.is_file()
                else None
            )
            self.by_folder[folder] = _Loaded(fonts, sheets, user_agent)
        return self.by_folder[folder]


class _ReportHTML(weasyprint.HTML):  # type: ignore[misc]  # WeasyPrint ships no type information
    """A document laid out with the report's own HTML defaults (``user-agent.css``).

    ``_ua_stylesheets`` is the hook WeasyPrint's own ``HTML`` uses to pick its defaults; it
    is not public API, so WeasyPrint is pinned and ``tests/reports/test_user_agent.py``
    checks the result against WeasyPrint's own defaults.
    """

    def __init__(self, user_agent: weasyprint.CSS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._user_agent = user_agent

    def _ua_stylesheets(self, forms: bool = False) -> list[weasyprint.CSS]:
        return [self._user_agent]


_styles = _Styles()

_gc_lock = threading.Lock()
_gc_pausers = 0


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold off Python's cycle collector while at least one render runs in this process.

    A layout allocates some hundred thousand objects; each time the allocations cross the
    collector's threshold it walks the young objects, and now and then the whole heap (the
    item bank, the models, Flask). That added about a fifth to the median render and most of
    its spread. Reference counting still frees almost everything at once; the few cycles a
    render leaves are collected by the next ordinary collection after the pause. The pause
    is counted, so overlapping renders in a thread pool never turn the collector back on
    under each other, and it is left off if the application had turned it off itself.
    """
    global _gc_pausers
    with _gc_lock:
        paused = _gc_pausers > 0 or gc.isenabled()  # ours to pause, or already paused by us
        if paused:
            gc.disable()
            _gc_pausers += 1
    try:
        yield
    finally:
        if paused:
            with _gc_lock:
                _gc_pausers -= 1
                if _gc_pausers == 0:
                    gc.enable()


def html_to_pdf(
    html: str,
    *,
    page_size: str = "A4",
    templates_dir: Path = TEMPLATES_DIR,
    url_fetcher: SafeFetcher | None = None,
    weasyprint_defaults: bool = False,
) -> bytes:
    """Lay out report HTML as a tagged PDF (PDF/UA-1) on A4 or US Letter pages.

    The HTML gets the folder's ``report.css`` and the page size as stylesheets, over the
    folder's ``user-agent.css`` as HTML defaults (WeasyPrint's own defaults if the folder has
    none, or with ``weasyprint_defaults``, which the tests use for comparison). Anything
    else it refers to is loaded through ``url_fetcher`` (a :class:`SafeFetcher` by default).
    """
    if page_size not in PAGE_SIZES:
        raise ValueError(f"page_size must be one of {sorted(PAGE_SIZES)}, not {page_size!r}")
    folder = Path(templates_dir).resolve()
    fetcher = url_fetcher if url_fetcher is not None else SafeFetcher(folder)
    loaded = _styles.get(folder)
    source = {"string": html, "base_url": folder.as_uri() + "/", "url_fetcher": fetcher}
    with _cyclic_gc_paused():
        if loaded.user_agent is None or weasyprint_defaults:
            document = weasyprint.HTML(**source)
        else:
            document = _ReportHTML(loaded.user_agent, **source)
        pdf: bytes = document.write_pdf(
            stylesheets=loaded.sheets[page_size],
            font_config=loaded.fonts,
            pdf_variant="pdf/ua-1",
            pdf_tags=True,
            presentational_hints=False,
        )
    return pdf


def warm_up(templates_dir: Path = TEMPLATES_DIR) -> None:
    """Parse the stylesheets, load the fonts and lay out one line, so that a process that
    renders reports pays for that once, before its first report."""
    html_to_pdf('<html lang="en"><title>Secure Base</title><p>Secure Base</p></html>',
                templates_dir=templates_dir)  # fmt: skip


def render_pdf(
    data: dict[str, Any], kind: str, page_size: str = "A4", *, templates_dir: Path = TEMPLATES_DIR
) -> bytes:
    """:func:`render_html` then :func:`html_to_pdf`."""
    html = render_html(data, kind, templates_dir=templates_dir)
    return html_to_pdf(html, page_size=page_size, templates_dir=templates_dir)
