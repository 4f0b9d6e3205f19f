"""Settings: one table in quizapp/config.py, every entry settable from the environment, and
README.md's tables listing exactly those variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from quizapp import config
from quizapp.app import create_app
from quizapp.config import SETTINGS, Setting, SettingError, from_environment, with_driver

REPO = Path(__file__).resolve().parents[1]


README = (REPO / "README.md").read_text(encoding="utf-8")


def documented(text: str = README) -> set[str]:
    """Every variable named in the first column of a table row of the README."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_the_readme_lists_every_setting_and_nothing_else() -> None:
    settable = {setting.env for setting in SETTINGS}
    assert documented() - settable == set(), "documented, but nothing reads them"
    assert settable - documented() == set(), "read from the environment, but not documented"


def test_a_missing_row_is_noticed() -> None:
    # The rows an earlier README lacked: the base URL of every PDF link, and the idle time.
    for name in ("QUIZAPP_BASE_URL", "QUIZAPP_SESSION_IDLE_MINUTES"):
        without = "\n".join(line for line in README.splitlines() if f"| `{name}`" not in line)
        assert name in documented() and name not in documented(without)


def sample(setting: Setting) -> tuple[str, Any]:
    """A value for the setting's variable that differs from its default, and what it means."""
    default = setting.default_for(Path("/nonexistent"))
    if isinstance(default, bool):
        text = "0" if setting.parse("0") != default else "1"
    elif isinstance(default, int):
        text = str(default + 7)
    elif isinstance(default, list):
        text = "Line one: 000\nLine two: 111"
    elif setting.key == "DATABASE_URL":
        text = "postgresql://someone@db.example/quiz"
    elif setting.key == "BASE_URL":
        text = "https://quiz.example.org/"
    elif setting.key == "LOG_FORMAT":
        text = "json"
    elif setting.key == "RATE_LIMITS":
        text = "submit=60/minute;600/hour sign-in=10/minute"
    elif setting.key == "RATELIMIT_STORAGE":
        text = "redis://127.0.0.1:6379/2"
    else:
        text = f"/elsewhere/{setting.key.lower()}"
    return text, setting.parse(text)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_read_from_its_variable(setting: Setting) -> None:
    text, expected = sample(setting)
    values = from_environment({setting.env: text})
    assert values[setting.key] == expected
    assert values[setting.key] != from_environment({})[setting.key] or setting.key == "SECRET_KEY"


def test_values_are_parsed_to_what_they_mean() -> None:
    values = from_environment({
        "QUIZAPP_INSECURE_COOKIES": "1", "QUIZAPP_SESSION_IDLE_MINUTES": "5",
        "QUIZAPP_BASE_URL": "https://quiz.example.org/", "QUIZAPP_REPORT_PRERENDER": "off",
        "QUIZAPP_CRISIS_CONTACTS": "  Line A: 1\n\n Line B: 2 \n", "DATABASE_URL": "postgres://u@h/d",
        "QUIZAPP_INSTANCE_DIR": "/srv/quiz",
    })  # fmt: skip
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SESSION_IDLE_MINUTES"] == 5
    assert values["BASE_URL"] == "https://quiz.example.org"
    assert values["REPORT_PRERENDER"] is False
    assert values["CRISIS_CONTACTS"] == ["Line A: 1", "Line B: 2"]
    assert values["DATABASE_URL"] == "postgresql+psycopg://u@h/d"
    assert values["MAIL_OUTBOX"] == "/srv/quiz/outbox", "instance files follow the instance folder"
    assert from_environment({"QUIZAPP_INSTANCE_DIR": "/srv/quiz"})["DATABASE_URL"] == (
        "sqlite:////srv/quiz/quizapp.db"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("QUIZAPP_SESSION_IDLE_MINUTES", "half an hour"), ("QUIZAPP_SESSION_IDLE_MINUTES", "0"),
     ("QUIZAPP_INSECURE_COOKIES", "maybe"),
     ("QUIZAPP_SMTP_PORT", "smtp")],
)  # fmt: skip
def test_a_malformed_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingError, match=variable):
        from_environment({variable: value})


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_an_empty_variable_means_the_default(setting: Setting, tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("from-the-file\n")
    instance = {"QUIZAPP_INSTANCE_DIR": str(tmp_path)} if setting.key != "INSTANCE_DIR" else {}
    for empty in ("", "  "):
        values = from_environment({**instance, setting.env: empty})
        assert values[setting.key] == from_environment(instance)[setting.key]
    crisis = from_environment({"QUIZAPP_CRISIS_CONTACTS": ""})["CRISIS_CONTACTS"]
    assert crisis == list(config.DEFAULT_CRISIS_CONTACTS), "never no crisis contacts at all"


def test_test_settings_never_take_a_deployment_key(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("the deployment's key\n")
    values = config.defaults(tmp_path)
    assert values["SECRET_KEY"] is None
    assert values["DATABASE_URL"] == f"sqlite:///{tmp_path / 'quizapp.db'}"
    assert values["MAIL_OUTBOX"] == str(tmp_path / "outbox")


def test_the_secret_key_comes_from_the_instance_folder(tmp_path: Path) -> None:
    assert from_environment({"QUIZAPP_INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"] is None
    (tmp_path / "secret_key").write_text("from-the-file\n")
    assert from_environment({"QUIZAPP_INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"] == (
        "from-the-file"
    )
    both = {"QUIZAPP_INSTANCE_DIR": str(tmp_path), "QUIZAPP_SECRET_KEY": "from-env"}
    assert from_environment(both)["SECRET_KEY"] == "from-env"


def test_the_app_takes_its_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("QUIZAPP_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("QUIZAPP_SECRET_KEY", "s3cret")
    monkeypatch.setenv("QUIZAPP_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("QUIZAPP_BASE_URL", "https://quiz.example.org/")
    monkeypatch.setenv("QUIZAPP_REPORT_PRERENDER", "0")
    app = create_app()
    assert app.instance_path == str((tmp_path / "instance").resolve())
    assert (tmp_path / "instance").is_dir()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'quizapp.db'}"
    assert app.config["SESSION_IDLE_MINUTES"] == 5
    assert app.extensions["pipeline"].base_url == "https://quiz.example.org"
    assert app.config["REPORT_PRERENDER"] is False
    app.extensions["database"].dispose()


def test_defaults_hold_the_fixed_flask_settings() -> None:
    values = config.defaults()
    assert values["SESSION_COOKIE_HTTPONLY"] is True and values["MAX_CONTENT_LENGTH"] == 65536
    assert {s.key for s in SETTINGS} <= set(values)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, used: str) -> None:
    assert with_driver(given) == used
