"""Configuration: defaults here, overridden by QUIZAPP_* / DATABASE_URL environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .accounts import Throttle

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
        "CELERY_BROKER_URL": os.environ.get("QUIZAPP_CELERY_BROKER_URL") or None,
        "MAIL_OUTBOX": os.environ.get("QUIZAPP_MAIL_OUTBOX", str(Path(instance_path) / "outbox")),
        "MAIL_FROM": os.environ.get("QUIZAPP_MAIL_FROM", DEFAULTS["MAIL_FROM"]),
        "MAIL_SMTP_HOST": os.environ.get("QUIZAPP_SMTP_HOST") or None,
        "MAIL_SMTP_PORT": int(os.environ.get("QUIZAPP_SMTP_PORT") or 587),
        "MAIL_SMTP_STARTTLS": os.environ.get("QUIZAPP_SMTP_STARTTLS", "1") == "1",
        "MAIL_SMTP_USER": os.environ.get("QUIZAPP_SMTP_USER") or None,
        "MAIL_SMTP_PASSWORD": os.environ.get("QUIZAPP_SMTP_PASSWORD", ""),
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
    "CELERY_BROKER_URL": None,  # e.g. redis://127.0.0.1:6379/0: render on Celery workers
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
    # Therapist accounts
    "CONSENT_FILE": str(REPO_ROOT / "content" / "consent.toml"),
    "SESSION_IDLE_MINUTES": 30,
    "SIGN_IN_THROTTLE": Throttle(),
    "ARGON2": None,  # None: argon2-cffi's defaults (argon2id); tests pass lighter parameters
    "MAIL_FROM": "Secure Base <no-reply@secure-base.local>",
    "MAIL_OUTBOX": None,  # None: <instance folder>/outbox
    "MAIL_SMTP_HOST": None,
    "MAIL_SMTP_PORT": 587,
    "MAIL_SMTP_STARTTLS": True,
}
