"""What a report can be: its kinds, its page sizes, its templates folder and their version.

Defined here once and used by the renderer, the report pipeline, the tables' constraints,
the web routes and the command line. Light: importing it loads no WeasyPrint.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

KINDS = ("client", "therapist")
# Stored and displayed name -> the CSS ``@page`` size WeasyPrint lays the pages out on.
PAGE_SIZES = {"A4": "A4", "Letter": "letter"}
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "report_templates"


def page_size(name: str) -> str | None:
    """The page size a person asked for (``a4``, ``Letter``...), or None if there is none."""
    return next((size for size in PAGE_SIZES if size.lower() == name.strip().lower()), None)


def template_version(templates_dir: Path = TEMPLATES_DIR) -> str:
    """A short hash of every file under the templates folder and the WeasyPrint version."""
    folder = Path(templates_dir)
    digest = hashlib.sha256(f"weasyprint {version('weasyprint')}\n".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]
