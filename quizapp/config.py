"""Every setting in one table: its key, the environment variable that sets it, its default.

The web app, the report workers and the command line all read their settings through
:func:`from_environment`, so a setting means the same thing everywhere. README.md lists every
environment variable of :data:`SETTINGS` (a test compares the two). Plain Python: importing
this module loads nothing but the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_CRISIS_CONTACTS = (
    "Emergency services: your local emergency number "
    "(112 in the EU, 911 in the US and Canada, 999 in the UK)",
    "A crisis line in your country: findahelpline.com lists free, confidential lines",
)


def with_driver(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver (postgres://, postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _flag(text: str) -> bool:
    """1/true/yes/on and 0/false/no/off, in any case; anything else is an error."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected 1 or 0, not {text!r}")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _url(text: str) -> str:
    return text.strip().rstrip("/")


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"expected a whole number of 0 or more, not {text!r}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in ("plain", "json"):
        raise ValueError(f"expected plain or json, not {text!r}")
    return value


# What one network address (or one account, for reset e-mails) may do; every limit of a name
# holds at once. QUIZAPP_RATE_LIMITS replaces any of them (quizapp.web.ratelimits counts).
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "submit": "20/minute;200/hour",  # answers sent: each is stored and costs a PDF render
    "lookup": "120/minute;2000/hour",  # pages opened with a receipt code or a link's token
    "lookup-miss": "20/minute;100/hour",  # ... that named nothing (a 404): guessing
    "sign-up": "5/hour;20/day",
    "sign-in": "30/minute;300/hour",  # attempts, right or wrong: each costs an argon2 hash
    "reset": "5/hour;20/day",  # reset requests from one address
    "reset-account": "3/hour;10/day",  # reset e-mails to one account, from anywhere
    "invite-mail": "20/hour;100/day",  # invitation e-mails sent by one therapist
    "webhook-test": "10/hour;50/day",  # test events sent by one therapist
}
_RATE = re.compile(r"[1-9][0-9]*/(second|minute|hour|day)")


def _rate_limits(text: str) -> dict[str, str] | None:
    """``off``, or space-separated ``name=limits`` entries (``submit=60/minute;600/hour``)
    that replace those defaults."""
    if text.strip().lower() in ("off", "0", "no", "false"):
        return None
    limits = dict(DEFAULT_RATE_LIMITS)
    for entry in text.split():
        name, _, value = entry.partition("=")
        if name not in limits:
            raise ValueError(f"unknown limit {name!r}; the limits are {', '.join(limits)}")
        if not all(_RATE.fullmatch(part) for part in value.split(";")):
            raise ValueError(f"{entry!r}: expected limits such as 20/minute;200/hour")
        limits[name] = value
    return limits


@dataclass(frozen=True)
class Setting:
    """One setting: ``key`` in the config mapping, set by the environment variable ``env``.

    ``default`` is a value, or a function of the instance folder (for files kept there);
    ``parse`` turns the variable's text into the value.
    """

    key: str
    env: str
    default: Any
    parse: Callable[[str], Any] = str
    meaning: str = ""

    def default_for(self, instance: Path) -> Any:
        return self.default(instance) if callable(self.default) else self.default


def _secret_key_file(instance: Path) -> str | None:
    path = instance / "secret_key"
    return path.read_text().strip() or None if path.exists() else None


SETTINGS: tuple[Setting, ...] = (
    Setting("INSTANCE_DIR", "QUIZAPP_INSTANCE_DIR", str(REPO_ROOT / "instance"), str,
            "folder for the SQLite database, the secret key file and the mail outbox"),
    Setting("DATABASE_URL", "DATABASE_URL",
            lambda instance: f"sqlite:///{instance / 'quizapp.db'}", with_driver,
            "e.g. postgresql+psycopg://user@host/db"),
    Setting("SECRET_KEY", "QUIZAPP_SECRET_KEY", _secret_key_file, str,
            "signs sessions and seals two-factor secrets; default: the file secret_key in the "
            "instance folder. The app and the workers refuse to start without one"),
    Setting("SECRET_KEY_FALLBACKS", "QUIZAPP_SECRET_KEY_FALLBACKS", [], lambda t: t.split(),
            "earlier secret keys, space-separated, while a new one takes over: sessions "
            "signed and two-factor secrets sealed with them still work until quizapp keys "
            "reseal has sealed everything again (docs/operations.md)"),
    Setting("BASE_URL", "QUIZAPP_BASE_URL", "http://127.0.0.1:5000", _url,
            "the public address: every link that leaves a request (e-mail, invitation, PDF, "
            "FHIR) starts with it, and requests for other host names get 400. The web app "
            "refuses to start without it, except in debug mode (scripts/run sets it)"),
    Setting("PROXY_HOPS", "QUIZAPP_PROXY_HOPS", 0, _count,
            "how many reverse proxies in front of the web server to trust: each one's "
            "X-Forwarded-For and X-Forwarded-Proto entry is believed, nothing a client wrote"),
    Setting("LOG_FORMAT", "QUIZAPP_LOG_FORMAT", "plain", _log_format,
            "plain: one text line per record; json: one JSON object per line. Receipt codes, "
            "link tokens and e-mail addresses are masked in both"),
    Setting("RATE_LIMITS", "QUIZAPP_RATE_LIMITS", dict(DEFAULT_RATE_LIMITS), _rate_limits,
            "off, or limits that replace the defaults, such as submit=60/minute;600/hour "
            "(names: " + ", ".join(DEFAULT_RATE_LIMITS) + "); README lists the defaults"),
    Setting("RATELIMIT_STORAGE", "QUIZAPP_RATELIMIT_STORAGE", "memory://", str.strip,
            "where the limits count: memory:// (each worker its own counts) or a Redis URL "
            "such as redis://127.0.0.1:6379/2 (every worker and host shares them)"),
    Setting("EXTRA_HOSTS", "QUIZAPP_TRUSTED_HOSTS", [], lambda t: t.replace(",", " ").split(),
            "further host names the web app answers to (a load balancer's health check)"),
    Setting("SESSION_COOKIE_SECURE", "QUIZAPP_INSECURE_COOKIES", True,
            lambda text: not _flag(text),
            "1 allows the session cookie over plain http (scripts/run sets it for 127.0.0.1)"),
    Setting("SESSION_IDLE_MINUTES", "QUIZAPP_SESSION_IDLE_MINUTES", 30, _positive,
            "a therapist is signed out after this many minutes without a request"),
    Setting("ITEMS_DIR", "QUIZAPP_ITEMS_DIR", str(REPO_ROOT / "items"), str,
            "the instrument files"),
    Setting("DEFAULT_INSTRUMENT", "QUIZAPP_DEFAULT_INSTRUMENT", "quick", str,
            "the instrument the landing page offers"),
    Setting("CONTENT_DIR", "QUIZAPP_CONTENT_DIR", str(REPO_ROOT / "content"), str,
            "what the results say: triggers, strengths, healing steps, advice"),
    Setting("RULES_FILE", "QUIZAPP_RULES_FILE", str(REPO_ROOT / "rules" / "interpretation.toml"),
            str, "the interpretation rule table"),
    Setting("MODELS_DIR", "QUIZAPP_MODELS_DIR", str(REPO_ROOT / "models"), str,
            "the trained scikit-learn models and their cards"),
    Setting("THERAPIST_CONTENT", "QUIZAPP_THERAPIST_CONTENT",
            str(REPO_ROOT / "content" / "therapist.toml"), str,
            "the therapist report's session approaches"),
    Setting("CONSENT_FILE", "QUIZAPP_CONSENT_FILE", str(REPO_ROOT / "content" / "consent.toml"),
            str, "what an invited client is told is shared, and with whom"),
    Setting("REPORT_TEMPLATES_DIR", "QUIZAPP_REPORT_TEMPLATES_DIR",
            str(REPO_ROOT / "report_templates"), str,
            "the PDF report templates, stylesheet and fonts"),
    Setting("CALIBRATION_CSV", "QUIZAPP_CALIBRATION_CSV",
            str(REPO_ROOT.parent / "shared" / "data" / "ecr" / "calibration.csv"), str,
            "ECR data for the calibration and model commands and the tests"),
    Setting("REPORT_PRERENDER", "QUIZAPP_REPORT_PRERENDER", True, _flag,
            "1 renders the client report right after each submission; 0 on the first download"),
    Setting("CELERY_BROKER_URL", "QUIZAPP_CELERY_BROKER_URL", None, lambda t: t.strip() or None,
            "render PDFs on Celery workers through this broker (Redis) instead of the "
            "renderer processes polling the database"),
    Setting("WEBHOOK_ALLOW_PRIVATE", "QUIZAPP_WEBHOOK_ALLOW_PRIVATE", False, _flag,
            "1 lets webhook endpoints use plain http and private, loopback or link-local "
            "addresses: for tests and development only, never on a public service"),
    Setting("RETENTION_DAYS", "QUIZAPP_RETENTION_DAYS", 365, _positive,
            "days an anonymous result (answers, analysis, PDFs) is kept after it was finished; "
            "then the purge deletes it (clients' results stay until their therapist deletes "
            "them)"),
    Setting("AUDIT_RETENTION_DAYS", "QUIZAPP_AUDIT_RETENTION_DAYS", 730, _positive,
            "days an audit entry is kept"),
    Setting("CRISIS_CONTACTS", "QUIZAPP_CRISIS_CONTACTS", list(DEFAULT_CRISIS_CONTACTS), _lines,
            "crisis contacts shown with every result, one per line"),
    Setting("MAIL_SMTP_HOST", "QUIZAPP_SMTP_HOST", None, lambda t: t.strip() or None,
            "send e-mail through this SMTP server"),
    Setting("MAIL_SMTP_PORT", "QUIZAPP_SMTP_PORT", 587, _positive, "its port"),
    Setting("MAIL_SMTP_STARTTLS", "QUIZAPP_SMTP_STARTTLS", True, _flag,
            "1 switches to TLS with STARTTLS"),
    Setting("MAIL_SMTP_USER", "QUIZAPP_SMTP_USER", None, lambda t: t or None,
            "user name for the SMTP server"),
    Setting("MAIL_SMTP_PASSWORD", "QUIZAPP_SMTP_PASSWORD", "", str, "its password"),
    Setting("MAIL_OUTBOX", "QUIZAPP_MAIL_OUTBOX", lambda instance: str(instance / "outbox"), str,
            "where e-mail goes as .eml files when no SMTP server is set"),
    Setting("MAIL_FROM", "QUIZAPP_MAIL_FROM", "Secure Base <no-reply@secure-base.local>", str,
            "sender address"),
)  # fmt: skip

# Fixed Flask settings (not deployment choices); tests may override them.
FLASK_DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 64 * 1024,  # a full 36-item post is under 3 KiB
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "sb_session",
    "TEMPLATES_AUTO_RELOAD": False,
    "SIGN_IN_THROTTLE": None,  # None: the therapists.accounts.Throttle defaults; tests pass others
    "ARGON2": None,  # None: argon2-cffi's defaults (argon2id); tests pass lighter parameters
}


class SettingError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting of :data:`SETTINGS`: from its environment variable, else its default.

    A variable that is unset or empty (``QUIZAPP_CRISIS_CONTACTS=`` in a unit file) takes the
    default. Files kept in the instance folder (the SQLite database, the secret key, the
    outbox) default to the folder that ``QUIZAPP_INSTANCE_DIR`` names.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        text = env.get(setting.env)
        if text is None or not text.strip():
            instance = Path(values.get("INSTANCE_DIR", REPO_ROOT / "instance"))
            values[setting.key] = setting.default_for(instance)
            continue
        try:
            values[setting.key] = setting.parse(text)
        except ValueError as exc:
            raise SettingError(f"{setting.env}: {exc}") from exc
    return values


def defaults(instance_dir: str | Path | None = None) -> dict[str, Any]:
    """Every setting at its default, with the fixed Flask settings: what tests start from.

    The secret key is left out (None): a test gives its own, and never picks up the key file
    of a deployment. Files kept in the instance folder follow ``instance_dir`` when given.
    """
    environ = {"QUIZAPP_INSTANCE_DIR": str(instance_dir)} if instance_dir is not None else {}
    return {**from_environment(environ), "SECRET_KEY": None, **FLASK_DEFAULTS}
