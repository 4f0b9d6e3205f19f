"""Configuration: defaults here, overridden by QUIZAPP_* / DATABASE_URL environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def from_environment(instance_path: str) -> dict[str, Any]:
    """Settings for a real deployment; the secret key has no default (see secret_key)."""
    database = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'quizapp.db'}"
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return {
        "DATABASE_URL": with_driver(database),
        "ITEMS_DIR": os.environ.get("QUIZAPP_ITEMS_DIR", str(REPO_ROOT / "items")),
        "CONTENT_DIR": os.environ.get("QUIZAPP_CONTENT_DIR", str(REPO_ROOT / "content")),
        "RULES_FILE": os.environ.get(
            "QUIZAPP_RULES_FILE", str(REPO_ROOT / "rules" / "interpretation.toml")
        ),
        "MODELS_DIR": os.environ.get("QUIZAPP_MODELS_DIR", str(REPO_ROOT / "models")),
        "BASE_URL": os.environ.get("QUIZAPP_BASE_URL", DEFAULTS["BASE_URL"]).rstrip("/"),
        "DEFAULT_INSTRUMENT": os.environ.get("QUIZAPP_DEFAULT_INSTRUMENT", "quick"),
        "SECRET_KEY": secret_key(instance_path),
        "SESSION_COOKIE_SECURE": os.environ.get("QUIZAPP_INSECURE_COOKIES") != "1",
        **crisis_contacts(),
    }


def with_driver(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver (postgres://, postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def crisis_contacts() -> dict[str, Any]:
    text = os.environ.get("QUIZAPP_CRISIS_CONTACTS", "").strip()
    return (
        {"CRISIS_CONTACTS": [line.strip() for line in text.splitlines() if line.strip()]}
        if text
        else {}
    )


def secret_key(instance_path: str) -> str | None:
    """QUIZAPP_SECRET_KEY, else the key file in the instance folder (scripts/run makes one)."""
    if key := os.environ.get("QUIZAPP_SECRET_KEY"):
        return key
    path = Path(instance_path) / "secret_key"
    return path.read_text().strip() if path.exists() else None


DEFAULTS: dict[str, Any] = {
    "BASE_URL": "http://127.0.0.1:5000",  # absolute links in PDF reports
    "THERAPIST_CONTENT": str(REPO_ROOT / "content" / "therapist.toml"),
    "REPORT_TEMPLATES_DIR": str(REPO_ROOT / "report_templates"),
    "REPORT_PRERENDER": True,  # render the client report right after each submission
    "REPORTS_INLINE": False,  # True: render in the request (tests); False: in a thread pool
    "REPORT_WORKERS": 1,
    "CONTENT_DIR": str(REPO_ROOT / "content"),
    "RULES_FILE": str(REPO_ROOT / "rules" / "interpretation.toml"),
    "MODELS_DIR": str(REPO_ROOT / "models"),
    # Shown with every result and report; a deployment sets its own (QUIZAPP_CRISIS_CONTACTS,
    # one "name: how to reach" per line).
    "CRISIS_CONTACTS": [
        "Emergency services: your local emergency number "
        "(112 in the EU, 911 in the US and Canada, 999 in the UK)",
        "A crisis line in your country: findahelpline.com lists free, confidential lines",
    ],
    "MAX_CONTENT_LENGTH": 64 * 1024,  # a full 36-item post is under 3 KiB
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "sb_session",
    "TEMPLATES_AUTO_RELOAD": False,
}
